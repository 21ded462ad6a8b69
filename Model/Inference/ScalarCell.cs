namespace StreamLstm.Model.Inference;

/// <summary>Plain scalar LSTM cell and head over <see cref="PackedLstm"/>: the reference every kernel is checked against.</summary>
internal static class ScalarCell
{
    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary>One layer, one sequence element: reads input and h/c, writes new h/c in place. <paramref name="gates"/> is scratch of 4H.</summary>
    public static void Step(float[] w, float[] bias, int inSize, int hid, ReadOnlySpan<float> input, Span<float> h, Span<float> c, Span<float> gates)
    {
        var g4 = 4 * hid;
        bias.AsSpan(0, g4).CopyTo(gates);
        for (var k = 0; k < inSize; k++)
        {
            var xv = input[k];
            var row = w.AsSpan(k * g4, g4);
            for (var r = 0; r < g4; r++) gates[r] = MathF.FusedMultiplyAdd(row[r], xv, gates[r]);
        }

        for (var k = 0; k < hid; k++)
        {
            var hv = h[k];
            var row = w.AsSpan((inSize + k) * g4, g4);
            for (var r = 0; r < g4; r++) gates[r] = MathF.FusedMultiplyAdd(row[r], hv, gates[r]);
        }

        for (var j = 0; j < hid; j++)
        {
            var i = Sigmoid(gates[j]);
            var f = Sigmoid(gates[hid + j]);
            var g = MathF.Tanh(gates[2 * hid + j]);
            var o = Sigmoid(gates[3 * hid + j]);
            var cn = f * c[j] + i * g;
            c[j] = cn;
            h[j] = o * MathF.Tanh(cn);
        }
    }

    /// <summary>Head: μ and log σ from the top layer's h.</summary>
    public static void Head(float[] headT, float[] headBias, int hid, int horizons, ReadOnlySpan<float> h, Span<float> mu, Span<float> logSigma)
    {
        var k2 = 2 * horizons;
        Span<float> acc = stackalloc float[k2];
        headBias.AsSpan(0, k2).CopyTo(acc);
        for (var j = 0; j < hid; j++)
        {
            var hv = h[j];
            for (var o = 0; o < k2; o++) acc[o] = MathF.FusedMultiplyAdd(headT[j * k2 + o], hv, acc[o]);
        }

        acc[..horizons].CopyTo(mu);
        acc.Slice(horizons, horizons).CopyTo(logSigma);
    }
}
