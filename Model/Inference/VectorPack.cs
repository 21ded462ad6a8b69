using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Inference;

/// <summary>
/// Weights packed once for a SIMD kernel of <see cref="Width"/> lanes. Hidden units are grouped in blocks of
/// <see cref="Width"/> (the last block zero-padded). For unit block u and input element k (the layer input first, then
/// the recurrent h), the 4·Width weights of gates i, f, g, o for those units lie next to each other, so the kernel
/// accumulates all four gates of a block in registers and applies the cell update without storing gate values.
/// A second copy, <see cref="RowWeights"/>, interleaves groups of <see cref="RowGroup"/> blocks per input element for
/// the single-slot path, which then reads one sequential stream instead of one per block. Under
/// <see cref="WeightPrecision.BFloat16"/> the single-slot path reads <see cref="RowHalf"/> instead (the same order, two
/// input elements per 32-bit word, <see cref="Bf16Pairs"/>), and <see cref="Weights"/> holds the decoded values, so the
/// multi-slot tiles compute the same bits.
/// </summary>
internal sealed class VectorPack
{
    public VectorPack(LstmModel model, int width, int rowGroup = 2, WeightPrecision precision = WeightPrecision.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowGroup, 1);
        if (!Enum.IsDefined(precision)) throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown weight precision.");
        RowGroup = rowGroup;
        Precision = precision;
        if (precision == WeightPrecision.BFloat16) model = Bf16Pairs.Effective(model);
        var cfg = model.Config;
        Config = cfg;
        Width = width;
        var hid = cfg.HiddenSize;
        Blocks = (hid + width - 1) / width;
        Weights = new float[cfg.Layers][];
        Bias = new float[cfg.Layers][];
        RowWeights = new float[cfg.Layers][];
        RowHalf = new uint[cfg.Layers][];
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
            if (precision == WeightPrecision.BFloat16)
            {
                RowWeights[l] = [];
                RowHalf[l] = InterleaveHalf(w, kin, width, rowGroup);
            }
            else
            {
                RowWeights[l] = Interleave(w, kin, width, rowGroup);
                RowHalf[l] = [];
            }
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

    /// <summary>
    /// <paramref name="w"/> (<c>[block][k][gate][lane]</c>, already holding decoded values) as 16-bit pairs regrouped like
    /// <see cref="Interleave"/>: <c>[group][k / 2][block in group][gate][lane]</c>, word = <see cref="Bf16Pairs.Pair"/>
    /// of elements 2j and 2j + 1 (a lone last element: <see cref="Bf16Pairs.Lone"/>). Group g starts at
    /// g·G·ceil(kin / 2)·4·Width words.
    /// </summary>
    private uint[] InterleaveHalf(float[] w, int kin, int width, int group)
    {
        var pairs = (kin + 1) / 2;
        var row = 4 * width;
        var r = GC.AllocateArray<uint>(Blocks * pairs * row, pinned: true); // pinned, like the float packs: addresses stay put
        var blockFloats = kin * row;
        for (var u0 = 0; u0 < Blocks; u0 += group)
        {
            var size = Math.Min(group, Blocks - u0);
            for (var j = 0; j < size; j++)
            {
                for (var kp = 0; kp < pairs; kp++)
                {
                    var k = 2 * kp;
                    var dst = u0 * pairs * row + (kp * size + j) * row;
                    var src = (u0 + j) * blockFloats + k * row;
                    for (var e = 0; e < row; e++)
                    {
                        var even = w[src + e];
                        var word = k + 1 < kin ? Bf16Pairs.Pair(even, w[src + row + e]) : Bf16Pairs.Lone(even);
                        // w holds decoded values, so re-encoding is exact: the words decode to w again.
                        System.Diagnostics.Debug.Assert(Bf16Pairs.Low(word) == even);
                        r[dst + e] = word;
                    }
                }
            }
        }

        return r;
    }

    public LstmConfig Config { get; }

    /// <summary>How the single-slot path's weights are stored.</summary>
    public WeightPrecision Precision { get; }

    /// <summary>
    /// Per layer under <see cref="WeightPrecision.BFloat16"/> (else empty): <c>[group][(in + H) / 2][block in group][gate][lane]</c>
    /// 32-bit words, each two input elements' weights (<see cref="Bf16Pairs"/>).
    /// </summary>
    public uint[][] RowHalf { get; }

    /// <summary>Unit blocks per group in <see cref="RowWeights"/>.</summary>
    public int RowGroup { get; }

    /// <summary>Per layer <c>[group][in + H][block in group][gate][lane]</c>: the single-slot path's layout (empty under <see cref="WeightPrecision.BFloat16"/>).</summary>
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
