using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Storage.RocksDb;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>Durable state through the real consumer: checkpoints follow the input, and a restart resumes at the stored offsets.</summary>
public class KafkaStateTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Checkpoints_FollowTheInput_AndARestartResumesAtTheStoredOffsets()
    {
        var ct = TestContext.Current.CancellationToken;
        using var kafka = KafkaTestKit.StartCluster();
        var models = PipelineInvariantTests.Models();
        var all = Events.Mixed(6000, 40, 12, 6, seed: 5);
        var first = all.Take(4000).ToList();
        KafkaTestKit.Produce(kafka.BootstrapServers, KafkaTestKit.AsMessages(first));
        var dir = Directory.CreateTempSubdirectory("streamlstm-kstate-");
        try
        {
            var state = new Dictionary<string, string?> { ["State:Directory"] = dir.FullName };
            var out1 = new CollectingOutput();
            using (var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, models, [out1], group: "state-1", extra: state))
            {
                await host.StartAsync(ct);
                await out1.WaitForCount(first.Count, Phase, "first run");
                // Checkpoints keep coming while the input is consumed: wait for one that covers everything read.
                var consumer = host.Services.GetRequiredService<PipelineHostedService>().Consumer!;
                var sw = System.Diagnostics.Stopwatch.StartNew();
                while (consumer.Lag > 0 || consumer.Barriers < 3)
                {
                    Assert.True(sw.Elapsed < Phase, $"checkpoint phase: {consumer.Barriers} checkpoints, {consumer.FailedBarriers} failed, lag {consumer.Lag}");
                    await Task.Yield();
                }

                // Hard stop of the host's consumer is what a kill does; StopAsync here is graceful and ends with a checkpoint too.
                await host.StopAsync(ct);
                Assert.Equal(0, consumer.FailedBarriers);
            }

            using (var store = new RocksDbStateStore(new RocksDbStateStoreOptions { Directory = dir.FullName }))
            {
                var stored = KafkaTestKit.Topics.Sum(t => Enumerable.Range(0, 4).Sum(p => Math.Max(0, store.ReadOffset(t.Key, p))));
                Assert.Equal(first.Count, stored);
            }

            // A new group (no committed offsets): the store alone says where to resume, so nothing is forecast twice.
            var second = all.Skip(4000).ToList();
            KafkaTestKit.Produce(kafka.BootstrapServers, KafkaTestKit.AsMessages(second));
            var out2 = new CollectingOutput();
            using (var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, models, [out2], group: "state-2", extra: state))
            {
                await host.StartAsync(ct);
                await out2.WaitForCount(second.Count, Phase, "second run");
                await host.StopAsync(ct);
            }

            Assert.Equal(second.Count, out2.Count);
            var rows = StateHarness.Dedup(out1.Rows.Concat(out2.Rows), out var duplicates);
            Assert.Equal(0, duplicates);
            Assert.Equal(all.Count, rows.Count);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
