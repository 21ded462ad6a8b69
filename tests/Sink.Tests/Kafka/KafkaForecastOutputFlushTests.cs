using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Kafka;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Kafka;

public class KafkaForecastOutputFlushTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(ForecastProducePath.Client)]
    [InlineData(ForecastProducePath.Native)]
    public async Task FlushAsync_CompletesForRowsWrittenBeforeIt_WhileOtherWritersKeepProducing(ForecastProducePath path)
    {
        var ct = TestContext.Current.CancellationToken;
        KafkaNative.EnsureLoaded();
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("forecasts", partitions: 2);
        using var output = new KafkaForecastOutput(new KafkaForecastOutputOptions { BootstrapServers = kafka.BootstrapServers, Topic = "forecasts", ProducePath = path }, new TestLogger<KafkaForecastOutput>(new TestLogger()));
        await output.WriteAsync(Batches.Make(SourceKind.Tick, ["a", "b", "c"], 300, 0, 1_700_000_000_000), ct);
        var before = output.Produced;

        // Two more writers keep producing for the whole flush, as the pipeline's workers do while its durability barrier
        // flushes: the flush must finish meanwhile and cover every row written before it.
        using var stop = new CancellationTokenSource();
        var writer = Task.WhenAll(Enumerable.Range(0, 2).Select(w => Task.Run(async () =>
        {
            var batch = Batches.Make(SourceKind.Tick, ["d", "e", "f", "g"], 1024, 0, 1_700_000_000_000);
            // Bounded by rows in flight, not by a total: a fast path (native, on a fast machine) once reached a total cap
            // before the flush returned, and the writers had stopped by then.
            while (!stop.IsCancellationRequested)
            {
                if (output.Produced - output.Delivered < 200_000) await output.WriteAsync(batch, CancellationToken.None);
                else await Task.Yield();
            }
        }, ct)));
        await Wait.UntilAsync(() => output.Produced > before, Phase, "other writers started");
        await Wait.ForAsync(Task.Run(() => output.FlushAsync(ct).AsTask(), ct), Phase, "flush while other writers keep producing");
        var delivered = output.Delivered;
        var writerStillRunning = !writer.IsCompleted;
        await stop.CancelAsync();
        await Wait.ForAsync(writer, Phase, "other writers stopped");

        Assert.True(writerStillRunning, "the flush finished only after the other writers stopped, so it proves nothing");
        Assert.True(delivered >= before, $"flush returned with {delivered} rows acknowledged, fewer than the {before} written before it");
        await Wait.ForAsync(Task.Run(() => output.FlushAsync(ct).AsTask(), ct), Phase, "final flush");
        Assert.Equal(output.Produced, output.Delivered);
        Assert.Equal(0, output.FailedDeliveries);
    }
}
