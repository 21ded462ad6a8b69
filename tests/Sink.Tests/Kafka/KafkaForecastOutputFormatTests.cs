using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Kafka;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Kafka;

public class KafkaForecastOutputFormatTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(ForecastFormat.Json, ForecastProducePath.Client)]
    [InlineData(ForecastFormat.Binary, ForecastProducePath.Client)]
    [InlineData(ForecastFormat.Json, ForecastProducePath.Native)]
    [InlineData(ForecastFormat.Binary, ForecastProducePath.Native)]
    public async Task EveryRowOnTheTopic_IsItsOwnRow_ThoughValueBuffersAreReused(ForecastFormat format, ForecastProducePath path)
    {
        // Values are pooled and returned on delivery: a buffer reused too early would put one row's bytes under another.
        var ct = TestContext.Current.CancellationToken;
        KafkaNative.EnsureLoaded();
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("forecasts", partitions: 1);
        using var output = new KafkaForecastOutput(new KafkaForecastOutputOptions { BootstrapServers = kafka.BootstrapServers, Topic = "forecasts", Format = format, ProducePath = path }, new TestLogger<KafkaForecastOutput>(new TestLogger()));
        var batches = Enumerable.Range(0, 3).Select(i => Batches.Make(SourceKind.Tick, ["a", "b", "c"], 200, i * 200, 1_700_000_000_000)).ToArray();
        foreach (var b in batches)
        {
            await output.WriteAsync(b, ct);
            await Wait.ForAsync(output.FlushAsync(ct).AsTask(), Phase, "flush (returns the values to the pool)");
        }

        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "check", AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        consumer.Subscribe("forecasts");
        var seen = new List<(string Key, byte[] Value)>();
        await Wait.UntilAsync(() =>
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } r) seen.Add((r.Message.Key, r.Message.Value));
            return seen.Count >= 600;
        }, Phase, "600 rows on the topic");

        var expected = batches.SelectMany(b => Enumerable.Range(0, b.Count).Select(r => (Key: b.Keys[r], Value: Encode(b, r, format)))).ToList();
        Assert.Equal(expected.Select(e => e.Key), seen.Select(s => s.Key));
        for (var i = 0; i < expected.Count; i++) Assert.True(expected[i].Value.AsSpan().SequenceEqual(seen[i].Value), $"row {i} differs from what was written");
        Assert.Equal(0, output.FailedDeliveries);
    }

    [Theory]
    [InlineData(ForecastProducePath.Client)]
    [InlineData(ForecastProducePath.Native)]
    public async Task GivenUpBinaryRows_AreRetriedThenHoldTheirInputOffsets(ForecastProducePath path)
    {
        var ct = TestContext.Current.CancellationToken;
        KafkaNative.EnsureLoaded();
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("forecasts", partitions: 1);
        kafka.SetTopicError("forecasts", ErrorCode.TopicAuthorizationFailed);
        var failures = new DeliveryFailures();
        using var output = new KafkaForecastOutput(new KafkaForecastOutputOptions
        {
            BootstrapServers = kafka.BootstrapServers,
            Topic = "forecasts",
            Format = ForecastFormat.Binary,
            ProducePath = path,
            DeliveryRetries = 1,
            Extra = { ["message.timeout.ms"] = "3000" },
        }, new TestLogger<KafkaForecastOutput>(new TestLogger()), failures);
        var batch = Batches.Make(SourceKind.Audio, ["s1"], 3, 0, 1_700_000_000_000);
        for (var r = 0; r < batch.Count; r++)
        {
            batch.Partitions[r] = 2;
            batch.Offsets[r] = 40 + r;
        }

        await output.WriteAsync(batch, ct);
        await Wait.ForAsync(output.FlushAsync(ct).AsTask(), Phase, "flush with every delivery refused");

        Assert.Equal(3, output.Retried);
        Assert.Equal(3, output.FailedDeliveries);
        Assert.Equal(40, failures.Held[(SourceKind.Audio, 2)]);
    }

    private static byte[] Encode(ForecastBatch b, int r, ForecastFormat format)
    {
        if (format == ForecastFormat.Json) return KafkaForecastOutput.ToJson(b, r);
        var value = new byte[ForecastBinary.Size(b.Horizons, 3)];
        ForecastBinary.Write(b, r, "m-1"u8, value);
        return value;
    }
}
