using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Kafka;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Kafka;

public class KafkaForecastOutputFaultTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(ForecastProducePath.Client)]
    [InlineData(ForecastProducePath.Native)]
    public async Task FullProducerQueue_IsWaitedOut_NotThrown(ForecastProducePath path)
    {
        // Before: the queue-full path called Poll() on a producer that polls in the background, which throws.
        KafkaNative.EnsureLoaded();
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("forecasts", partitions: 2);
        using var output = new KafkaForecastOutput(new KafkaForecastOutputOptions
        {
            BootstrapServers = kafka.BootstrapServers,
            Topic = "forecasts",
            ProducePath = path,
            Extra = { ["queue.buffering.max.messages"] = "10" },
        }, new TestLogger<KafkaForecastOutput>(new TestLogger()));
        var batch = Batches.Make(SourceKind.Tick, ["a", "b", "c"], 500, 0, 1_700_000_000_000);
        for (var i = 0; i < 4; i++) await output.WriteAsync(batch, TestContext.Current.CancellationToken);
        await Wait.ForAsync(output.FlushAsync(TestContext.Current.CancellationToken).AsTask(), Phase, "flush");
        Assert.Equal(2000, output.Delivered);
        Assert.Equal(0, output.FailedDeliveries);
    }

    [Theory]
    [InlineData(ForecastProducePath.Client)]
    [InlineData(ForecastProducePath.Native)]
    public async Task RowsGivenUpAfterRetries_HoldTheirInputOffsets_AndTheFlushStillCompletes(ForecastProducePath path)
    {
        KafkaNative.EnsureLoaded();
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("forecasts", partitions: 1);
        kafka.SetTopicError("forecasts", ErrorCode.TopicAuthorizationFailed);
        var failures = new DeliveryFailures();
        var logger = new TestLogger();
        using var output = new KafkaForecastOutput(new KafkaForecastOutputOptions
        {
            BootstrapServers = kafka.BootstrapServers,
            Topic = "forecasts",
            ProducePath = path,
            DeliveryRetries = 1,
            Extra = { ["message.timeout.ms"] = "3000" },
        }, new TestLogger<KafkaForecastOutput>(logger), failures);
        var batch = Batches.Make(SourceKind.Vitals, ["p1", "p2"], 4, 0, 1_700_000_000_000);
        for (var r = 0; r < batch.Count; r++)
        {
            batch.Partitions[r] = 5;
            batch.Offsets[r] = 100 + r;
        }

        await output.WriteAsync(batch, TestContext.Current.CancellationToken);
        await Wait.ForAsync(output.FlushAsync(TestContext.Current.CancellationToken).AsTask(), Phase, "flush with every delivery refused");
        Assert.Equal(4, output.Retried);
        Assert.Equal(4, output.FailedDeliveries);
        Assert.Equal(4, failures.Count);
        Assert.Equal(100, failures.Held[(SourceKind.Vitals, 5)]);
        Assert.Contains(logger.Lines, l => l.Contains("held back", StringComparison.Ordinal));
    }
}
