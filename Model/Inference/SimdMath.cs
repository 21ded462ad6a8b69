using System.Runtime.CompilerServices;

namespace StreamLstm.Model.Inference;

/// <summary>exp, sigmoid, tanh and the head's dot product, written once over <see cref="ISimdVec{TSelf, TVec}"/>.</summary>
internal static class SimdMath
{
    /// <summary>σ(x) = 1 / (1 + e^{−x}).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Sigmoid<TOps, TVec>(TVec x)
        where TOps : struct, ISimdVec<TOps, TVec>
        where TVec : struct =>
        TOps.Recip(TOps.Add(TOps.Broadcast(1f), Exp<TOps, TVec>(TOps.Negate(x))));

    /// <summary>tanh x = 1 − 2 / (1 + e^{2x}); absolute error stays near float epsilon.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Tanh<TOps, TVec>(TVec x)
        where TOps : struct, ISimdVec<TOps, TVec>
        where TVec : struct
    {
        var one = TOps.Broadcast(1f);
        return TOps.Fma(TOps.Broadcast(-2f), TOps.Recip(TOps.Add(one, Exp<TOps, TVec>(TOps.Add(x, x)))), one);
    }

    /// <summary>
    /// e^x: Cephes' single-precision method (round x·log2 e to n, reduce with a two-part ln 2, degree-6 polynomial, add n
    /// to the exponent bits); relative error about 2 ulp. Inputs are clamped to ±86 so 2^n stays a normal float.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Exp<TOps, TVec>(TVec x)
        where TOps : struct, ISimdVec<TOps, TVec>
        where TVec : struct
    {
        x = TOps.ClampExpInput(x);
        var magic = TOps.Broadcast(12582912f); // 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits
        var t = TOps.Fma(x, TOps.Broadcast(1.44269504088896341f), magic);
        var n = TOps.Sub(t, magic);
        var r = TOps.Fma(n, TOps.Broadcast(-0.693359375f), x);
        r = TOps.Fma(n, TOps.Broadcast(2.12194440e-4f), r);
        var q = TOps.Fma(TOps.Broadcast(1.9875691500e-4f), r, TOps.Broadcast(1.3981999507e-3f));
        q = TOps.Fma(q, r, TOps.Broadcast(8.3334519073e-3f));
        q = TOps.Fma(q, r, TOps.Broadcast(4.1665795894e-2f));
        q = TOps.Fma(q, r, TOps.Broadcast(1.6666665459e-1f));
        q = TOps.Fma(q, r, TOps.Broadcast(5.0000001201e-1f));
        var y = TOps.Add(TOps.Fma(q, TOps.Mul(r, r), r), TOps.Broadcast(1f));
        return TOps.AddExponent(y, t, magic);
    }

    /// <summary>bias + Σ row·h: lane-wise FMA partial sums over whole registers, their sum, the tail in order, then the bias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HeadDot<TOps, TVec>(ref float row, ref float h, int length, float bias)
        where TOps : struct, ISimdVec<TOps, TVec>
        where TVec : struct
    {
        var acc = TOps.Broadcast(0f);
        var j = 0;
        for (; j + TOps.Lanes <= length; j += TOps.Lanes)
        {
            acc = TOps.Fma(TOps.Load(ref row, (nuint)j), TOps.Load(ref h, (nuint)j), acc);
        }

        var sum = TOps.Sum(acc);
        for (; j < length; j++) sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref row, j), Unsafe.Add(ref h, j), sum);
        return sum + bias;
    }
}
