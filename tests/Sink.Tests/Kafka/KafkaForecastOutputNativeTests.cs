using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Kafka;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Kafka;

/// <summary>The native produce path against the client one (the shared behaviour is covered by the other output classes, run on both paths).</summary>
public class KafkaForecastOutputNativeTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(ForecastFormat.Json)]
    [InlineData(ForecastFormat.Binary)]
    public async Task NativePath_WritesTheClientPathsMessages_ByteForByte(ForecastFormat format)
    {
        var ct = TestContext.Current.CancellationToken;
        KafkaNative.EnsureLoaded();
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("client", partitions: 1);
        kafka.CreateTopic("native", partitions: 1);
        var batches = new[]
        {
            Batches.Make(SourceKind.Tick, ["a", "b", "c"], 300, 0, 1_700_000_000_000),
            Batches.Make(SourceKind.Vitals, ["p-1", "p-\u00e9"], 101, 7, 1_700_000_100_000, horizons: 5),
            Batches.Make(SourceKind.Audio, ["s"], 1, 0, 1_700_000_200_000),
        };
        batches[1].Observed[3] = double.NaN;
        foreach (var path in new[] { ForecastProducePath.Client, ForecastProducePath.Native })
        {
            using var output = new KafkaForecastOutput(new KafkaForecastOutputOptions { BootstrapServers = kafka.BootstrapServers, Topic = path == ForecastProducePath.Client ? "client" : "native", Format = format, ProducePath = path }, new TestLogger<KafkaForecastOutput>(new TestLogger()));
            foreach (var b in batches) await output.WriteAsync(b, ct);
            await Wait.ForAsync(output.FlushAsync(ct).AsTask(), Phase, $"flush ({path})");
            Assert.Equal(402, output.Delivered);
        }

        var client = Read(kafka, "client", 402);
        var native = Read(kafka, "native", 402);
        for (var i = 0; i < client.Count; i++)
        {
            Assert.True(client[i].Key.AsSpan().SequenceEqual(native[i].Key), $"key of message {i} differs");
            Assert.True(client[i].Value.AsSpan().SequenceEqual(native[i].Value), $"value of message {i} differs");
            Assert.Equal(client[i].Headers, native[i].Headers);
        }
    }

    [Fact]
    public async Task FlushAsync_ReturnsOnlyOnceEveryRowWrittenBeforeItIsAcknowledged()
    {
        var ct = TestContext.Current.CancellationToken;
        KafkaNative.EnsureLoaded();
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("forecasts", partitions: 3);
        using var output = new KafkaForecastOutput(new KafkaForecastOutputOptions { BootstrapServers = kafka.BootstrapServers, Topic = "forecasts", ProducePath = ForecastProducePath.Native, Linger = TimeSpan.FromMilliseconds(50) }, new TestLogger<KafkaForecastOutput>(new TestLogger()));
        for (var i = 0; i < 5; i++) await output.WriteAsync(Batches.Make(SourceKind.Tick, ["a", "b", "c", "d"], 1000, i * 1000, 1_700_000_000_000), ct);
        await Wait.ForAsync(output.FlushAsync(ct).AsTask(), Phase, "flush");
        Assert.Equal(5000, output.Produced);
        Assert.Equal(5000, output.Delivered);
        Assert.Equal(0, output.FailedDeliveries);
    }

    [Fact]
    public async Task Dispose_WithRowsThatCannotBeDelivered_GivesThemUpAndReturns()
    {
        // The topic refuses every produce and messages would wait minutes: dispose flushes (bounded), purges the rest and
        // destroys the handle instead of hanging; the purged rows are given up (their offsets held back), not lost silently.
        var ct = TestContext.Current.CancellationToken;
        KafkaNative.EnsureLoaded();
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("forecasts", partitions: 1);
        kafka.SetTopicError("forecasts", ErrorCode.TopicAuthorizationFailed);
        var failures = new DeliveryFailures();
        var output = new KafkaForecastOutput(new KafkaForecastOutputOptions
        {
            BootstrapServers = kafka.BootstrapServers,
            Topic = "forecasts",
            ProducePath = ForecastProducePath.Native,
            Extra = { ["message.timeout.ms"] = "600000" },
        }, new TestLogger<KafkaForecastOutput>(new TestLogger()), failures);
        var batch = Batches.Make(SourceKind.Tick, ["a"], 5, 0, 1_700_000_000_000);
        for (var r = 0; r < batch.Count; r++) batch.Offsets[r] = 10 + r;
        await output.WriteAsync(batch, ct);
        await Wait.ForAsync(Task.Run(output.Dispose, ct), Phase, "dispose with undeliverable rows in the queue");
        output.Dispose();
        Assert.Equal(5, output.FailedDeliveries);
        Assert.Equal(0, output.Delivered);
        Assert.Equal(5, failures.Count);
    }

    [Fact]
    public void NativePath_UnderExactlyOnce_IsRefusedAtConstruction()
    {
        KafkaNative.EnsureLoaded();
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        using var shared = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers }).Build();
        var ex = Assert.Throws<InvalidOperationException>(() => new KafkaForecastOutput(new KafkaForecastOutputOptions { BootstrapServers = kafka.BootstrapServers, ProducePath = ForecastProducePath.Native, SharedProducer = shared.Handle }, new TestLogger<KafkaForecastOutput>(new TestLogger())));
        Assert.Contains("exactly-once", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NativePath_RefusesAnInvalidSetting_NamingIt()
    {
        KafkaNative.EnsureLoaded();
        var ex = Assert.Throws<ArgumentException>(() => new KafkaForecastOutput(new KafkaForecastOutputOptions { BootstrapServers = "localhost:1", ProducePath = ForecastProducePath.Native, Extra = { ["linger.ms"] = "soon" } }, new TestLogger<KafkaForecastOutput>(new TestLogger())));
        Assert.Contains("linger.ms", ex.Message, StringComparison.Ordinal);
    }

    private static List<(byte[] Key, byte[] Value, string Headers)> Read(EmbeddedKafka kafka, string topic, int count)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "check-" + topic, AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        consumer.Subscribe(topic);
        var seen = new List<(byte[] Key, byte[] Value, string Headers)>();
        var deadline = DateTime.UtcNow + Phase;
        while (seen.Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out reading {count} messages from {topic} (phase: read back, got {seen.Count})");
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } r)
            {
                seen.Add((r.Message.Key, r.Message.Value, string.Join(",", r.Message.Headers?.Select(h => h.Key) ?? [])));
            }
        }

        return seen;
    }
}
