using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;

namespace StreamLstm.Model.Tests.Inference;

/// <summary>
/// The single-slot path (fewer than four slots) reads the interleaved copy of the weights in groups of blocks; its
/// gate sums must be bit-identical to the four/six-slot tiles that read the block-major pack, for every group shape
/// (a full group of four, a pair, a lone block, and the padded last block).
/// </summary>
[Trait("Category", "Kernel")]
public sealed class SingleSlotPathTests
{
    public static TheoryData<StepKernelKind> Kinds => new([StepKernelKind.Scalar, StepKernelKind.Vector128, StepKernelKind.Vector256, StepKernelKind.Vector512]);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void OneSlotAtATime_MatchesBatchTiles_BitForBit(StepKernelKind kind)
    {
        Assert.SkipUnless(StepKernels.IsSupported(kind), $"{kind} is not accelerated here");
        // Hidden sizes giving 1..9 blocks per width, so groups of 4, 2 and 1 and a partial block all occur.
        foreach (var hid in new[] { 7, 20, 48, 64, 80, 100, 144 })
        {
            var cfg = new LstmConfig(5, hid, 2, 2);
            var model = LstmModel.CreateRandom(cfg, hid);
            using var stepper = new LstmStepper(model, 4, 1, kind);
            var rng = new Random(hid);
            var x = new float[4 * cfg.InputSize];
            for (var i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            var batch = new StateSlab(cfg, 4);
            var single = new StateSlab(cfg, 4);
            int[] slots = [batch.Allocate(), batch.Allocate(), batch.Allocate(), batch.Allocate()];
            for (var s = 0; s < 4; s++) Assert.Equal(slots[s], single.Allocate());
            var muB = new float[4 * cfg.Horizons];
            var lsB = new float[4 * cfg.Horizons];
            var muS = new float[4 * cfg.Horizons];
            var lsS = new float[4 * cfg.Horizons];
            for (var step = 0; step < 3; step++)
            {
                stepper.Step(batch, slots, x, muB, lsB);
                for (var s = 0; s < 4; s++)
                {
                    var k = cfg.Horizons;
                    stepper.Step(single, slots.AsSpan(s, 1), x.AsSpan(s * cfg.InputSize, cfg.InputSize), muS.AsSpan(s * k, k), lsS.AsSpan(s * k, k));
                }

                Assert.Equal(muB, muS);
                Assert.Equal(lsB, lsS);
                for (var s = 0; s < 4; s++)
                {
                    for (var l = 0; l < cfg.Layers; l++)
                    {
                        Assert.Equal(batch.H(slots[s], l).ToArray(), single.H(slots[s], l).ToArray());
                        Assert.Equal(batch.C(slots[s], l).ToArray(), single.C(slots[s], l).ToArray());
                    }
                }
            }
        }
    }
}
