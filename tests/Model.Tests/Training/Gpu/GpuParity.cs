using StreamLstm.Model.Lstm;
using StreamLstm.Model.Tests.TestSupport;
using StreamLstm.Model.Training;
using StreamLstm.Model.Training.Gpu;

namespace StreamLstm.Model.Tests.Training.Gpu;

/// <summary>The GPU trainer's checks, run on a given accelerator (the CPU accelerator in the default suite, CUDA in Category=Gpu).</summary>
internal static class GpuParity
{
    public static TrainingOptions Options(double dropout = 0) => new()
    {
        LearningRate = 5e-3,
        ClipNorm = 0.5,
        Seed = 11,
        Dropout = dropout,
        LrWarmupSteps = 5,
        LrDecay = LrDecay.Cosine,
        Epochs = 1,
        BatchesPerEpoch = 20,
        MinLearningRate = 1e-4,
    };

    /// <summary>A random batch with initial states, a mask with zeros and uneven weights.</summary>
    public static TrainingBatch Batch(LstmConfig cfg, int b, int t, int seed, bool weighted, int warmup = 0)
    {
        var rng = new Random(seed);
        float[] R(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
        var state = cfg.Layers * b * cfg.HiddenSize;
        return new TrainingBatch(b, t, R(b * t * cfg.InputSize, 1f), R(b * t * cfg.Horizons, 1f))
        {
            H0 = R(state, 0.5f),
            C0 = R(state, 1f),
            Mask = weighted ? Enumerable.Range(0, b * t * cfg.Horizons).Select(i => i % 5 == 3 ? 0f : 1f).ToArray() : null,
            Weights = weighted ? Enumerable.Range(0, b).Select(i => 0.5f + i % 3).ToArray() : null,
            WarmupSteps = warmup,
            WarmupX = warmup > 0 ? R(b * warmup * cfg.InputSize, 1f) : null,
        };
    }

    /// <summary>Max |a − e| over max |e| (the inf-norm relative error used for gradients everywhere).</summary>
    public static double RelError(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected)
    {
        double err = 0, scale = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            err = Math.Max(err, Math.Abs(actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }

        return scale > 0 ? err / scale : err;
    }

    public static double MaxAbs(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var m = 0.0;
        for (var i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    public static ForwardOutputs Outputs(LstmConfig cfg, int b, int t) => new()
    {
        Mu = new float[b * t * cfg.Horizons],
        LogSigma = new float[b * t * cfg.Horizons],
        Seq = new float[b * t * cfg.HiddenSize],
        Hn = new float[cfg.Layers * b * cfg.HiddenSize],
        Cn = new float[cfg.Layers * b * cfg.HiddenSize],
    };

    /// <summary>Loss, every gradient (1e-4 relative) and every forward output (1e-5 absolute) against the CPU trainer.</summary>
    public static void GradientsMatchCpu(GpuTarget target, LstmConfig cfg, int b, int t, bool weighted, int warmup)
    {
        var batch = Batch(cfg, b, t, 3, weighted, warmup);
        var model = LstmModel.CreateRandom(cfg, 4);
        using var cpu = new LstmTrainer(LstmModel.CreateRandom(cfg, 4), Options());
        using var gpu = new GpuLstmTrainer(model, Options(), target);
        var (gc, gg) = (new Gradients(cfg), new Gradients(cfg));
        var (oc, og) = (Outputs(cfg, b, t), Outputs(cfg, b, t));
        var lc = cpu.ComputeGradients(batch, gc, oc);
        var lg = gpu.ComputeGradients(batch, gg, og);
        Assert.True(Math.Abs(lg - lc) <= 1e-4 * Math.Abs(lc), $"loss {lg} vs CPU {lc}");
        for (var p = 0; p < gc.Names.Count; p++)
        {
            var rel = RelError(gg.Values[p], gc.Values[p]);
            Assert.True(rel <= 1e-4, $"grad {gc.Names[p]}: {rel:E2} relative to the CPU trainer");
            Assert.Contains(gc.Values[p], v => v != 0);
        }

        Assert.InRange(MaxAbs(og.Mu, oc.Mu), 0, 1e-5);
        Assert.InRange(MaxAbs(og.LogSigma, oc.LogSigma), 0, 1e-5);
        Assert.InRange(MaxAbs(og.Seq, oc.Seq), 0, 1e-5);
        Assert.InRange(MaxAbs(og.Hn, oc.Hn), 0, 1e-5);
        Assert.InRange(MaxAbs(og.Cn, oc.Cn), 0, 1e-5);
    }

    /// <summary>20 Adam steps (schedule, clipping, dropout, masks, weights) on both trainers; parameters within 1e-4.</summary>
    public static void WeightsAfterAdamMatchCpu(GpuTarget target, LstmConfig cfg, double dropout)
    {
        var a = LstmModel.CreateRandom(cfg, 9);
        var g = LstmModel.CreateRandom(cfg, 9);
        using var cpu = new LstmTrainer(a, Options(dropout));
        using var gpu = new GpuLstmTrainer(g, Options(dropout), target);
        for (var step = 0; step < 20; step++)
        {
            var batch = Batch(cfg, 6, 5, 100 + step, weighted: step % 2 == 0, warmup: step % 3 == 0 ? 2 : 0);
            var rc = cpu.TrainBatch(batch);
            var rg = gpu.TrainBatch(batch);
            Assert.True(Math.Abs(rg.Loss - rc.Loss) <= 1e-4 * Math.Abs(rc.Loss), $"step {step}: loss {rg.Loss} vs CPU {rc.Loss}");
            Assert.True(Math.Abs(rg.GradNorm - rc.GradNorm) <= 1e-4 * rc.GradNorm, $"step {step}: grad norm {rg.GradNorm} vs CPU {rc.GradNorm}");
            Assert.Equal(rc.LearningRate, rg.LearningRate);
        }

        gpu.SyncModel();
        var pa = a.Parameters();
        var pg = g.Parameters();
        var moved = 0.0;
        var start = LstmModel.CreateRandom(cfg, 9).Parameters();
        for (var p = 0; p < pa.Count; p++)
        {
            Assert.InRange(MaxAbs(pg[p].Values, pa[p].Values), 0, 1e-4);
            moved = Math.Max(moved, MaxAbs(pa[p].Values, start[p].Values));
        }

        Assert.True(moved > 1e-2, $"training moved parameters by only {moved}");
        Assert.Equal(20, gpu.StepCount);
    }

    /// <summary>Loss, outputs and gradients of a PyTorch fixture (float64 reference).</summary>
    public static void MatchesTorchFixture(GpuTarget target, string name)
    {
        var f = TorchFixture.Load(name);
        var cfg = f.Config;
        int b = f.Batch, t = f.Steps;
        using var gpu = new GpuLstmTrainer(f.Model, new TrainingOptions(), target);
        var outs = Outputs(cfg, b, t);
        var grads = new Gradients(cfg);
        var batch = new TrainingBatch(b, t, f.Floats("input.x"), f.Floats("input.y")) { H0 = f.Floats("input.h0"), C0 = f.Floats("input.c0") };
        var loss = gpu.ComputeGradients(batch, grads, outs);
        Assert.Equal(f.Doubles("output.loss")[0], loss, 1e-5);
        Assert.InRange(TorchFixture.MaxAbsDiff(outs.Mu, f.Doubles("output.mu")), 0, 1e-5);
        Assert.InRange(TorchFixture.MaxAbsDiff(outs.LogSigma, f.Doubles("output.log_sigma")), 0, 1e-5);
        Assert.InRange(TorchFixture.MaxAbsDiff(outs.Seq, f.Doubles("output.seq")), 0, 1e-5);
        Assert.InRange(TorchFixture.MaxAbsDiff(outs.Hn, f.Doubles("output.hn")), 0, 1e-5);
        Assert.InRange(TorchFixture.MaxAbsDiff(outs.Cn, f.Doubles("output.cn")), 0, 1e-5);
        for (var p = 0; p < grads.Names.Count; p++)
        {
            var rel = RelError(grads.Values[p], f.Doubles("grad." + grads.Names[p]));
            Assert.True(rel <= 1e-4, $"grad.{grads.Names[p]}: {rel:E2} relative to PyTorch");
        }
    }
}
