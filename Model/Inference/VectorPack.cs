using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Inference;

/// <summary>
/// Weights packed once for a SIMD kernel of <see cref="Width"/> lanes. Hidden units are grouped in blocks of
/// <see cref="Width"/> (the last block zero-padded). For unit block u and input element k (the layer input first, then
/// the recurrent h), the 4·Width weights of gates i, f, g, o for those units lie next to each other, so the kernel
/// accumulates all four gates of a block in registers and applies the cell update without storing gate values.
/// A second copy, <see cref="RowWeights"/>, interleaves groups of <see cref="RowGroup"/> blocks per input element for
/// the single-slot path, which then reads one sequential stream instead of one per block.
/// </summary>
internal sealed class VectorPack
{
    public VectorPack(LstmModel model, int width, int rowGroup = 2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowGroup, 1);
        RowGroup = rowGroup;
        var cfg = model.Config;
        Config = cfg;
        Width = width;
        var hid = cfg.HiddenSize;
        Blocks = (hid + width - 1) / width;
        Weights = new float[cfg.Layers][];
        Bias = new float[cfg.Layers][];
        RowWeights = new float[cfg.Layers][];
        for (var l = 0; l < cfg.Layers; l++)
        {
            var inSize = cfg.LayerInputSize(l);
            var kin = inSize + hid;
            var w = GC.AllocateArray<float>(Blocks * kin * 4 * width, pinned: true); // pinned: kernels prefetch by address
            var b = new float[Blocks * 4 * width];
            for (var u = 0; u < Blocks; u++)
            {
                for (var q = 0; q < 4; q++)
                {
                    for (var lane = 0; lane < width; lane++)
                    {
                        var unit = u * width + lane;
                        if (unit >= hid) continue;
                        var row = q * hid + unit;
                        b[(u * 4 + q) * width + lane] = model.BiasIh[l][row] + model.BiasHh[l][row];
                        for (var k = 0; k < kin; k++)
                        {
                            var v = k < inSize ? model.WeightIh[l][row * inSize + k] : model.WeightHh[l][row * hid + (k - inSize)];
                            w[((u * kin + k) * 4 + q) * width + lane] = v;
                        }
                    }
                }
            }

            Weights[l] = w;
            Bias[l] = b;
            RowWeights[l] = Interleave(w, kin, width, rowGroup);
        }

        HeadWeight = (float[])model.HeadWeight.Clone();
        HeadBias = (float[])model.HeadBias.Clone();
    }

    /// <summary>
    /// <paramref name="w"/> (<c>[block][k][gate][lane]</c>) regrouped as <c>[group][k][block in group][gate][lane]</c>:
    /// group g holds blocks g·G .. g·G + G − 1 (the last group may hold fewer) and starts where block g·G starts in
    /// <paramref name="w"/>. Only the memory order changes; each gate still sums bias, then k in order.
    /// </summary>
    private float[] Interleave(float[] w, int kin, int width, int group)
    {
        var r = GC.AllocateArray<float>(w.Length, pinned: true);
        var blockFloats = kin * 4 * width;
        var row = 4 * width;
        for (var u0 = 0; u0 < Blocks; u0 += group)
        {
            var size = Math.Min(group, Blocks - u0);
            for (var j = 0; j < size; j++)
            {
                for (var k = 0; k < kin; k++)
                {
                    Array.Copy(w, (u0 + j) * blockFloats + k * row, r, u0 * blockFloats + (k * size + j) * row, row);
                }
            }
        }

        return r;
    }

    public LstmConfig Config { get; }

    /// <summary>Unit blocks per group in <see cref="RowWeights"/>.</summary>
    public int RowGroup { get; }

    /// <summary>Per layer <c>[group][in + H][block in group][gate][lane]</c>: the single-slot path's layout.</summary>
    public float[][] RowWeights { get; }

    /// <summary>SIMD lanes per vector.</summary>
    public int Width { get; }

    /// <summary>Unit blocks per layer: ceil(H / Width).</summary>
    public int Blocks { get; }

    /// <summary>Per layer <c>[block][in + H][gate][lane]</c>.</summary>
    public float[][] Weights { get; }

    /// <summary>Per layer fused bias <c>[block][gate][lane]</c>.</summary>
    public float[][] Bias { get; }

    /// <summary><c>head.weight</c> <c>[2K, H]</c>.</summary>
    public float[] HeadWeight { get; }

    /// <summary><c>head.bias</c> <c>[2K]</c>.</summary>
    public float[] HeadBias { get; }
}
