using System.Text;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Online;

public class HotSwapTests
{
    /// <summary>Two workers with small batches and online learning attached, started.</summary>
    private static (CollectingOutput Output, StreamPipeline Pipeline, OnlineLearning Online, InProcessSource Source) Start(IReadOnlyDictionary<SourceKind, LstmModel> models, CancellationToken ct)
    {
        var output = new CollectingOutput();
        var pipeline = new StreamPipeline(new PipelineOptions { Workers = 2, MaxBatch = 8, ChunkSize = 5, MaxWait = TimeSpan.Zero }, models, [output], new CountingDeadLetterSink());
        var online = new OnlineLearning(models, Options());
        pipeline.AttachOnline(online);
        pipeline.Start(ct);
        return (output, pipeline, online, new InProcessSource(pipeline));
    }

    private static OnlineOptions Options() => new() { Window = 64, SnapshotEvery = 16, WindowLength = 16, RewarmSteps = 24 };

    private static LstmModel Successor(LstmModel model, string version, int seed)
    {
        var next = LstmModel.CreateRandom(model.Config, seed);
        next.Metadata = model.Metadata with { Version = version };
        return next;
    }

    [Fact]
    public async Task AfterASwap_EachKeysState_IsTheNewModelsForwardOverItsLastInputs_AndKeysWithoutHistoryAreFresh()
    {
        var ct = TestContext.Current.CancellationToken;
        var models = PipelineInvariantTests.Models(hidden: 8);
        var events = Events.Mixed(1200, ticksKeys: 12, vitalsKeys: 6, audioKeys: 3, seed: 5);
        var (output, pipeline, online, source) = Start(models, ct);
        foreach (var (kind, key, value) in events) await source.AddAsync(kind, Events.PartitionOf(key, 4), Encoding.UTF8.GetBytes(key), value, ct);
        await source.FlushAsync(ct);
        await pipeline.CompleteAsync(ct).WaitAsync(TimeSpan.FromSeconds(60), ct);

        var tick = online.For(SourceKind.Tick)!;
        var next = Successor(models[SourceKind.Tick], "tick-v2", 99);
        tick.Publish(next);
        var cfg = next.Config;
        var checkedKeys = 0;
        foreach (var worker in pipeline.Workers)
        {
            var engine = worker.Engine(SourceKind.Tick)!;
            // A key with no replayed history: it must start from zero state.
            var ghost = engine.SlotFor(source.Partition(SourceKind.Tick, 0), Encoding.UTF8.GetBytes("ghost" + worker.Lane));
            var rewarmedBefore = tick.RewarmedKeys + tick.FreshKeys;
            Assert.True(engine.ApplyPendingSwap());
            Assert.Same(next, engine.Model);
            Assert.Equal("tick-v2", engine.Batch.ModelVersion);
            // The swap itself re-warms nothing: each key waits for its next micro-batch (here: forced for every key at once).
            Assert.Equal(rewarmedBefore, tick.RewarmedKeys + tick.FreshKeys);
            Assert.True(engine.CompleteRewarm() > 0);
            for (var l = 0; l < cfg.Layers; l++) Assert.All(engine.Slab.H(ghost, l).ToArray(), v => Assert.Equal(0f, v));
            foreach (var key in events.Where(e => e.Kind == SourceKind.Tick).Select(e => e.Key).Distinct())
            {
                var slot = engine.FindSlot(key);
                if (slot < 0) continue;
                var x = new float[tick.RewarmSteps * cfg.InputSize];
                tick.Replay.BeginFeed();
                var n = tick.Replay.LastInputs(tick.Replay.RingFor(key), tick.RewarmSteps, x);
                tick.Replay.EndFeed();
                Assert.Equal(Math.Min(tick.RewarmSteps, events.Count(e => e.Key == key)), n);
                var h = new float[cfg.Layers * cfg.HiddenSize];
                var c = new float[cfg.Layers * cfg.HiddenSize];
                SequenceForward.Run(next, x.AsSpan(0, n * cfg.InputSize), 1, n, h, c, [], new float[n * cfg.Horizons], new float[n * cfg.Horizons]);
                for (var l = 0; l < cfg.Layers; l++)
                {
                    Reference.AssertClose(h.AsSpan(l * cfg.HiddenSize, cfg.HiddenSize), engine.Slab.H(slot, l), 1e-5, $"{key} h layer {l}");
                    Reference.AssertClose(c.AsSpan(l * cfg.HiddenSize, cfg.HiddenSize), engine.Slab.C(slot, l), 1e-5, $"{key} c layer {l}");
                }

                checkedKeys++;
            }
        }

        Assert.Equal(12, checkedKeys);
        Assert.Equal(2, tick.Swaps);
        Assert.Equal(12, tick.RewarmedKeys);
        Assert.Equal(2, tick.FreshKeys);
    }

    [Fact]
    public async Task ASwapMidStream_SkipsNoEvent_StepsNoneTwice_AndLaterForecastsCarryTheNewVersion()
    {
        var ct = TestContext.Current.CancellationToken;
        var models = PipelineInvariantTests.Models(hidden: 8);
        var events = Events.Mixed(3000, ticksKeys: 10, vitalsKeys: 4, audioKeys: 2, seed: 9);
        var (output, pipeline, online, source) = Start(models, ct);
        var half = events.Count / 2;
        for (var i = 0; i < half; i++) await source.AddAsync(events[i].Kind, Events.PartitionOf(events[i].Key, 4), Encoding.UTF8.GetBytes(events[i].Key), events[i].Value, ct);
        await source.FlushAsync(ct);
        await output.WaitForCount(half, TimeSpan.FromSeconds(60), "first half forecast");
        online.For(SourceKind.Tick)!.Publish(Successor(models[SourceKind.Tick], "tick-v2", 42));
        for (var i = half; i < events.Count; i++) await source.AddAsync(events[i].Kind, Events.PartitionOf(events[i].Key, 4), Encoding.UTF8.GetBytes(events[i].Key), events[i].Value, ct);
        await source.FlushAsync(ct);
        await pipeline.CompleteAsync(ct).WaitAsync(TimeSpan.FromSeconds(60), ct);

        Assert.Equal(events.Count, output.Count);
        foreach (var group in output.Rows.GroupBy(r => (r.Source, r.Partition)))
        {
            // Each partition's offsets: every one exactly once.
            var offsets = group.Select(r => r.Offset).Order().ToList();
            Assert.Equal(Enumerable.Range(0, offsets.Count).Select(i => (long)i), offsets);
        }

        var ticks = output.Rows.Where(r => r.Source == SourceKind.Tick).ToList();
        Assert.All(ticks.Where(r => r.Offset < 0), _ => Assert.Fail("negative offset"));
        var swaps = pipeline.Workers.SelectMany(w => w.Engine(SourceKind.Tick)!.SwapLog).ToList();
        Assert.NotEmpty(swaps);
        foreach (var row in ticks)
        {
            // Before the partition's swap offset: the old model; from it on: the new one.
            var swap = swaps.Single(s => s.Partition == row.Partition);
            Assert.Equal(row.Offset >= swap.Offset ? "tick-v2" : models[SourceKind.Tick].Metadata.Version, row.ModelVersion);
        }

        Assert.All(output.Rows.Where(r => r.Source != SourceKind.Tick), r => Assert.NotEqual("tick-v2", r.ModelVersion));
    }
}
