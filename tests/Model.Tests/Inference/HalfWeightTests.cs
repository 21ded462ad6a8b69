using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;
using StreamLstm.Model.Tests.TestSupport;

namespace StreamLstm.Model.Tests.Inference;

/// <summary>
/// The 16-bit weight layout (<see cref="WeightPrecision.BFloat16"/>): the kernel computes bit for bit what the float32
/// kernel of the same width computes on the decoded weights, for every tile shape (one-slot groups of 4/2/1 blocks, the
/// padded last block, odd and even input counts, the multi-slot tiles), so results do not depend on the batch split; the
/// scalar width equals the scalar reference. CI re-runs this class without AVX-512 and without intrinsics.
/// </summary>
[Trait("Category", "Kernel")]
public sealed class HalfWeightTests
{
    public static TheoryData<StepKernelKind> Kinds => new([StepKernelKind.Scalar, StepKernelKind.Vector128, StepKernelKind.Vector256, StepKernelKind.Vector512]);

    [Fact]
    public void Pair_DecodesExactly_AndWithinABfloat16Unit()
    {
        var rng = new Random(5);
        for (var n = 0; n < 200_000; n++)
        {
            var scale = MathF.Pow(2, rng.Next(-30, 30));
            var even = (float)(rng.NextDouble() * 2 - 1) * scale;
            var odd = (float)(rng.NextDouble() * 2 - 1) * MathF.Pow(2, rng.Next(-30, 30));
            var word = Bf16Pairs.Pair(even, odd);
            var lo = Bf16Pairs.Low(word);
            var hi = Bf16Pairs.High(word);
            Assert.Equal(0u, BitConverter.SingleToUInt32Bits(lo) & 0xFFFF);
            Assert.True(Math.Abs(lo - even) <= HalfUnit(even), $"even {even} -> {lo}");
            // The candidates hi:lo are one unit apart inside a binade; just below a power of two the gap to the next
            // binade's first candidate can reach two units, so the bound there is one unit.
            Assert.True(Math.Abs(hi - odd) <= 2 * HalfUnit(odd), $"odd {odd} -> {hi}");
            // Re-encoding decoded values gives the same word (the pack encodes decoded weights).
            Assert.Equal(word, Bf16Pairs.Pair(lo, hi));
        }

        Assert.Equal(0f, Bf16Pairs.Low(Bf16Pairs.Pair(0f, 0f)));
        Assert.Equal(0f, Bf16Pairs.High(Bf16Pairs.Pair(0f, 0f)));
        Assert.Equal(1f, Bf16Pairs.Low(Bf16Pairs.Lone(1f)));
        Assert.True(float.IsFinite(Bf16Pairs.Low(Bf16Pairs.Lone(float.MaxValue))));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void HalfKernel_EqualsFloatKernelOnDecodedWeights_ForEveryShape(StepKernelKind kind)
    {
        Assert.SkipUnless(StepKernels.IsSupported(kind), $"{kind} is not accelerated in this process");
        // Inputs 3 and 4 make the per-layer element count odd and even; hidden sizes give 1..9 blocks at every width.
        foreach (var (inp, hid, layers) in new[] { (3, 1, 1), (4, 5, 2), (3, 7, 1), (8, 16, 1), (3, 17, 2), (8, 20, 1), (4, 33, 2), (8, 48, 1), (8, 64, 1), (3, 64, 2), (5, 80, 1), (8, 100, 1), (4, 144, 1) })
        {
            var cfg = new LstmConfig(inp, hid, layers, 2);
            var model = LstmModel.CreateRandom(cfg, 31 * hid + inp);
            using var half = new LstmStepper(model, 70, 1, kind, WeightPrecision.BFloat16);
            using var reference = new LstmStepper(Bf16Pairs.Effective(model), 70, 1, kind);
            Assert.Equal(WeightPrecision.BFloat16, half.Precision);
            foreach (var b in new[] { 1, 2, 3, 5, 7, 13, 70 }) CompareSteps(cfg, half, reference, b, $"{kind} I={inp} H={hid} L={layers} B={b}");
        }
    }

    [Fact]
    public void ScalarHalfKernel_EqualsScalarReferenceOnDecodedWeights()
    {
        foreach (var (inp, hid) in new[] { (3, 5), (8, 64), (7, 33) })
        {
            var cfg = new LstmConfig(inp, hid, 2, 3);
            var model = LstmModel.CreateRandom(cfg, hid);
            var effective = Bf16Pairs.Effective(model);
            const int b = 6, t = 5;
            var x = RandomArray(new Random(hid), b * t * inp, 2);
            var h = new float[cfg.Layers * b * hid];
            var c = new float[cfg.Layers * b * hid];
            var seq = new float[b * t * hid];
            var muRef = new float[b * t * cfg.Horizons];
            var lsRef = new float[b * t * cfg.Horizons];
            SequenceForward.Run(effective, x, b, t, h, c, seq, muRef, lsRef);

            using var stepper = new LstmStepper(model, b, 1, StepKernelKind.Scalar, WeightPrecision.BFloat16);
            var (mu, ls, hn, cn) = RunSequence(stepper, cfg, x, new float[cfg.Layers * b * hid], new float[cfg.Layers * b * hid], b, t);
            Assert.Equal(muRef, mu);
            Assert.Equal(lsRef, ls);
            Assert.Equal(h, hn);
            Assert.Equal(c, cn);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void HalfKernel_BitIdentical_AcrossBatchSplitsThreadsAndRuns(int threads)
    {
        var cfg = new LstmConfig(8, 64, 1, 3);
        var model = LstmModel.CreateRandom(cfg, 11);
        const int b = 300;
        var x = RandomArray(new Random(3), b * cfg.InputSize, 1);
        using var whole = new LstmStepper(model, b, threads, StepKernelKind.Auto, WeightPrecision.BFloat16);
        using var again = new LstmStepper(model, b, threads, StepKernelKind.Auto, WeightPrecision.BFloat16);
        using var ones = new LstmStepper(model, 1, 1, StepKernelKind.Auto, WeightPrecision.BFloat16);
        var (slabA, slots) = NewSlab(cfg, b);
        var (slabB, _) = NewSlab(cfg, b);
        var (slabC, _) = NewSlab(cfg, b);
        var k = cfg.Horizons;
        var muA = new float[b * k];
        var lsA = new float[b * k];
        var muB = new float[b * k];
        var lsB = new float[b * k];
        var muC = new float[b * k];
        var lsC = new float[b * k];
        for (var step = 0; step < 4; step++)
        {
            whole.Step(slabA, slots, x, muA, lsA);
            again.Step(slabB, slots, x, muB, lsB);
            for (var s = 0; s < b; s++)
            {
                ones.Step(slabC, slots.AsSpan(s, 1), x.AsSpan(s * cfg.InputSize, cfg.InputSize), muC.AsSpan(s * k, k), lsC.AsSpan(s * k, k));
            }

            Assert.Equal(muA, muB);
            Assert.Equal(lsA, lsB);
            Assert.Equal(muA, muC);
            Assert.Equal(lsA, lsC);
        }

        foreach (var s in slots)
        {
            Assert.Equal(slabA.H(s, 0).ToArray(), slabC.H(s, 0).ToArray());
            Assert.Equal(slabA.C(s, 0).ToArray(), slabC.C(s, 0).ToArray());
        }
    }

    [Fact]
    public void Float32Default_IsUnchanged_AndDiffersFromHalf()
    {
        var cfg = new LstmConfig(8, 64, 1, 3);
        var model = LstmModel.CreateRandom(cfg, 4);
        using var plain = new LstmStepper(model, 1, 1);
        using var f32 = new LstmStepper(model, 1, 1, StepKernelKind.Auto, WeightPrecision.Float32);
        using var half = new LstmStepper(model, 1, 1, StepKernelKind.Auto, WeightPrecision.BFloat16);
        Assert.Equal(WeightPrecision.Float32, plain.Precision);
        var x = RandomArray(new Random(9), cfg.InputSize, 1);
        var (s1, slots) = NewSlab(cfg, 1);
        var (s2, _) = NewSlab(cfg, 1);
        var (s3, _) = NewSlab(cfg, 1);
        float[] m1 = new float[3], m2 = new float[3], m3 = new float[3], l = new float[3];
        plain.Step(s1, slots, x, m1, l);
        f32.Step(s2, slots, x, m2, l);
        half.Step(s3, slots, x, m3, l);
        Assert.Equal(m1, m2);
        Assert.NotEqual(m1, m3); // the rounded weights do change results: that is why the format is opt-in
        Assert.Throws<ArgumentOutOfRangeException>(() => new LstmStepper(model, 1, 1, StepKernelKind.Auto, (WeightPrecision)7));
    }

    /// <summary>
    /// Accuracy against PyTorch's float64 forward on both training fixtures, through the one-key path (B = 1 per step,
    /// keys interleaved). Bound: max |Δμ| ≤ 1e-2 · max |μ| (and the same for log σ, h and c) — bfloat16 weights carry
    /// 8 significant bits (relative rounding ≤ 2^-9 ≈ 2e-3 per weight), errors of independent weights partly cancel in
    /// the 72-term gate sums and the gates' slopes are ≤ 1, so the outputs' relative error stays a few times 1e-3 (measured
    /// below); 1e-2 leaves room while still failing if the decode were wrong (a misplaced half gives errors of order 1).
    /// float32 stays within the usual 1e-5 absolute.
    /// </summary>
    [Theory]
    [InlineData(TorchFixture.Small)]
    [InlineData(TorchFixture.Medium)]
    public void HalfWeights_AgainstPyTorch_WithinBound(string name)
    {
        var f = TorchFixture.Load(name);
        var f32 = Errors(f, WeightPrecision.Float32, StepKernelKind.Auto);
        var half = Errors(f, WeightPrecision.BFloat16, StepKernelKind.Auto);
        var ieee = Errors(f, WeightPrecision.Float32, StepKernelKind.Auto, RoundToIeeeHalf(f.Model));
        var output = TestContext.Current.TestOutputHelper;
        foreach (var (label, e) in new[] { ("float32", f32), ("bfloat16", half), ("fp16 (rounded, float32 kernel)", ieee) })
        {
            output?.WriteLine($"{name} {label}: " + string.Join("  ", e.Select(r => $"{r.Tensor} max {r.Max:E2} mean {r.Mean:E2} rel {r.Rel:E2}")));
        }

        foreach (var r in f32) Assert.True(r.Max <= 1e-5, $"float32 {r.Tensor}: {r.Max}");
        foreach (var r in half) Assert.True(r.Rel <= 1e-2, $"bfloat16 {r.Tensor}: max {r.Max} = {r.Rel} of max |ref|");
        // And it is a real change, an order of magnitude above float32's rounding.
        Assert.True(half.Max(r => r.Max) > 10 * f32.Max(r => r.Max));
    }

    internal sealed record ErrorRow(string Tensor, double Max, double Mean, double Rel);

    /// <summary>Steps the fixture's sequences one key per call and compares h (every step), c (final), μ and log σ.</summary>
    internal static List<ErrorRow> Errors(TorchFixture f, WeightPrecision precision, StepKernelKind kind, LstmModel? model = null)
    {
        var cfg = f.Config;
        int b = f.Batch, t = f.Steps, hid = cfg.HiddenSize, k = cfg.Horizons, inp = cfg.InputSize;
        using var stepper = new LstmStepper(model ?? f.Model, 1, 1, kind, precision);
        var slab = new StateSlab(cfg, b);
        var slots = new int[b];
        var h0 = f.Floats("input.h0");
        var c0 = f.Floats("input.c0");
        for (var i = 0; i < b; i++)
        {
            slots[i] = slab.Allocate();
            for (var l = 0; l < cfg.Layers; l++)
            {
                h0.AsSpan((l * b + i) * hid, hid).CopyTo(slab.H(slots[i], l));
                c0.AsSpan((l * b + i) * hid, hid).CopyTo(slab.C(slots[i], l));
            }
        }

        var x = f.Floats("input.x");
        var seq = new float[b * t * hid];
        var mu = new float[b * t * k];
        var ls = new float[b * t * k];
        for (var s = 0; s < t; s++)
        {
            for (var i = 0; i < b; i++)
            {
                var at = i * t + s;
                stepper.Step(slab, slots.AsSpan(i, 1), x.AsSpan(at * inp, inp), mu.AsSpan(at * k, k), ls.AsSpan(at * k, k));
                slab.H(slots[i], cfg.Layers - 1).CopyTo(seq.AsSpan(at * hid));
            }
        }

        var cn = new float[cfg.Layers * b * hid];
        for (var i = 0; i < b; i++)
        {
            for (var l = 0; l < cfg.Layers; l++) slab.C(slots[i], l).CopyTo(cn.AsSpan((l * b + i) * hid));
        }

        return
        [
            Row("h", seq, f.Doubles("output.seq")),
            Row("c", cn, f.Doubles("output.cn")),
            Row("mu", mu, f.Doubles("output.mu")),
            Row("log_sigma", ls, f.Doubles("output.log_sigma")),
        ];
    }

    private static ErrorRow Row(string name, float[] actual, double[] expected)
    {
        double max = 0, sum = 0, maxRef = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            var d = Math.Abs(actual[i] - expected[i]);
            max = Math.Max(max, d);
            sum += d;
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }

        return new ErrorRow(name, max, sum / actual.Length, max / maxRef);
    }

    /// <summary>The model with its gate weights rounded to IEEE binary16 (for comparison only: no kernel reads that format).</summary>
    private static LstmModel RoundToIeeeHalf(LstmModel m)
    {
        var copy = Bf16Pairs.Effective(m); // same biases and head; gate weights overwritten below
        for (var l = 0; l < m.Config.Layers; l++)
        {
            for (var i = 0; i < m.WeightIh[l].Length; i++) copy.WeightIh[l][i] = (float)(Half)m.WeightIh[l][i];
            for (var i = 0; i < m.WeightHh[l].Length; i++) copy.WeightHh[l][i] = (float)(Half)m.WeightHh[l][i];
        }

        return copy;
    }

    private static void CompareSteps(LstmConfig cfg, LstmStepper half, LstmStepper reference, int b, string what)
    {
        var (slabA, slots) = NewSlab(cfg, b);
        var (slabB, _) = NewSlab(cfg, b);
        var x = RandomArray(new Random(b), b * cfg.InputSize, 2);
        var k = cfg.Horizons;
        float[] muA = new float[b * k], lsA = new float[b * k], muB = new float[b * k], lsB = new float[b * k];
        for (var step = 0; step < 3; step++)
        {
            half.Step(slabA, slots, x, muA, lsA);
            reference.Step(slabB, slots, x, muB, lsB);
            Assert.True(muA.AsSpan().SequenceEqual(muB), $"{what} step {step}: mu differs");
            Assert.True(lsA.AsSpan().SequenceEqual(lsB), $"{what} step {step}: log sigma differs");
        }

        foreach (var s in slots)
        {
            for (var l = 0; l < cfg.Layers; l++)
            {
                Assert.True(slabA.H(s, l).SequenceEqual(slabB.H(s, l)), $"{what}: h differs");
                Assert.True(slabA.C(s, l).SequenceEqual(slabB.C(s, l)), $"{what}: c differs");
            }
        }
    }

    private static (float[] Mu, float[] Ls, float[] H, float[] C) RunSequence(LstmStepper stepper, LstmConfig cfg, float[] x, float[] h0, float[] c0, int b, int t)
    {
        int hid = cfg.HiddenSize, k = cfg.Horizons, inp = cfg.InputSize;
        var (slab, slots) = NewSlab(cfg, b);
        for (var i = 0; i < b; i++)
        {
            for (var l = 0; l < cfg.Layers; l++)
            {
                h0.AsSpan((l * b + i) * hid, hid).CopyTo(slab.H(slots[i], l));
                c0.AsSpan((l * b + i) * hid, hid).CopyTo(slab.C(slots[i], l));
            }
        }

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

        return (allMu, allLs, hn, cn);
    }

    private static (StateSlab Slab, int[] Slots) NewSlab(LstmConfig cfg, int b)
    {
        var slab = new StateSlab(cfg, b);
        var slots = new int[b];
        var rng = new Random(b + 1);
        for (var i = 0; i < b; i++)
        {
            slots[i] = slab.Allocate();
            for (var l = 0; l < cfg.Layers; l++)
            {
                var h = slab.H(slots[i], l);
                var c = slab.C(slots[i], l);
                for (var j = 0; j < h.Length; j++)
                {
                    h[j] = (float)(rng.NextDouble() * 2 - 1);
                    c[j] = (float)(rng.NextDouble() * 2 - 1);
                }
            }
        }

        return (slab, slots);
    }

    private static float[] RandomArray(Random rng, int n, float scale)
    {
        var a = new float[n];
        for (var i = 0; i < n; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return a;
    }

    private static float HalfUnit(float v)
    {
        // Half a bfloat16 unit in the last place at v's binade (and the subnormal spacing floor).
        var e = Math.Max(MathF.ILogB(v), -126);
        return MathF.ScaleB(1f, e - 8);
    }
}
