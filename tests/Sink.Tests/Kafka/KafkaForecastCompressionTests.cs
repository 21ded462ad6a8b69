using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Kafka;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Kafka;

/// <summary><c>Kafka:ForecastCompression</c>: the setting reaches the producer's librdkafka config, and rows survive it.</summary>
public class KafkaForecastCompressionTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(ForecastCompression.None, "none")]
    [InlineData(ForecastCompression.Lz4, "lz4")]
    [InlineData(ForecastCompression.Snappy, "snappy")]
    [InlineData(ForecastCompression.Zstd, "zstd")]
    public void TheConfiguredCompression_IsTheProducersCompressionType(ForecastCompression compression, string librdkafka)
    {
        var config = KafkaForecastOutput.ProducerConfig(new KafkaForecastOutputOptions { BootstrapServers = "127.0.0.1:9", Compression = compression });
        Assert.Equal(librdkafka, config.Get("compression.type"));
    }

    [Fact]
    public void TheDefault_StaysLz4_AndAnExtraCompressionTypeStillWins()
    {
        Assert.Equal(ForecastCompression.Lz4, new KafkaForecastOutputOptions().Compression);
        Assert.Equal("lz4", KafkaForecastOutput.ProducerConfig(new KafkaForecastOutputOptions()).Get("compression.type"));
        var overridden = new KafkaForecastOutputOptions { Compression = ForecastCompression.None, Extra = { ["compression.type"] = "gzip" } };
        Assert.Equal("gzip", KafkaForecastOutput.ProducerConfig(overridden).Get("compression.type"));
    }

    [Theory]
    [InlineData(ForecastProducePath.Client)]
    [InlineData(ForecastProducePath.Native)]
    public void AnUndefinedCompression_IsRefused_NamingTheChoices(ForecastProducePath path)
    {
        var options = new KafkaForecastOutputOptions { BootstrapServers = "127.0.0.1:9", Compression = (ForecastCompression)42, ProducePath = path };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new KafkaForecastOutput(options, new TestLogger<KafkaForecastOutput>(new TestLogger())).Dispose());
        Assert.Contains("none, lz4, snappy or zstd", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ForecastCompression.Zstd, ForecastProducePath.Client)]
    [InlineData(ForecastCompression.None, ForecastProducePath.Native)]
    [InlineData(ForecastCompression.Snappy, ForecastProducePath.Native)]
    public async Task RowsProducedWithEachCompression_ReadBackAsWritten(ForecastCompression compression, ForecastProducePath path)
    {
        // The native path hands every setting to rd_kafka_conf_set, which refuses a codec the library was built without.
        var ct = TestContext.Current.CancellationToken;
        KafkaNative.EnsureLoaded();
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("forecasts", partitions: 1);
        using var output = new KafkaForecastOutput(new KafkaForecastOutputOptions { BootstrapServers = kafka.BootstrapServers, Topic = "forecasts", Compression = compression, ProducePath = path }, new TestLogger<KafkaForecastOutput>(new TestLogger()));
        var batch = Batches.Make(SourceKind.Tick, ["a", "b", "c"], 300, 0, 1_700_000_000_000);
        await output.WriteAsync(batch, ct);
        await Wait.ForAsync(output.FlushAsync(ct).AsTask(), Phase, "flush");

        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "check", AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        consumer.Subscribe("forecasts");
        var seen = new List<(string Key, byte[] Value)>();
        await Wait.UntilAsync(() =>
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } r) seen.Add((r.Message.Key, r.Message.Value));
            return seen.Count >= batch.Count;
        }, Phase, $"{batch.Count} rows on the topic");

        Assert.Equal(Enumerable.Range(0, batch.Count).Select(r => batch.Keys[r]), seen.Select(s => s.Key));
        for (var r = 0; r < batch.Count; r++) Assert.True(KafkaForecastOutput.ToJson(batch, r).AsSpan().SequenceEqual(seen[r].Value), $"row {r} differs from what was written");
        Assert.Equal(0, output.FailedDeliveries);
    }
}
