using StreamLstm.Model.Inference;
using StreamLstm.Model.State;
using StreamLstm.Model.Tests.TestSupport;

namespace StreamLstm.Model.Tests.Inference;

/// <summary>Forward pass against PyTorch's float64 reference (tolerance 1e-5 absolute).</summary>
public class SequenceForwardParityTests
{
    private const double Tol = 1e-5;

    [Theory]
    [InlineData(TorchFixture.Small)]
    [InlineData(TorchFixture.Medium)]
    public void SequenceForward_MatchesPyTorch(string name)
    {
        var f = TorchFixture.Load(name);
        var cfg = f.Config;
        int b = f.Batch, t = f.Steps;
        var h = f.Floats("input.h0");
        var c = f.Floats("input.c0");
        var seq = new float[b * t * cfg.HiddenSize];
        var mu = new float[b * t * cfg.Horizons];
        var ls = new float[b * t * cfg.Horizons];

        SequenceForward.Run(f.Model, f.Floats("input.x"), b, t, h, c, seq, mu, ls);

        Assert.InRange(TorchFixture.MaxAbsDiff(seq, f.Doubles("output.seq")), 0, Tol);
        Assert.InRange(TorchFixture.MaxAbsDiff(h, f.Doubles("output.hn")), 0, Tol);
        Assert.InRange(TorchFixture.MaxAbsDiff(c, f.Doubles("output.cn")), 0, Tol);
        Assert.InRange(TorchFixture.MaxAbsDiff(mu, f.Doubles("output.mu")), 0, Tol);
        Assert.InRange(TorchFixture.MaxAbsDiff(ls, f.Doubles("output.log_sigma")), 0, Tol);
    }

    [Theory]
    [InlineData(TorchFixture.Small, 1)]
    [InlineData(TorchFixture.Medium, 1)]
    [InlineData(TorchFixture.Medium, 2)]
    public void StepperThroughSlab_MatchesPyTorch(string name, int threads)
    {
        var f = TorchFixture.Load(name);
        var cfg = f.Config;
        int b = f.Batch, t = f.Steps, hid = cfg.HiddenSize, k = cfg.Horizons, inp = cfg.InputSize;
        var slab = new StateSlab(cfg, 2);
        // Allocate with gaps so slot indices differ from batch rows.
        var slots = new int[b];
        for (var i = 0; i < b; i++)
        {
            var spare = slab.Allocate();
            slots[i] = slab.Allocate();
            slab.Free(spare);
            _ = slab.Allocate();
        }

        var h0 = f.Floats("input.h0");
        var c0 = f.Floats("input.c0");
        for (var i = 0; i < b; i++)
        {
            for (var l = 0; l < cfg.Layers; l++)
            {
                h0.AsSpan((l * b + i) * hid, hid).CopyTo(slab.H(slots[i], l));
                c0.AsSpan((l * b + i) * hid, hid).CopyTo(slab.C(slots[i], l));
            }
        }

        var stepper = new LstmStepper(f.Model, b, threads);
        var x = f.Floats("input.x");
        var xt = new float[b * inp];
        var mu = new float[b * k];
        var ls = new float[b * k];
        var allMu = new float[b * t * k];
        var allLs = new float[b * t * k];
        for (var s = 0; s < t; s++)
        {
            for (var i = 0; i < b; i++) x.AsSpan((i * t + s) * inp, inp).CopyTo(xt.AsSpan(i * inp));
            stepper.Step(slab, slots, xt, mu, ls);
            for (var i = 0; i < b; i++)
            {
                mu.AsSpan(i * k, k).CopyTo(allMu.AsSpan((i * t + s) * k));
                ls.AsSpan(i * k, k).CopyTo(allLs.AsSpan((i * t + s) * k));
            }
        }

        Assert.InRange(TorchFixture.MaxAbsDiff(allMu, f.Doubles("output.mu")), 0, Tol);
        Assert.InRange(TorchFixture.MaxAbsDiff(allLs, f.Doubles("output.log_sigma")), 0, Tol);
        var hn = new float[cfg.Layers * b * hid];
        var cn = new float[cfg.Layers * b * hid];
        for (var i = 0; i < b; i++)
        {
            for (var l = 0; l < cfg.Layers; l++)
            {
                slab.H(slots[i], l).CopyTo(hn.AsSpan((l * b + i) * hid));
                slab.C(slots[i], l).CopyTo(cn.AsSpan((l * b + i) * hid));
            }
        }

        Assert.InRange(TorchFixture.MaxAbsDiff(hn, f.Doubles("output.hn")), 0, Tol);
        Assert.InRange(TorchFixture.MaxAbsDiff(cn, f.Doubles("output.cn")), 0, Tol);
    }
}
