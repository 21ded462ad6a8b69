using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Changelog;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Storage;
using StreamLstm.Streaming.Storage.Memory;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>
/// <c>Kafka:Guarantee=exactly_once</c>: a partition moves to another process after a hot swap but before the checkpoint
/// that follows the swap commits. The first owner's changelog is transactional (its checkpoints commit in transactions on
/// the embedded cluster, as the service's do); its open transaction, with everything it forecast after its last
/// checkpoint, is aborted. The new owner rebuilds its own, empty store from the changelog and must step the partition as
/// an uninterrupted process did: the swap at the same offset, forecasts bit-identical, model versions included, and no
/// forecast twice (the aborted ones are never visible).
/// </summary>
public class ExactlyOnceSwapMoveTests
{
    private const string NewVersion = "tick-v2";

    private static PipelineOptions Options() => new() { Workers = 2, MaxBatch = 8, ChunkSize = 7, ChannelCapacity = 64, MaxWait = TimeSpan.Zero };

    private static OnlineOptions Online() => new() { Window = 64, SnapshotEvery = 16, WindowLength = 16, RewarmSteps = 24 };

    private static LstmModel Successor(LstmModel model)
    {
        var next = LstmModel.CreateRandom(model.Config, 42);
        next.Metadata = model.Metadata with { Version = NewVersion };
        return next;
    }

    private static List<SwapRecord> Swaps(StateHarness run) =>
        run.Pipeline.Workers.SelectMany(w => w.Engine(SourceKind.Tick)!.SwapLog).OrderBy(s => s.Partition).ThenBy(s => s.Offset).ToList();

    [Fact]
    public async Task PartitionMovesAfterASwapBeforeThePostSwapCheckpointCommits_TheNewOwnersForecastsEqualAnUninterruptedRun()
    {
        const int checkpointAt = 800, swapAt = 1300, crashAt = 2000;
        var input = StateHarness.Place(Events.Mixed(3000, ticksKeys: 14, vitalsKeys: 4, audioKeys: 2, seed: 11).Where(e => e.Kind == SourceKind.Tick), partitions: 3);

        // The uninterrupted run: one process, the promotion at the same point.
        Dictionary<(SourceKind, string, int, long), ForecastRow> expected;
        List<SwapRecord> expectedSwaps;
        {
            var models = PipelineInvariantTests.Models(hidden: 8);
            var online = new OnlineLearning(models, Online());
            await using var run = new StateHarness(models, Options(), new MemoryStateStore(), online: online);
            await run.SendAsync(input.Take(swapAt));
            await run.DrainAsync();
            online.For(SourceKind.Tick)!.Publish(Successor(models[SourceKind.Tick]));
            await run.SendAsync(input.Skip(swapAt));
            await run.DrainAsync();
            expected = StateHarness.Dedup(run.Output.Rows, out _);
            expectedSwaps = Swaps(run);
            Assert.NotEmpty(expectedSwaps);
        }

        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("cl.tick", 3);

        // The first owner: exactly-once, so its changelog records go through its transactional producer.
        var committed = new List<ForecastRow>();
        List<SwapRecord> firstSwaps;
        using (var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, TransactionalId = "eo-swap-move-a" }).Build())
        {
            producer.InitTransactions(TimeSpan.FromSeconds(30));
            producer.BeginTransaction();
            using var changelog = new KafkaChangelog(kafka.BootstrapServers, "cl.", NullLogger.Instance, sharedProducer: producer.Handle);
            using var store = new MemoryStateStore();
            var models = PipelineInvariantTests.Models(hidden: 8);
            var online = new OnlineLearning(models, Online());
            await using var run = new StateHarness(models, Options(), store, online: online, changelog: changelog);
            await run.SendAsync(input.Take(checkpointAt));
            await run.DrainAsync();
            Assert.True(await run.CheckpointAsync() > 0);
            producer.CommitTransaction();
            // What a read_committed reader of the outputs sees of this owner: the forecasts of the committed transaction.
            committed.AddRange(run.Output.Rows.Where(r => r.Offset < run.Partition(r.Source, r.Partition).StateOffset));
            producer.BeginTransaction();

            await run.SendAsync(input.Skip(checkpointAt).Take(swapAt - checkpointAt));
            await run.DrainAsync();
            online.For(SourceKind.Tick)!.Publish(Successor(models[SourceKind.Tick]));
            await run.SendAsync(input.Skip(swapAt).Take(crashAt - swapAt));
            await run.DrainAsync();
            firstSwaps = Swaps(run);
            Assert.Equal(expectedSwaps, firstSwaps);
            Assert.Equal(0, run.Pipeline.Workers.Sum(w => w.Engine(SourceKind.Tick)!.SwapPublishFailures));
            // The partitions move before the next checkpoint commits: the open transaction is aborted.
            producer.AbortTransaction();
        }

        // The new owner: its own, empty store, rebuilt from the changelog on assignment; the registry serves the new version
        // and still knows the old one.
        List<ForecastRow> after;
        List<SwapRecord> replayed;
        {
            using var changelog = new KafkaChangelog(kafka.BootstrapServers, "cl.", NullLogger.Instance);
            using var store = new MemoryStateStore();
            var models = PipelineInvariantTests.Models(hidden: 8);
            var old = models[SourceKind.Tick];
            models[SourceKind.Tick] = Successor(old);
            var online = new OnlineLearning(models, Online());
            online.For(SourceKind.Tick)!.Remember(old);
            await using var run = new StateHarness(models, Options(), store, online: online, changelog: changelog);
            var remaining = input.Where(m => m.Offset >= run.ResumeAt(m.Kind, m.Partition)).ToList();
            // Resumed at the first owner's committed checkpoint, not where it had read to.
            Assert.Equal(input.Count - checkpointAt, remaining.Count);
            await run.SendAsync(remaining);
            await run.DrainAsync();
            after = [.. run.Output.Rows];
            replayed = Swaps(run);
            Assert.Equal(0, run.Pipeline.Workers.Sum(w => w.Engine(SourceKind.Tick)!.MissingModels));
        }

        // The swap came along (re-applied at its offsets), and what readers see equals the uninterrupted run, each once.
        Assert.Equal(expectedSwaps, replayed);
        var got = StateHarness.Dedup(committed.Concat(after), out var duplicates);
        Assert.Equal(0, duplicates);
        Assert.Equal(expected.Count, got.Count);
        foreach (var (id, row) in expected)
        {
            StateHarness.AssertSame(row, got[id], id.ToString());
            Assert.True(row.ModelVersion == got[id].ModelVersion, $"{id}: stepped by {got[id].ModelVersion}, the uninterrupted run by {row.ModelVersion}");
        }
    }
}
