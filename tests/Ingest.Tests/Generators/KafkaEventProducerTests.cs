using Microsoft.Extensions.Time.Testing;
using StreamLstm.Ingest.Generators;
using StreamLstm.Ingest.Kafka;
using static StreamLstm.Ingest.Tests.Generators.GeneratorTestKit;

namespace StreamLstm.Ingest.Tests.Generators;

public class KafkaEventProducerTests
{
    [Fact]
    public async Task ProduceAsync_WritesEveryEventKeyedByEntity_InPerKeyOrder()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("vitals", partitions: 4);
        var generator = new VitalsGenerator(new VitalsGeneratorOptions { Keys = 25, Seed = 12, TachycardiaPerHour = 60 });
        using var producer = new KafkaEventProducer(kafka.BootstrapServers);
        var report = await producer.ProduceAsync(generator, "vitals", 3_000, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(3_000, report.Produced);
        Assert.Equal(3_000, report.Delivered);
        Assert.Equal(0, report.Failed);
        Assert.True(report.Anomalies > 0);

        var messages = KafkaTestConsumer.ReadExactly(kafka.BootstrapServers, "vitals", 3_000, "consume generated vitals");
        var expected = Take(new VitalsGenerator(new VitalsGeneratorOptions { Keys = 25, Seed = 12, TachycardiaPerHour = 60 }), 3_000);
        // Each key's messages arrive in generation order with the same bytes (one key -> one partition).
        foreach (var group in messages.GroupBy(m => m.Message.Key))
        {
            var want = expected.Where(e => e.Key == group.Key).Select(e => System.Text.Encoding.UTF8.GetString(e.Json));
            Assert.Equal(want, group.OrderBy(m => m.Offset.Value).Select(m => m.Message.Value));
            Assert.Single(group.Select(m => m.Partition.Value).Distinct());
        }

        Assert.Equal(25, messages.Select(m => m.Message.Key).Distinct().Count());
    }

    [Fact]
    public async Task ProduceAsync_AtARate_IsPacedByTheInjectedClock()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("ticks", partitions: 1);
        var clock = new FakeTimeProvider();
        using var producer = new KafkaEventProducer(kafka.BootstrapServers);
        var run = producer.ProduceAsync(new TickGenerator(new TickGeneratorOptions { Keys = 3 }), "ticks", 20, eventsPerSecond: 10, time: clock, cancellationToken: TestContext.Current.CancellationToken);
        await KafkaTestConsumer.WaitUntil(() => producer.Produced == 1, "first event goes out at once");
        for (var i = 1; i < 20; i++)
        {
            // Nothing more may go out until the clock reaches the next 100 ms slot.
            Assert.Equal(i, producer.Produced);
            clock.Advance(TimeSpan.FromMilliseconds(100));
            await KafkaTestConsumer.WaitUntil(() => producer.Produced == i + 1, $"event {i} after advancing the clock");
        }

        var report = await run;
        Assert.Equal(20, report.Delivered);
        Assert.Equal(TimeSpan.FromMilliseconds(1_900), report.Elapsed);
    }
}
