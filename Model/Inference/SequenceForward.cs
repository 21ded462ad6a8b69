using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Inference;

/// <summary>Full-sequence forward pass <c>[B, T, I]</c> from given initial states (training, re-warming state, reference checks).</summary>
public static class SequenceForward
{
    /// <summary>
    /// Runs the model over B sequences of T steps.
    /// </summary>
    /// <param name="model">Model.</param>
    /// <param name="x">Inputs <c>[B, T, I]</c>.</param>
    /// <param name="batch">B.</param>
    /// <param name="steps">T.</param>
    /// <param name="h">Initial hidden states <c>[L, B, H]</c> on entry, final ones on exit.</param>
    /// <param name="c">Initial cell states <c>[L, B, H]</c> on entry, final ones on exit.</param>
    /// <param name="topSequence">Top-layer h at every step, <c>[B, T, H]</c> (may be empty to skip).</param>
    /// <param name="mu">Means <c>[B, T, K]</c>.</param>
    /// <param name="logSigma">Log standard deviations <c>[B, T, K]</c>.</param>
    public static void Run(LstmModel model, ReadOnlySpan<float> x, int batch, int steps, Span<float> h, Span<float> c,
        Span<float> topSequence, Span<float> mu, Span<float> logSigma)
    {
        ArgumentNullException.ThrowIfNull(model);
        Run(new PackedLstm(model), x, batch, steps, h, c, topSequence, mu, logSigma);
    }

    internal static void Run(PackedLstm packed, ReadOnlySpan<float> x, int batch, int steps, Span<float> h, Span<float> c,
        Span<float> topSequence, Span<float> mu, Span<float> logSigma)
    {
        var cfg = packed.Config;
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        int hid = cfg.HiddenSize, inp = cfg.InputSize, k = cfg.Horizons, layers = cfg.Layers;
        Require(x.Length, batch * steps * inp, nameof(x));
        Require(h.Length, layers * batch * hid, nameof(h));
        Require(c.Length, layers * batch * hid, nameof(c));
        Require(mu.Length, batch * steps * k, nameof(mu));
        Require(logSigma.Length, batch * steps * k, nameof(logSigma));
        if (!topSequence.IsEmpty) Require(topSequence.Length, batch * steps * hid, nameof(topSequence));

        var gates = new float[4 * hid];
        for (var b = 0; b < batch; b++)
        {
            for (var t = 0; t < steps; t++)
            {
                ReadOnlySpan<float> input = x.Slice((b * steps + t) * inp, inp);
                for (var l = 0; l < layers; l++)
                {
                    var hs = h.Slice((l * batch + b) * hid, hid);
                    var cs = c.Slice((l * batch + b) * hid, hid);
                    ScalarCell.Step(packed.Weights[l], packed.Bias[l], cfg.LayerInputSize(l), hid, input, hs, cs, gates);
                    input = hs;
                }

                if (!topSequence.IsEmpty) input.CopyTo(topSequence.Slice((b * steps + t) * hid, hid));
                var o = (b * steps + t) * k;
                ScalarCell.Head(packed.HeadT, packed.HeadBias, hid, k, input, mu.Slice(o, k), logSigma.Slice(o, k));
            }
        }
    }

    private static void Require(int have, int need, string name)
    {
        if (have < need) throw new ArgumentException($"{name} needs at least {need} values (has {have}).", name);
    }
}
