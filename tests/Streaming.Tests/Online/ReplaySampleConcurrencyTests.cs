using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;
using StreamLstm.Streaming.Online.Replay;

namespace StreamLstm.Streaming.Tests.Online;

public class ReplaySampleConcurrencyTests
{
    private const int I = 3, K = 2, L = 2, H = 4, Keys = 6, Window = 64, Every = 8, Steps = 10;

    // Event e of key k: input f is Code(k, e) + f, and the state before the event is Code(k, e) (h) and -Code(k, e) (c).
    private static float Code(int k, long e) => k * 100_000 + e;

    private sealed class Feeder
    {
        private readonly StateSlab _slab = new(new LstmConfig(I, H, L, K), Keys);
        private readonly int[] _slots;
        private readonly float[] _x = new float[I];
        private long _events;

        public Feeder(ReplayBuffer buffer)
        {
            Buffer = buffer;
            _slots = Enumerable.Range(0, Keys).Select(_ => _slab.Allocate()).ToArray();
        }

        public ReplayBuffer Buffer { get; }

        // One micro-batch: one event per key.
        public void Batch()
        {
            var e = _events++;
            Buffer.BeginFeed();
            for (var k = 0; k < Keys; k++)
            {
                for (var f = 0; f < I; f++) _x[f] = Code(k, e) + f;
                for (var l = 0; l < L; l++)
                {
                    _slab.H(_slots[k], l).Fill(Code(k, e));
                    _slab.C(_slots[k], l).Fill(-Code(k, e));
                }

                Buffer.Record(Buffer.RingFor("k" + k), _x, _slab, _slots[k], (e * Keys) + k);
            }

            Buffer.EndFeed();
        }
    }

    // Every window is one key's consecutive events from the snapshot it starts at, with that snapshot's state and its targets.
    private static void AssertConsistent(ReplayWindows w)
    {
        for (var n = 0; n < w.Count; n++)
        {
            var start = w.H0[n * L * H];
            var key = (int)(start / 100_000);
            var e0 = (long)start - key * 100_000L;
            Assert.Equal(0, e0 % Every);
            for (var j = 0; j < L * H; j++)
            {
                Assert.Equal(start, w.H0[n * L * H + j]);
                Assert.Equal(-start, w.C0[n * L * H + j]);
            }

            for (var t = 0; t < Steps; t++)
            {
                for (var f = 0; f < I; f++) Assert.Equal(Code(key, e0 + t) + f, w.X[(n * Steps + t) * I + f]);
                for (var h = 0; h < K; h++) Assert.Equal(Code(key, e0 + t + h + 1), w.Y[(n * Steps + t) * K + h]);
            }
        }
    }

    [Fact]
    public async Task Sample_WhileAWorkerFeeds_CopiesOnlyConsistentWindows_WithoutTheFeedLock()
    {
        var feeder = new Feeder(new ReplayBuffer(I, K, L, H, Window, Every, maxKeys: 100));
        for (var b = 0; b < 2 * Window; b++) feeder.Batch();
        using var stop = new CancellationTokenSource();
        var ct = TestContext.Current.CancellationToken;
        long batches = 0;
        var feeding = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                feeder.Batch();
                Interlocked.Increment(ref batches);
            }
        }, ct);

        ReplaySample? reuse = null;
        var samples = 0;
        try
        {
            // Until the feeder has raced many samples (and at least 200 samples were checked).
            while (samples < 200 || Interlocked.Read(ref batches) < 20_000)
            {
                Assert.False(feeding.IsCompleted, "the feeder stopped");
                var sample = feeder.Buffer.Sample(Steps, holdoutKeys: 2, reuse: reuse);
                Assert.True(sample.Train.Count > 0 && sample.Holdout.Count == 2, $"sample {samples}: {sample.Train.Count} training, {sample.Holdout.Count} held-out windows");
                AssertConsistent(sample.Train);
                AssertConsistent(sample.Holdout);
                reuse = sample;
                samples++;
                ct.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            await stop.CancelAsync();
            await feeding.WaitAsync(TimeSpan.FromSeconds(30), ct);
        }
    }

    [Fact]
    public async Task Save_WhileAWorkerFeeds_WritesEachRingAsOfOneMoment_WithoutTheFeedLock()
    {
        var feeder = new Feeder(new ReplayBuffer(I, K, L, H, Window, Every, maxKeys: 100));
        for (var b = 0; b < 2 * Window; b++) feeder.Batch();
        using var stop = new CancellationTokenSource();
        var ct = TestContext.Current.CancellationToken;
        long batches = 0;
        var feeding = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                feeder.Batch();
                Interlocked.Increment(ref batches);
            }
        }, ct);

        var saves = 0;
        try
        {
            while (saves < 100 || Interlocked.Read(ref batches) < 20_000)
            {
                Assert.False(feeding.IsCompleted, "the feeder stopped");
                using var file = new MemoryStream();
                feeder.Buffer.Save(file);
                file.Position = 0;
                var loaded = new ReplayBuffer(I, K, L, H, Window, Every, maxKeys: 100);
                Assert.True(loaded.TryLoad(file));
                Assert.Equal(Keys, loaded.KeyCount);
                var sample = loaded.Sample(Steps, holdoutKeys: 2);
                Assert.True(sample.Train.Count > 0, $"save {saves}: no training windows");
                AssertConsistent(sample.Train);
                AssertConsistent(sample.Holdout);
                saves++;
                ct.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            await stop.CancelAsync();
            await feeding.WaitAsync(TimeSpan.FromSeconds(30), ct);
        }
    }

    [Fact]
    public void Sample_IntoAPreviousSample_RefillsItsArrays_WithTheSameWindowsAsAFreshSample_AndABatchFillAllocatesNothing()
    {
        var feeder = new Feeder(new ReplayBuffer(I, K, L, H, Window, Every, maxKeys: 100));
        for (var b = 0; b < 3 * Window; b++) feeder.Batch();
        var first = feeder.Buffer.Sample(Steps, 2);
        for (var b = 0; b < 20; b++) feeder.Batch();
        var fresh = feeder.Buffer.Sample(Steps, 2);
        var (x, weights) = (first.Train.X, first.Train.Weights);
        var reused = feeder.Buffer.Sample(Steps, 2, reuse: first);
        Assert.Same(first.Train, reused.Train);
        Assert.Same(x, reused.Train.X);
        Assert.Same(weights, reused.Train.Weights);
        Assert.Equal(fresh.Train.Count, reused.Train.Count);
        Assert.Equal(fresh.Train.X, reused.Train.X.AsSpan(0, fresh.Train.X.Length).ToArray());
        Assert.Equal(fresh.Train.H0, reused.Train.H0.AsSpan(0, fresh.Train.H0.Length).ToArray());
        Assert.Equal(fresh.Train.Weights, reused.Train.Weights.AsSpan(0, fresh.Train.Count).ToArray());
        Assert.Equal(fresh.Holdout.Y, reused.Holdout.Y.AsSpan(0, fresh.Holdout.Y.Length).ToArray());
        Assert.Equal((fresh.FromSeq, fresh.ToSeq), (reused.FromSeq, reused.ToSeq));

        int[] picks = [3, 0, 5, 1];
        var batch = reused.Train.NewBatch(picks.Length);
        reused.Train.Fill(picks, batch);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var s = 0; s < 1000; s++) reused.Train.Fill(picks, batch);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        var expected = fresh.Train.Batch(picks);
        Assert.Equal(expected.X, batch.X);
        Assert.Equal(expected.Y, batch.Y);
        Assert.Equal(expected.H0, batch.H0);
        Assert.Equal(expected.C0, batch.C0);
    }
}
