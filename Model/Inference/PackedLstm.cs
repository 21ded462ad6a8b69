using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Inference;

/// <summary>
/// Weights laid out for the step kernel, prepared once: per layer a transposed matrix <c>[in + H, 4H]</c>
/// (row k holds the 4H gate weights of input element k, first the layer input then the recurrent h) and the
/// fused bias <c>b_ih + b_hh</c>; the head transposed to <c>[H, 2K]</c>.
/// Each gate accumulates bias, then inputs in index order, then h in index order: a fixed summation order
/// that every kernel width shares, so results do not depend on the batch split.
/// </summary>
internal sealed class PackedLstm
{
    public PackedLstm(LstmModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Config = model.Config;
        var cfg = model.Config;
        var hid = cfg.HiddenSize;
        var g4 = 4 * hid;
        Weights = new float[cfg.Layers][];
        Bias = new float[cfg.Layers][];
        for (var l = 0; l < cfg.Layers; l++)
        {
            var inSize = cfg.LayerInputSize(l);
            var w = new float[(inSize + hid) * g4];
            var wih = model.WeightIh[l];
            var whh = model.WeightHh[l];
            for (var r = 0; r < g4; r++)
            {
                for (var k = 0; k < inSize; k++) w[k * g4 + r] = wih[r * inSize + k];
                for (var k = 0; k < hid; k++) w[(inSize + k) * g4 + r] = whh[r * hid + k];
            }

            var b = new float[g4];
            for (var r = 0; r < g4; r++) b[r] = model.BiasIh[l][r] + model.BiasHh[l][r];
            Weights[l] = w;
            Bias[l] = b;
        }

        var k2 = 2 * cfg.Horizons;
        HeadT = new float[hid * k2];
        for (var o = 0; o < k2; o++)
        {
            for (var j = 0; j < hid; j++) HeadT[j * k2 + o] = model.HeadWeight[o * hid + j];
        }

        HeadBias = (float[])model.HeadBias.Clone();
    }

    public LstmConfig Config { get; }

    /// <summary>Per layer <c>[in + H, 4H]</c>.</summary>
    public float[][] Weights { get; }

    /// <summary>Per layer fused bias <c>[4H]</c>.</summary>
    public float[][] Bias { get; }

    /// <summary>Head transposed <c>[H, 2K]</c>.</summary>
    public float[] HeadT { get; }

    /// <summary>Head bias <c>[2K]</c>.</summary>
    public float[] HeadBias { get; }
}
