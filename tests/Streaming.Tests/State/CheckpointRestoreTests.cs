using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Storage.Memory;
using StreamLstm.Streaming.Storage.RocksDb;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>
/// Checkpoint, crash, restore: whatever was lost after the last checkpoint is read again from the stored offset, and
/// every key's forecasts equal an uninterrupted run's bit for bit (duplicates allowed, and equal too).
/// </summary>
public class CheckpointRestoreTests
{
    private static PipelineOptions Options(int maxResident = 0) => new()
    {
        Workers = 2, MaxBatch = 8, ChunkSize = 7, ChannelCapacity = 64, MaxWait = TimeSpan.Zero, MaxResidentKeys = maxResident,
    };

    private static async Task<Dictionary<(SourceKind, string, int, long), ForecastRow>> Uninterrupted(List<InputMessage> input)
    {
        await using var run = new StateHarness(PipelineInvariantTests.Models(), Options(), store: null);
        await run.SendAsync(input);
        await run.DrainAsync();
        return StateHarness.Dedup(run.Output.Rows, out _);
    }

    [Fact]
    public async Task CrashesAfterCheckpoints_RestoreFromTheStore_AndForecastsEqualAnUninterruptedRun()
    {
        var input = StateHarness.Place(Events.Mixed(4000, ticksKeys: 30, vitalsKeys: 12, audioKeys: 6, seed: 5), partitions: 3);
        var expected = await Uninterrupted(input);
        using var store = new MemoryStateStore();
        var rows = new List<ForecastRow>();
        var rng = new Random(9);
        var position = 0;
        for (var life = 0; life < 6; life++)
        {
            // A process life: resume every partition at its stored offset, run, checkpoint now and then, then "crash"
            // (the harness is dropped without a final checkpoint: whatever ran since the last one is lost).
            await using var run = new StateHarness(PipelineInvariantTests.Models(), Options(), store);
            var resume = input.Select(m => (m.Kind, m.Partition)).Distinct().ToDictionary(p => p, p => run.ResumeAt(p.Kind, p.Partition));
            var remaining = input.Where(m => m.Offset >= resume[(m.Kind, m.Partition)]).ToList();
            position = life == 5 ? remaining.Count : Math.Min(remaining.Count, rng.Next(300, 1200));
            var checkpointAt = life == 5 ? position : rng.Next(0, position + 1);
            await run.SendAsync(remaining.Take(checkpointAt));
            if (life < 5) await run.CheckpointAsync();
            await run.SendAsync(remaining.Skip(checkpointAt).Take(position - checkpointAt));
            await run.DrainAsync();
            rows.AddRange(run.Output.Rows);
        }

        var got = StateHarness.Dedup(rows, out var duplicates);
        Assert.Equal(expected.Count, got.Count);
        foreach (var (id, row) in expected) StateHarness.AssertSame(row, got[id], id.ToString());
        Assert.True(duplicates > 0, "the crashes lost work after a checkpoint, which must have been read again");
    }

    [Fact]
    public async Task Hibernation_EvictsIdleKeys_AndRestoresThemWithIdenticalForecasts()
    {
        var input = StateHarness.Place(Events.Mixed(3000, ticksKeys: 40, vitalsKeys: 10, audioKeys: 6, seed: 3), partitions: 2);
        var expected = await Uninterrupted(input);
        using var store = new MemoryStateStore();
        await using var run = new StateHarness(PipelineInvariantTests.Models(), Options(maxResident: 4), store);
        for (var i = 0; i < input.Count; i += 60)
        {
            await run.SendAsync(input.Skip(i).Take(60));
            await run.CheckpointAsync();
        }

        await run.DrainAsync();
        var got = StateHarness.Dedup(run.Output.Rows, out var duplicates);
        Assert.Equal(0, duplicates);
        Assert.Equal(expected.Count, got.Count);
        foreach (var (id, row) in expected) StateHarness.AssertSame(row, got[id], id.ToString());
        var totals = run.Pipeline.Totals();
        Assert.True(totals.Evicted > 100, $"only {totals.Evicted} keys were hibernated");
        Assert.True(totals.Restored > 100, $"only {totals.Restored} keys were restored");
        // A restored key takes its own name back (no string per restore): every row of a key carries one string instance.
        foreach (var g in run.Output.Rows.GroupBy(r => (r.Source, r.Partition, r.Key)))
        {
            var first = g.First().Key;
            Assert.True(g.All(r => ReferenceEquals(r.Key, first)), $"{g.Key}: a restore made a new string for the key");
        }

        // Resident keys stay near the cap: at most the keys seen since the last checkpoint come on top.
        foreach (var w in run.Pipeline.Workers)
        {
            foreach (var kind in new[] { SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio })
            {
                Assert.InRange(w.Engine(kind)!.Resident, 0, 4 + 60);
            }
        }
    }

    [Fact]
    public async Task EagerRestore_LoadsAPartitionsKeysOnAssignment()
    {
        var input = StateHarness.Place(Events.Mixed(600, ticksKeys: 10, vitalsKeys: 0, audioKeys: 0, seed: 1), partitions: 1);
        using var store = new MemoryStateStore();
        await using (var first = new StateHarness(PipelineInvariantTests.Models(), Options(), store))
        {
            await first.SendAsync(input);
            Assert.True(await first.CheckpointAsync() >= 10);
        }

        await using var second = new StateHarness(PipelineInvariantTests.Models(), Options(), store, eager: true);
        var ps = second.Partition(SourceKind.Tick, 0);
        await second.DrainAsync();
        Assert.Equal(input.Count, ps.ReadOffset);
        Assert.Equal(10, ps.KeySlots.Count);
        Assert.Equal(10, second.Pipeline.Totals().Restored);
    }

    [Fact]
    public async Task RocksDbStore_CheckpointsSurviveReopening_AndRestoreIdentically()
    {
        var dir = Directory.CreateTempSubdirectory("streamlstm-state-");
        try
        {
            var input = StateHarness.Place(Events.Mixed(1500, ticksKeys: 12, vitalsKeys: 6, audioKeys: 3, seed: 8), partitions: 2);
            var expected = await Uninterrupted(input);
            var half = input.Count / 2;
            var rows = new List<ForecastRow>();
            using (var store = new RocksDbStateStore(new RocksDbStateStoreOptions { Directory = dir.FullName }))
            {
                await using var run = new StateHarness(PipelineInvariantTests.Models(), Options(), store);
                await run.SendAsync(input.Take(half));
                await run.CheckpointAsync();
                await run.DrainAsync();
                rows.AddRange(run.Output.Rows);
            }

            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir.FullName));
            }

            using (var store = new RocksDbStateStore(new RocksDbStateStoreOptions { Directory = dir.FullName }))
            {
                await using var run = new StateHarness(PipelineInvariantTests.Models(), Options(), store);
                var remaining = input.Where(m => m.Offset >= run.ResumeAt(m.Kind, m.Partition)).ToList();
                Assert.Equal(input.Count - half, remaining.Count);
                await run.SendAsync(remaining);
                await run.DrainAsync();
                rows.AddRange(run.Output.Rows);
                Assert.True(run.Pipeline.Totals().Restored > 0);
            }

            if (!OperatingSystem.IsWindows())
            {
                foreach (var f in Directory.GetFiles(dir.FullName)) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f));
            }

            var got = StateHarness.Dedup(rows, out var duplicates);
            Assert.Equal(0, duplicates);
            Assert.Equal(expected.Count, got.Count);
            foreach (var (id, row) in expected) StateHarness.AssertSame(row, got[id], id.ToString());
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
