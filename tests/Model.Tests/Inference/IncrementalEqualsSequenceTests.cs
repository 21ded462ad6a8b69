using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;

namespace StreamLstm.Model.Tests.Inference;

/// <summary>Stepping keys event by event through the slab gives what the sequence forward gives over the same inputs.</summary>
public class IncrementalEqualsSequenceTests
{
    [Theory]
    [InlineData(8, 64, 1, 3)]
    [InlineData(3, 17, 3, 2)]
    [InlineData(5, 33, 2, 1)]
    public void EventByEvent_MatchesSequenceForward(int inputs, int hidden, int layers, int horizons)
    {
        var cfg = new LstmConfig(inputs, hidden, layers, horizons);
        var model = LstmModel.CreateRandom(cfg, hidden);
        const int keys = 6, steps = 40;
        var rng = new Random(3);
        var x = Enumerable.Range(0, keys * steps * inputs).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();

        var h = new float[layers * keys * hidden];
        var c = new float[layers * keys * hidden];
        var seq = new float[keys * steps * hidden];
        var mu = new float[keys * steps * horizons];
        var ls = new float[keys * steps * horizons];
        SequenceForward.Run(model, x, keys, steps, h, c, seq, mu, ls);

        // Events arrive interleaved and unevenly: each round advances a different subset of keys, one event each.
        var slab = new StateSlab(cfg, 2);
        var slots = Enumerable.Range(0, keys).Select(_ => { _ = slab.Allocate(); return slab.Allocate(); }).ToArray();
        var next = new int[keys];
        var stepper = new LstmStepper(model, keys);
        var oneMu = new float[horizons];
        var oneLs = new float[horizons];
        var batchSlots = new List<int>();
        var batchKeys = new List<int>();
        while (next.Any(n => n < steps))
        {
            batchSlots.Clear();
            batchKeys.Clear();
            for (var k = 0; k < keys; k++)
            {
                if (next[k] < steps && rng.Next(3) != 0)
                {
                    batchKeys.Add(k);
                    batchSlots.Add(slots[k]);
                }
            }

            var bx = new float[batchKeys.Count * inputs];
            for (var i = 0; i < batchKeys.Count; i++) x.AsSpan((batchKeys[i] * steps + next[batchKeys[i]]) * inputs, inputs).CopyTo(bx.AsSpan(i * inputs));
            var bmu = new float[batchKeys.Count * horizons];
            var bls = new float[batchKeys.Count * horizons];
            stepper.Step(slab, batchSlots.ToArray(), bx, bmu, bls);
            for (var i = 0; i < batchKeys.Count; i++)
            {
                var k = batchKeys[i];
                var t = next[k]++;
                for (var o = 0; o < horizons; o++)
                {
                    Assert.Equal(mu[(k * steps + t) * horizons + o], bmu[i * horizons + o], 1e-5);
                    Assert.Equal(ls[(k * steps + t) * horizons + o], bls[i * horizons + o], 1e-5);
                }

                var top = slab.H(slots[k], layers - 1);
                for (var j = 0; j < hidden; j++) Assert.Equal(seq[(k * steps + t) * hidden + j], top[j], 1e-5);
            }
        }

        for (var k = 0; k < keys; k++)
        {
            for (var l = 0; l < layers; l++)
            {
                for (var j = 0; j < hidden; j++)
                {
                    Assert.Equal(h[(l * keys + k) * hidden + j], slab.H(slots[k], l)[j], 1e-5);
                    Assert.Equal(c[(l * keys + k) * hidden + j], slab.C(slots[k], l)[j], 1e-5);
                }
            }
        }
    }
}
