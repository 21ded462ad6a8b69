using System.Text;
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
/// Swap records (<c>\0swap.&lt;offset&gt;</c>) are pruned at the checkpoint whose model record makes them useless (at or
/// before its offset, and before the partition's read offset), in the same atomic batch: after several swaps and
/// checkpoints only the records a restore can still need remain, and a crash after the prune restarts bit-identically.
/// </summary>
public class SwapPruneTests
{
    private static PipelineOptions Options() => new() { Workers = 2, MaxBatch = 8, ChunkSize = 7, ChannelCapacity = 64, MaxWait = TimeSpan.Zero };

    private static OnlineOptions Online() => new() { Window = 64, SnapshotEvery = 16, WindowLength = 16, RewarmSteps = 24 };

    private static LstmModel Version(LstmModel model, string version, int seed)
    {
        var next = LstmModel.CreateRandom(model.Config, seed);
        next.Metadata = model.Metadata with { Version = version };
        return next;
    }

    private static List<InputMessage> Input() =>
        StateHarness.Place(Events.Mixed(3000, ticksKeys: 14, vitalsKeys: 4, audioKeys: 2, seed: 11), partitions: 3);

    private static List<int> TickPartitions(List<InputMessage> input) => [.. input.Where(m => m.Kind == SourceKind.Tick).Select(m => m.Partition).Distinct().Order()];

    private static List<SwapRecord> Swaps(StateHarness run) =>
        run.Pipeline.Workers.SelectMany(w => w.Engine(SourceKind.Tick)!.SwapLog).OrderBy(s => s.Partition).ThenBy(s => s.Offset).ToList();

    /// <summary>A life: the steps in order; "ckpt" checkpoints, a version name swaps to it (drained first), a number sends up to that message.</summary>
    private static async Task<(List<ForecastRow> Rows, List<SwapRecord> Swaps)> Life(List<InputMessage> input, IStateStore? store, Dictionary<string, LstmModel> versions,
        string serving, string[] known, IEnumerable<object> steps, Action<StateHarness, string>? afterCheckpoint = null, bool resume = false)
    {
        var models = PipelineInvariantTests.Models(hidden: 8);
        models[SourceKind.Tick] = versions[serving];
        var online = new OnlineLearning(models, Online());
        foreach (var v in known) online.For(SourceKind.Tick)!.Remember(versions[v]);
        await using var run = new StateHarness(models, Options(), store, online: online);
        var remaining = resume ? input.Where(m => m.Offset >= run.ResumeAt(m.Kind, m.Partition)).ToList() : input;
        var at = 0;
        var checkpoints = 0;
        foreach (var step in steps)
        {
            switch (step)
            {
                case int upTo:
                    await run.SendAsync(remaining.Take(upTo).Skip(at));
                    at = Math.Max(at, upTo);
                    break;
                case "ckpt":
                    await run.DrainAsync();
                    await run.CheckpointAsync();
                    afterCheckpoint?.Invoke(run, $"checkpoint {++checkpoints}");
                    break;
                case string version:
                    await run.DrainAsync();
                    online.For(SourceKind.Tick)!.Publish(versions[version]);
                    break;
            }
        }

        await run.DrainAsync();
        return ([.. run.Output.Rows], Swaps(run));
    }

    private static Dictionary<string, LstmModel> Versions()
    {
        var v1 = PipelineInvariantTests.Models(hidden: 8)[SourceKind.Tick];
        return new() { [v1.Metadata.Version] = v1, ["tick-v2"] = Version(v1, "tick-v2", 42), ["tick-v3"] = Version(v1, "tick-v3", 43) };
    }

    // What a restore reads of each tick partition: its model record and the swap records left in the store.
    private static void AssertOnlyNeededSwaps(StateHarness run, List<int> partitions, string phase)
    {
        foreach (var p in partitions)
        {
            var (model, swaps) = PartitionModelRecord.Load(run.Store!, SourceKind.Tick, p);
            var since = model?.Since ?? long.MinValue;
            var read = run.Partition(SourceKind.Tick, p).ReadOffset;
            // Left: swaps a restore re-applies (after the model record's offset), or the newest swap while nothing of the
            // partition was read after it (a later swap at the same offset would write the same key).
            Assert.All(swaps, s => Assert.True(s.Offset > since || s.Offset >= read,
                $"{phase}: tick[{p}] keeps the swap at {s.Offset} ({s.Version}) though its model record is {model} and it has read up to {read}"));
        }
    }

    [Fact]
    public async Task AfterSeveralSwapsAndCheckpoints_OnlyTheSwapRecordsARestoreNeedsRemain()
    {
        var input = Input();
        var versions = Versions();
        var v1 = versions.Keys.First();
        var partitions = TickPartitions(input);
        using var store = new MemoryStateStore();
        var phases = new List<Dictionary<int, (((long Since, string Version)? Model, List<(long Offset, string Version)> Swaps) Stored, long Read)>>();
        void Record(StateHarness run, string phase)
        {
            AssertOnlyNeededSwaps(run, partitions, phase);
            phases.Add(partitions.ToDictionary(p => p, p => (PartitionModelRecord.Load(store, SourceKind.Tick, p), run.Partition(SourceKind.Tick, p).ReadOffset)));
        }

        // v2, read on, checkpoint; v3 with a single tick row stepped after it, checkpoint; read on, checkpoint.
        var oneTick = input.FindIndex(1700, m => m.Kind == SourceKind.Tick) + 1;
        var (_, swaps) = await Life(input, store, versions, v1, [], [600, "ckpt", 900, "tick-v2", 1400, "ckpt", 1700, "tick-v3", oneTick, "ckpt", 2400, "ckpt"], Record);
        Assert.Equal(2 * partitions.Count, swaps.Count);

        // Checkpoint 2 (after v2 and more reading): every v2 swap record pruned, the model record names v2 from its offset.
        foreach (var p in partitions)
        {
            var v2 = swaps.Single(s => s.Partition == p && s.Version == "tick-v2");
            Assert.Equal((v2.Offset, "tick-v2"), phases[1][p].Stored.Model);
            Assert.Empty(phases[1][p].Stored.Swaps);
        }

        // Checkpoint 3: the worker that stepped the one tick row swapped its partitions. The row's partition read past its
        // swap (pruned); a partition of that worker with nothing read since keeps its record (a later swap at the same offset
        // would rewrite that key); the other worker had not swapped yet (model record still v2, nothing stored).
        var row = input[oneTick - 1];
        var kept = 0;
        foreach (var p in partitions)
        {
            var ((model, stored), read) = phases[2][p];
            if (p == row.Partition)
            {
                Assert.Equal((row.Offset, "tick-v3"), model);
                Assert.Empty(stored);
            }
            else if (model?.Version == "tick-v3")
            {
                Assert.Equal((read, "tick-v3"), model);
                Assert.Equal([(read, "tick-v3")], stored);
                kept++;
            }
            else
            {
                Assert.Equal("tick-v2", model?.Version);
                Assert.Empty(stored);
            }
        }

        TestContext.Current.SendDiagnosticMessage($"checkpoint 3 kept {kept} v3 swap record(s) of partitions with nothing read since");

        // Checkpoint 4: every partition read past v3, so no swap record is left at all.
        foreach (var p in partitions)
        {
            Assert.Equal("tick-v3", phases[3][p].Stored.Model?.Version);
            Assert.Empty(phases[3][p].Stored.Swaps);
        }
    }

    [Fact]
    public async Task CrashAfterAPruneWithALaterSwapStillRecorded_RestartsBitIdentically_AndItsCheckpointPrunesTheRest()
    {
        var input = Input();
        var versions = Versions();
        var v1 = versions.Keys.First();
        var partitions = TickPartitions(input);

        var (expectedRows, expectedSwaps) = await Life(input, new MemoryStateStore(), versions, v1, [], [1000, "tick-v2", 1800, "tick-v3", 3000]);
        var expected = StateHarness.Dedup(expectedRows, out _);

        // First life: v2, a checkpoint that prunes it, v3 (recorded, no checkpoint after it), a crash.
        using var store = new MemoryStateStore();
        var (rows, swaps) = await Life(input, store, versions, v1, [], [700, "ckpt", 1000, "tick-v2", 1300, "ckpt", 1800, "tick-v3", 2300]);
        Assert.Equal(expectedSwaps, swaps);
        foreach (var p in partitions)
        {
            var (model, stored) = PartitionModelRecord.Load(store, SourceKind.Tick, p);
            Assert.Equal("tick-v2", model?.Version);
            // The v2 record was pruned by the checkpoint; the v3 record is what the restart needs.
            Assert.Equal([(swaps.Single(s => s.Partition == p && s.Version == "tick-v3").Offset, "tick-v3")], stored);
        }

        // Restart serving v3 (the registry's newest), v1 and v2 known; it re-applies v3 at its offsets, then checkpoints.
        var (after, replayed) = await Life(input, store, versions, "tick-v3", [v1, "tick-v2"], [int.MaxValue, "ckpt"], resume: true);
        Assert.Equal(expectedSwaps.Where(s => s.Version == "tick-v3"), replayed);
        var got = StateHarness.Dedup(rows.Concat(after), out var duplicates);
        Assert.True(duplicates > 0, "the crash lost work after the checkpoint, which must have been read again");
        Assert.Equal(expected.Count, got.Count);
        foreach (var (id, row) in expected)
        {
            StateHarness.AssertSame(row, got[id], id.ToString());
            Assert.True(row.ModelVersion == got[id].ModelVersion, $"{id}: stepped by {got[id].ModelVersion}, the uninterrupted run by {row.ModelVersion}");
        }

        // The restart's checkpoint (past the re-applied swaps) pruned them: nothing left but the model records.
        foreach (var p in partitions)
        {
            var (model, stored) = PartitionModelRecord.Load(store, SourceKind.Tick, p);
            Assert.Equal("tick-v3", model?.Version);
            Assert.Empty(stored);
        }
    }

    [Fact]
    public void Changelog_APrunedSwapIsATombstone_AppliedByARebuildOnlyUnderItsCheckpointsMarker()
    {
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("ticks", 1);
        kafka.CreateTopic("cl.tick", 1);
        using var changelog = new KafkaChangelog(kafka.BootstrapServers, "cl.", NullLogger.Instance);
        var first = new CheckpointBatch();
        PartitionModelRecord.Write(first.Add(SourceKind.Tick, 0, PartitionModelRecord.ModelKey, PartitionModelRecord.Size("v1")), -1, "v1");
        first.SetOffset(SourceKind.Tick, 0, 100);
        changelog.Publish([first]);
        var swap = new CheckpointBatch();
        PartitionModelRecord.Write(swap.Add(SourceKind.Tick, 0, PartitionModelRecord.SwapKey(130), PartitionModelRecord.Size("v2")), 130, "v2");
        changelog.PublishSwaps(swap);

        // A checkpoint whose publish died before its marker: its model record and its prune are both ignored.
        var incomplete = new CheckpointBatch();
        PartitionModelRecord.Write(incomplete.Add(SourceKind.Tick, 0, PartitionModelRecord.ModelKey, PartitionModelRecord.Size("v2")), 130, "v2");
        incomplete.Delete(SourceKind.Tick, 0, PartitionModelRecord.SwapKey(130));
        using (var p = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers }).Build())
        {
            foreach (var e in incomplete.Entries) p.Produce(new TopicPartition("cl.tick", 0), new Message<byte[], byte[]> { Key = ChangelogRecord.Key(0, incomplete.Key(e)), Value = e.ValueLength == 0 ? null! : incomplete.Value(e).ToArray() });
            Assert.Equal(0, p.Flush(TimeSpan.FromSeconds(30)));
        }

        using (var store = new MemoryStateStore())
        {
            Assert.True(changelog.Restore(SourceKind.Tick, "ticks", 0, store).Rebuilt);
            var (model, swaps) = PartitionModelRecord.Load(store, SourceKind.Tick, 0);
            Assert.Equal((-1L, "v1"), model);
            Assert.Equal([(130L, "v2")], swaps);
        }

        // The same checkpoint published whole: the model record and the prune arrive together.
        var complete = new CheckpointBatch();
        complete.AddAll(incomplete);
        complete.SetOffset(SourceKind.Tick, 0, 200);
        changelog.Publish([complete]);
        using (var store = new MemoryStateStore())
        {
            Assert.True(changelog.Restore(SourceKind.Tick, "ticks", 0, store).Rebuilt);
            var (model, swaps) = PartitionModelRecord.Load(store, SourceKind.Tick, 0);
            Assert.Equal((130L, "v2"), model);
            Assert.Empty(swaps);
            Assert.Equal(200, store.ReadOffset(SourceKind.Tick, 0));
        }

        // In the topic the prune is a real tombstone (null value), which compaction removes.
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "prune-read", EnablePartitionEof = true }).Build();
        consumer.Assign(new TopicPartitionOffset("cl.tick", 0, Offset.Beginning));
        var swapKey = ChangelogRecord.Key(0, Encoding.UTF8.GetBytes(PartitionModelRecord.SwapKey(130)));
        var values = new List<byte[]?>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null) continue;
            if (r.IsPartitionEOF) break;
            if (r.Message.Key.AsSpan().SequenceEqual(swapKey)) values.Add(r.Message.Value);
        }

        Assert.Equal(3, values.Count);
        Assert.NotNull(values[0]);
        Assert.Null(values[2]);
    }
}
