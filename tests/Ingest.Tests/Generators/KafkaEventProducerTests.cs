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
        // Event i may leave no earlier than i x 100 ms on the fake clock.
        var took = await KafkaTestConsumer.DriveClock(clock, run, () => producer.Produced, e => 1 + (long)(e.TotalMilliseconds / 100), TimeSpan.FromMilliseconds(10), "paced produce");
        var report = await run;
        Assert.Equal(20, report.Produced);
        Assert.Equal(20, report.Delivered);
        Assert.True(took >= TimeSpan.FromMilliseconds(1_900), $"20 events at 10/s took only {took}");
        Assert.True(report.Elapsed >= TimeSpan.FromMilliseconds(1_900));
    }

    [Fact]
    public async Task AnomalyHeaders_CarryTheLabelOfExactlyTheAnomalousEvents()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("ticks", partitions: 2);
        var options = new TickGeneratorOptions { Keys = 10, Seed = 3, JumpProbability = 0.05 };
        using var producer = new KafkaEventProducer(kafka.BootstrapServers) { AnomalyHeaders = true };
        await producer.ProduceAsync(new TickGenerator(options), "ticks", 2_000, cancellationToken: TestContext.Current.CancellationToken);
        var expected = Take(new TickGenerator(options), 2_000).ToDictionary(e => System.Text.Encoding.UTF8.GetString(e.Json), e => e.Info.Anomaly);
        Assert.Contains(expected.Values, a => a == AnomalyKind.PriceJump);

        var messages = KafkaTestConsumer.ReadExactly(kafka.BootstrapServers, "ticks", 2_000, "consume labelled ticks");
        foreach (var m in messages)
        {
            var want = expected[m.Message.Value];
            var has = m.Message.Headers.TryGetLastBytes(KafkaEventProducer.AnomalyHeaderName, out var label);
            Assert.Equal(want != AnomalyKind.None, has);
            if (has)
            {
                Assert.Equal(want.ToLabel(), System.Text.Encoding.UTF8.GetString(label));
            }
        }
    }
}
