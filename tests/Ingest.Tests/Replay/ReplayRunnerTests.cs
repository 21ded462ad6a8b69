using Microsoft.Extensions.Time.Testing;
using StreamLstm.Ingest.Generators;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Ingest.Replay;
using StreamLstm.Ingest.Tests.Generators;

namespace StreamLstm.Ingest.Tests.Replay;

public class ReplayRunnerTests
{
    [Fact]
    public async Task Replay_AsFastAsPossible_DeliversEveryRecordToKafka()
    {
        using var d = new TestData.Fixture();
        var lines = Enumerable.Range(0, 500).Select(i => $"20110103 {9 + (i / 60):D2}{i % 60:D2}00;1;1;1;{100 + (i * 0.01):F2};{100 + i}");
        d.Write(MarketReaders.SpyFile, string.Join('\n', lines) + "\n");
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("ticks", partitions: 3);
        using var producer = new KafkaEventProducer(kafka.BootstrapServers);
        var report = await ReplayRunner.RunAsync(MarketReaders.ReadSpyMinuteBars(d.Root), producer, "ticks", speed: 0, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(500, report.Produced);
        Assert.Equal(500, report.Delivered);
        var messages = KafkaTestConsumer.ReadExactly(kafka.BootstrapServers, "ticks", 500, "consume replayed SPY bars");
        Assert.All(messages, m => Assert.Equal("SPY", m.Message.Key));
        Assert.Equal(MarketReaders.ReadSpyMinuteBars(d.Root).Select(r => r.ValueText), messages.OrderBy(m => m.Offset.Value).Select(m => m.Message.Value));
    }

    [Fact]
    public async Task Replay_RealVitals_EndToEndThroughEmbeddedKafka()
    {
        Assert.SkipUnless(TestData.Directory is not null, "../shared/data not found");
        var records = VitalsReader.Read(TestData.Directory!);
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("vitals", partitions: 4);
        using var producer = new KafkaEventProducer(kafka.BootstrapServers);
        var report = await ReplayRunner.RunAsync(records, producer, "vitals", speed: 0, limit: 5_000, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(5_000, report.Delivered);
        var messages = KafkaTestConsumer.ReadExactly(kafka.BootstrapServers, "vitals", 5_000, "consume replayed vitals");
        // Per patient, events arrive in time order.
        foreach (var patient in messages.GroupBy(m => m.Message.Key))
        {
            var ts = patient.OrderBy(m => m.Offset.Value).Select(m => System.Text.Json.JsonDocument.Parse(m.Message.Value).RootElement.GetProperty("ts").GetInt64()).ToList();
            Assert.Equal(ts.Order(), ts);
        }
    }

    [Fact]
    public async Task Replay_KeepsOriginalGapsDividedBySpeed_OnTheInjectedClock()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("ticks", partitions: 1);
        using var producer = new KafkaEventProducer(kafka.BootstrapServers);
        var clock = new FakeTimeProvider();
        var buffer = new byte[EventJson.MaxEventBytes];
        ReplayRecord Tick(long ts) => new("X", ts, buffer[..EventJson.WriteTick(buffer, "X"u8, ts, 1, 1, double.NaN, double.NaN)]);
        // Original gaps 10 s and 30 s; at speed 10 they become 1 s and 3 s.
        var run = ReplayRunner.RunAsync([Tick(0), Tick(10_000), Tick(40_000)], producer, "ticks", speed: 10, time: clock, cancellationToken: TestContext.Current.CancellationToken);
        static long Allowed(TimeSpan e) => e < TimeSpan.FromSeconds(1) ? 1 : e < TimeSpan.FromSeconds(4) ? 2 : 3;
        var took = await KafkaTestConsumer.DriveClock(clock, run, () => producer.Produced, Allowed, TimeSpan.FromMilliseconds(50), "paced replay");
        var report = await run;
        Assert.Equal(3, report.Delivered);
        Assert.True(took >= TimeSpan.FromSeconds(4), $"replay at speed 10 of a 40 s span took only {took}");
    }
}
