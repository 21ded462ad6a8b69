using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;
using StreamLstm.Model.Tests.TestSupport;

namespace StreamLstm.Model.Tests.Inference;

/// <summary>
/// Every kernel this process can run against a plain float64 reference. CI re-runs this class with
/// DOTNET_EnableHWIntrinsic=0 (scalar path) and DOTNET_EnableAVX512F=0 (Vector256/128 without the AVX-512 reciprocal).
/// </summary>
[Trait("Category", "Kernel")]
public class StepKernelReferenceTests
{
    private const double Tol = 1e-5;

    public static TheoryData<int> Hiddens => new([1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 31, 32, 33, 64, 128]);

    public static TheoryData<StepKernelKind> Kinds => new([StepKernelKind.Auto, StepKernelKind.Scalar, StepKernelKind.Vector128, StepKernelKind.Vector256, StepKernelKind.Vector512]);

    [Theory]
    [MemberData(nameof(Hiddens))]
    public void AutoKernel_MatchesReference_ForEveryBatchSize(int hidden)
    {
        var cfg = new LstmConfig(3, hidden, 2, 2);
        var model = LstmModel.CreateRandom(cfg, 1000 + hidden);
        var stepper = new LstmStepper(model, 70);
        var rng = new Random(hidden);
        for (var b = 0; b <= 70; b++) CheckBatch(model, stepper, b, rng, $"H={hidden} B={b} kernel={stepper.Kernel}");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EachSupportedKernel_MatchesReference(StepKernelKind kind)
    {
        Assert.SkipUnless(StepKernels.IsSupported(kind), $"{kind} is not accelerated in this process");
        foreach (var hidden in new[] { 1, 5, 8, 16, 17, 33, 64 })
        {
            var cfg = new LstmConfig(4, hidden, 3, 3);
            var model = LstmModel.CreateRandom(cfg, hidden);
            var stepper = new LstmStepper(model, 40, 1, kind);
            var rng = new Random(7 * hidden);
            foreach (var b in new[] { 0, 1, 3, 4, 5, 31, 32, 33, 40 }) CheckBatch(model, stepper, b, rng, $"H={hidden} B={b} kernel={kind}");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ThreadCount_DoesNotChangeResults(int threads)
    {
        var cfg = new LstmConfig(8, 33, 2, 2);
        var model = LstmModel.CreateRandom(cfg, 3);
        const int b = 1000;
        var (slabA, slots) = NewSlab(cfg, b, new Random(1));
        var (slabB, _) = NewSlab(cfg, b, new Random(1));
        var x = RandomArray(new Random(2), b * cfg.InputSize, 2);
        var muA = new float[b * 2];
        var lsA = new float[b * 2];
        var muB = new float[b * 2];
        var lsB = new float[b * 2];
        using var one = new LstmStepper(model, b, 1);
        using var many = new LstmStepper(model, b, threads);
        for (var step = 0; step < 3; step++)
        {
            one.Step(slabA, slots, x, muA, lsA);
            many.Step(slabB, slots, x, muB, lsB);
        }

        Assert.Equal(muA, muB);
        Assert.Equal(lsA, lsB);
        foreach (var s in slots)
        {
            for (var l = 0; l < cfg.Layers; l++)
            {
                Assert.Equal(slabA.H(s, l).ToArray(), slabB.H(s, l).ToArray());
                Assert.Equal(slabA.C(s, l).ToArray(), slabB.C(s, l).ToArray());
            }
        }
    }

    private static void CheckBatch(LstmModel model, LstmStepper stepper, int b, Random rng, string what)
    {
        var cfg = model.Config;
        int hid = cfg.HiddenSize, k = cfg.Horizons, inp = cfg.InputSize;
        var (slab, slots) = NewSlab(cfg, b, rng);
        var refH = slots.Select(s => Enumerable.Range(0, cfg.Layers).Select(l => slab.H(s, l).ToArray().Select(v => (double)v).ToArray()).ToArray()).ToArray();
        var refC = slots.Select(s => Enumerable.Range(0, cfg.Layers).Select(l => slab.C(s, l).ToArray().Select(v => (double)v).ToArray()).ToArray()).ToArray();
        var mu = new float[b * k];
        var ls = new float[b * k];
        for (var step = 0; step < 2; step++)
        {
            var x = RandomArray(rng, b * inp, 2);
            stepper.Step(slab, slots, x, mu, ls);
            for (var i = 0; i < b; i++)
            {
                var (rmu, rls) = ReferenceLstm.Step(model, x.AsSpan(i * inp, inp).ToArray().Select(v => (double)v).ToArray(), refH[i], refC[i]);
                for (var o = 0; o < k; o++)
                {
                    Near(rmu[o], mu[i * k + o], what, step, i, "mu", 0, o);
                    Near(rls[o], ls[i * k + o], what, step, i, "logSigma", 0, o);
                }

                for (var l = 0; l < cfg.Layers; l++)
                {
                    var h = slab.H(slots[i], l);
                    var c = slab.C(slots[i], l);
                    for (var j = 0; j < hid; j++)
                    {
                        Near(refH[i][l][j], h[j], what, step, i, "h", l, j);
                        Near(refC[i][l][j], c[j], what, step, i, "c", l, j);
                    }
                }
            }
        }
    }

    private static void Near(double expected, float actual, string what, int step, int row, string tensor, int layer, int index)
    {
        // The message is built only on failure: this runs millions of times.
        if (!(Math.Abs(expected - actual) <= Tol)) Assert.Fail($"{what} step {step} row {row} {tensor}[{layer}][{index}]: expected {expected}, got {actual}");
    }

    /// <summary>A slab whose chosen slots are scattered, shuffled and interleaved with freed ones, with random non-zero states.</summary>
    private static (StateSlab Slab, int[] Slots) NewSlab(LstmConfig cfg, int b, Random rng)
    {
        var slab = new StateSlab(cfg, 4);
        var all = Enumerable.Range(0, 2 * b + 3).Select(_ => slab.Allocate()).ToArray();
        var chosen = all.OrderBy(_ => rng.Next()).Take(b).ToArray();
        foreach (var s in all.Except(chosen).Where(_ => rng.Next(2) == 0)) slab.Free(s);
        foreach (var s in chosen)
        {
            for (var l = 0; l < cfg.Layers; l++)
            {
                RandomArray(rng, cfg.HiddenSize, 0.9).CopyTo(slab.H(s, l));
                RandomArray(rng, cfg.HiddenSize, 2).CopyTo(slab.C(s, l));
            }
        }

        return (slab, chosen);
    }

    private static float[] RandomArray(Random rng, int n, double scale) =>
        Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
}
