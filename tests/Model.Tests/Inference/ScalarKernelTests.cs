using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;

namespace StreamLstm.Model.Tests.Inference;

/// <summary>
/// The scalar instance of the generic step kernel computes exactly what <see cref="ScalarCell"/> (behind
/// <see cref="SequenceForward"/>) computes: same FMA order, MathF exp/tanh, unfused cell update, bias-first head.
/// </summary>
[Trait("Category", "Kernel")]
public class ScalarKernelTests
{
    [Theory]
    [InlineData(3, 1, 1, 1, 1)]
    [InlineData(4, 5, 2, 3, 7)]
    [InlineData(8, 17, 1, 2, 13)]
    [InlineData(8, 64, 2, 2, 53)]
    public void ScalarKernel_IsBitIdenticalToScalarCell(int inputs, int hidden, int layers, int horizons, int batch)
    {
        var cfg = new LstmConfig(inputs, hidden, layers, horizons);
        var model = LstmModel.CreateRandom(cfg, hidden + layers);
        var rng = new Random(batch);
        var slab = new StateSlab(cfg, 2 * batch);
        var slots = Enumerable.Range(0, 2 * batch).Select(_ => slab.Allocate()).OrderBy(_ => rng.Next()).Take(batch).ToArray();
        var h = new float[layers * batch * hidden];
        var c = new float[layers * batch * hidden];
        for (var b = 0; b < batch; b++)
        {
            for (var l = 0; l < layers; l++)
            {
                for (var j = 0; j < hidden; j++)
                {
                    h[(l * batch + b) * hidden + j] = slab.H(slots[b], l)[j] = (float)(rng.NextDouble() * 1.8 - 0.9);
                    c[(l * batch + b) * hidden + j] = slab.C(slots[b], l)[j] = (float)(rng.NextDouble() * 4 - 2);
                }
            }
        }

        using var stepper = new LstmStepper(model, batch, 1, StepKernelKind.Scalar);
        var mu = new float[batch * horizons];
        var ls = new float[batch * horizons];
        var refMu = new float[batch * horizons];
        var refLs = new float[batch * horizons];
        for (var step = 0; step < 3; step++)
        {
            var x = Enumerable.Range(0, batch * inputs).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
            stepper.Step(slab, slots, x, mu, ls);
            SequenceForward.Run(model, x, batch, 1, h, c, [], refMu, refLs);
            Assert.Equal(refMu, mu);
            Assert.Equal(refLs, ls);
        }

        for (var b = 0; b < batch; b++)
        {
            for (var l = 0; l < layers; l++)
            {
                Assert.Equal(h.AsSpan((l * batch + b) * hidden, hidden).ToArray(), slab.H(slots[b], l).ToArray());
                Assert.Equal(c.AsSpan((l * batch + b) * hidden, hidden).ToArray(), slab.C(slots[b], l).ToArray());
            }
        }
    }
}
