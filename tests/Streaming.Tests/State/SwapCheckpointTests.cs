using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Storage;
using StreamLstm.Streaming.Storage.Memory;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>
/// A hot swap is part of the durable state: the swap's (version, partition, offset) is stored when it happens and each
/// checkpoint names its partitions' model version, so a restart — from a checkpoint before or after the swap — steps each
/// partition with the version the first run used at every offset, and its forecasts equal the uninterrupted run's bit
/// for bit, model version included.
/// </summary>
public class SwapCheckpointTests
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

    /// <summary>
    /// Mixed events, where one tick key (the sleeper) is silent from message 800 to 1600: across a checkpoint and a swap, so
    /// after a restart its state comes from a record of the old version and is re-warmed from the record's history.
    /// </summary>
    private static List<InputMessage> Input(int silentFrom = 800, int silentTo = 1600)
    {
        var events = Events.Mixed(3000, ticksKeys: 14, vitalsKeys: 4, audioKeys: 2, seed: 11);
        var sleeper = events.First(e => e.Kind == SourceKind.Tick).Key;
        return StateHarness.Place(events.Where((e, i) => e.Key != sleeper || i < silentFrom || i >= silentTo), partitions: 3);
    }

    /// <summary>The uninterrupted run: the first <paramref name="swapAt"/> messages, drained, a promotion, the rest.</summary>
    private static async Task<(Dictionary<(SourceKind, string, int, long), ForecastRow> Rows, List<SwapRecord> Swaps)> Uninterrupted(List<InputMessage> input, int swapAt)
    {
        var models = PipelineInvariantTests.Models(hidden: 8);
        var online = new OnlineLearning(models, Online());
        await using var run = new StateHarness(models, Options(), new MemoryStateStore(), online: online);
        await run.SendAsync(input.Take(swapAt));
        await run.DrainAsync();
        online.For(SourceKind.Tick)!.Publish(Successor(models[SourceKind.Tick]));
        await run.SendAsync(input.Skip(swapAt));
        await run.DrainAsync();
        var swaps = Swaps(run);
        Assert.NotEmpty(swaps);
        return (StateHarness.Dedup(run.Output.Rows, out _), swaps);
    }

    private static List<SwapRecord> Swaps(StateHarness run) =>
        run.Pipeline.Workers.SelectMany(w => w.Engine(SourceKind.Tick)!.SwapLog).OrderBy(s => s.Partition).ThenBy(s => s.Offset).ToList();

    /// <summary>
    /// First life: checkpoint after <paramref name="checkpointAt"/> messages, a promotion after <paramref name="swapAt"/>
    /// (drained first, as in the uninterrupted run), a crash after <paramref name="crashAt"/> (no checkpoint since).
    /// </summary>
    private static async Task<(List<ForecastRow> Rows, List<SwapRecord> Swaps)> FirstLife(List<InputMessage> input, IStateStore store, int checkpointAt, int swapAt, int crashAt)
    {
        var models = PipelineInvariantTests.Models(hidden: 8);
        var online = new OnlineLearning(models, Online());
        await using var run = new StateHarness(models, Options(), store, online: online);
        var at = 0;
        foreach (var step in new[] { checkpointAt, swapAt }.Order())
        {
            await run.SendAsync(input.Skip(at).Take(step - at));
            at = step;
            if (step == swapAt)
            {
                await run.DrainAsync();
                online.For(SourceKind.Tick)!.Publish(Successor(models[SourceKind.Tick]));
            }
            else
            {
                Assert.True(await run.CheckpointAsync() > 0);
            }
        }

        await run.SendAsync(input.Skip(at).Take(crashAt - at));
        await run.DrainAsync();
        return ([.. run.Output.Rows], Swaps(run));
    }

    /// <summary>The restarted process: the registry now serves the promoted version; the old one is still known to it.</summary>
    private static async Task<(List<ForecastRow> Rows, List<SwapRecord> Swaps, long Missing)> Restart(List<InputMessage> input, IStateStore store, bool oldVersionKnown = true)
    {
        var models = PipelineInvariantTests.Models(hidden: 8);
        var old = models[SourceKind.Tick];
        models[SourceKind.Tick] = Successor(old);
        var online = new OnlineLearning(models, Online());
        if (oldVersionKnown) online.For(SourceKind.Tick)!.Remember(old);
        await using var run = new StateHarness(models, Options(), store, online: online);
        var remaining = input.Where(m => m.Offset >= run.ResumeAt(m.Kind, m.Partition)).ToList();
        Assert.True(remaining.Count < input.Count, "nothing was restored");
        await run.SendAsync(remaining);
        await run.DrainAsync();
        var missing = run.Pipeline.Workers.Sum(w => w.Engine(SourceKind.Tick)!.MissingModels);
        return ([.. run.Output.Rows], Swaps(run), missing);
    }

    private static void AssertEqualRuns(Dictionary<(SourceKind, string, int, long), ForecastRow> expected, IEnumerable<ForecastRow> rows)
    {
        var got = StateHarness.Dedup(rows, out var duplicates);
        Assert.True(duplicates > 0, "the crash lost work after the checkpoint, which must have been read again");
        Assert.Equal(expected.Count, got.Count);
        foreach (var (id, row) in expected)
        {
            StateHarness.AssertSame(row, got[id], id.ToString());
            Assert.True(row.ModelVersion == got[id].ModelVersion, $"{id}: stepped by {got[id].ModelVersion}, the uninterrupted run by {row.ModelVersion}");
        }
    }

    [Fact]
    public async Task CrashBeforeTheCheckpointAfterASwap_RestartReappliesTheSwapAtItsOffset_AndForecastsEqualTheUninterruptedRun()
    {
        var input = Input();
        var (checkpointAt, swapAt, crashAt) = (900, 1500, 2200);
        var (expected, expectedSwaps) = await Uninterrupted(input, swapAt);
        using var store = new MemoryStateStore();
        var (rows, swaps) = await FirstLife(input, store, checkpointAt, swapAt, crashAt);
        Assert.Equal(expectedSwaps, swaps);

        // What the crash left: the checkpoint (before the swap) names the old version; the swaps were stored when made.
        foreach (var swap in swaps)
        {
            var (model, stored) = PartitionModelRecord.Load(store, SourceKind.Tick, swap.Partition);
            Assert.Equal(PipelineInvariantTests.Models(hidden: 8)[SourceKind.Tick].Metadata.Version, model?.Version);
            Assert.Contains((swap.Offset, NewVersion), stored);
            Assert.True(swap.Offset > store.ReadOffset(SourceKind.Tick, swap.Partition), "the swap came after the checkpoint");
        }

        var (after, replayed, missing) = await Restart(input, store);
        Assert.Equal(0, missing);
        // The restart applied the recorded swaps itself, at the same offsets.
        Assert.Equal(expectedSwaps, replayed);
        AssertEqualRuns(expected, rows.Concat(after));
    }

    [Fact]
    public async Task CrashAfterTheCheckpointThatFollowedASwap_RestartsOnTheNewVersion_AndForecastsEqualTheUninterruptedRun()
    {
        var input = Input();
        var (swapAt, checkpointAt, crashAt) = (1200, 1800, 2500);
        var (expected, expectedSwaps) = await Uninterrupted(input, swapAt);
        using var store = new MemoryStateStore();
        var (rows, swaps) = await FirstLife(input, store, checkpointAt, swapAt, crashAt);
        Assert.Equal(expectedSwaps, swaps);

        // The checkpoint holds each partition's model record: the new version, from the swap's offset.
        foreach (var swap in swaps)
        {
            var (model, stored) = PartitionModelRecord.Load(store, SourceKind.Tick, swap.Partition);
            Assert.Equal((swap.Offset, NewVersion), model);
            Assert.DoesNotContain(stored, s => s.Offset <= swap.Offset); // pruned by that checkpoint (SwapPruneTests)
        }

        var (after, replayed, missing) = await Restart(input, store);
        Assert.Equal(0, missing);
        Assert.Empty(replayed);
        AssertEqualRuns(expected, rows.Concat(after));
    }

    [Fact]
    public async Task ACheckpointHoldingAKeyStillWaitingForItsRewarm_RestartsItStale_AndForecastsEqualTheUninterruptedRun()
    {
        // The sleeper is silent across the swap and the checkpoint after it: a swap re-warms a key only at its next
        // micro-batch, so the checkpoint stores it still in the old model's state (under the stale marker); the restart
        // must re-warm it at its next event exactly as the uninterrupted run did.
        var input = Input(silentFrom: 1000, silentTo: 2300);
        var (swapAt, checkpointAt, crashAt) = (1200, 1800, 2600);
        var (expected, expectedSwaps) = await Uninterrupted(input, swapAt);
        using var store = new MemoryStateStore();
        var (rows, swaps) = await FirstLife(input, store, checkpointAt, swapAt, crashAt);
        Assert.Equal(expectedSwaps, swaps);
        var (after, replayed, missing) = await Restart(input, store);
        Assert.Equal(0, missing);
        Assert.Empty(replayed);
        AssertEqualRuns(expected, rows.Concat(after));
    }

    [Fact]
    public async Task AVersionMissingFromTheRegistry_IsCounted_ItsKeysStartFresh_AndNothingCrashes()
    {
        var input = Input();
        using var store = new MemoryStateStore();
        var (rows, _) = await FirstLife(input, store, checkpointAt: 900, swapAt: 1500, crashAt: 2200);
        var (after, _, missing) = await Restart(input, store, oldVersionKnown: false);
        Assert.True(missing > 0, "the checkpoint's version was not in the registry, which must be counted");
        // Every message still gets its forecast, on the version this process has (replayed ones differ: fresh keys).
        Assert.Equal(input.Count, rows.Concat(after).Select(r => (r.Source, r.Key, r.Partition, r.Offset)).Distinct().Count());
        Assert.All(after.Where(r => r.Source == SourceKind.Tick), r => Assert.Equal(NewVersion, r.ModelVersion));
    }
}
