using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Inference;

/// <summary>
/// The 16-bit weight format of <see cref="WeightPrecision.BFloat16"/>. Along each gate row the weights of input elements
/// k and k + 1 (k even, over <c>[layer input; h]</c>) share one 32-bit word: its low half is k's weight rounded to
/// bfloat16 (decoded as <c>word &lt;&lt; 16</c>, one shift per 16 weights), and the whole word read as a float is k + 1's
/// weight: its high half is chosen, given the low half, as the nearest such float to the original, so it is decoded for
/// free and is as accurate as bfloat16 rounding (within half a bfloat16 unit; within one unit just below a power of
/// two, where the candidates' spacing widens). A lone last element (odd count) keeps only
/// the low half. Decoding is exact, so the kernel computes exactly what the float32 kernel computes on
/// <see cref="Effective"/>'s weights, in the same order of additions.
/// </summary>
internal static class Bf16Pairs
{
    /// <summary>The word holding <paramref name="even"/> (low half) and <paramref name="odd"/> (the word as a float).</summary>
    public static uint Pair(float even, float odd)
    {
        var lo = RoundToBf16Bits(even);
        var target = (double)odd;
        var h0 = BitConverter.SingleToUInt32Bits(odd) >> 16;
        uint best = 0;
        var bestErr = double.PositiveInfinity;
        // The floats hi:lo for consecutive hi are one bfloat16 unit apart; the nearest is among hi0 - 1 .. hi0 + 1, or a zero
        // of either sign when odd is tiny.
        ReadOnlySpan<uint> candidates = [h0 - 1, h0, h0 + 1, 0, 0x8000];
        foreach (var hc in candidates)
        {
            var hi = hc & 0xFFFF;
            if ((hi & 0x7F80) == 0x7F80) continue; // infinity / NaN exponent
            var word = (hi << 16) | lo;
            var err = Math.Abs(BitConverter.UInt32BitsToSingle(word) - target);
            if (err < bestErr)
            {
                bestErr = err;
                best = word;
            }
        }

        return best;
    }

    /// <summary>The word for a lone last element: only its low half is read.</summary>
    public static uint Lone(float even) => RoundToBf16Bits(even);

    /// <summary>The value the kernel multiplies for the low half of <paramref name="word"/>.</summary>
    public static float Low(uint word) => BitConverter.UInt32BitsToSingle(word << 16);

    /// <summary>The value the kernel multiplies for the high half of <paramref name="word"/> (the word itself).</summary>
    public static float High(uint word) => BitConverter.UInt32BitsToSingle(word);

    /// <summary>bfloat16 bits of <paramref name="v"/>, rounded to nearest, ties to even (finite inputs).</summary>
    public static uint RoundToBf16Bits(float v)
    {
        var bits = BitConverter.SingleToUInt32Bits(v);
        if (float.IsNaN(v)) return (bits >> 16) | 0x40;
        var rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16;
        // Rounding up to infinity: keep the largest finite value of that sign instead.
        return (rounded & 0x7F80) == 0x7F80 && !float.IsInfinity(v) ? rounded - 1 : rounded;
    }

    /// <summary>
    /// The weights <paramref name="model"/> effectively has under this format: a copy whose gate weights are the decoded
    /// values (biases and head unchanged). A float32 stepper on it computes exactly what a bfloat16 stepper on
    /// <paramref name="model"/> computes.
    /// </summary>
    public static LstmModel Effective(LstmModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var cfg = model.Config;
        var copy = new LstmModel(cfg, model.Metadata);
        var hid = cfg.HiddenSize;
        for (var l = 0; l < cfg.Layers; l++)
        {
            var inSize = cfg.LayerInputSize(l);
            var kin = inSize + hid;
            var row = new float[kin];
            for (var r = 0; r < 4 * hid; r++)
            {
                model.WeightIh[l].AsSpan(r * inSize, inSize).CopyTo(row);
                model.WeightHh[l].AsSpan(r * hid, hid).CopyTo(row.AsSpan(inSize));
                EffectiveRow(row);
                row.AsSpan(0, inSize).CopyTo(copy.WeightIh[l].AsSpan(r * inSize, inSize));
                row.AsSpan(inSize).CopyTo(copy.WeightHh[l].AsSpan(r * hid, hid));
            }

            model.BiasIh[l].CopyTo(copy.BiasIh[l], 0);
            model.BiasHh[l].CopyTo(copy.BiasHh[l], 0);
        }

        model.HeadWeight.CopyTo(copy.HeadWeight, 0);
        model.HeadBias.CopyTo(copy.HeadBias, 0);
        return copy;
    }

    /// <summary>Replaces one gate row's weights (over <c>[layer input; h]</c>) by their decoded values, in place.</summary>
    public static void EffectiveRow(Span<float> row)
    {
        var k = 0;
        for (; k + 1 < row.Length; k += 2)
        {
            var word = Pair(row[k], row[k + 1]);
            row[k] = Low(word);
            row[k + 1] = High(word);
        }

        if (k < row.Length) row[k] = Low(Lone(row[k]));
    }
}
