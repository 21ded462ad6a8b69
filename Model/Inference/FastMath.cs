using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace StreamLstm.Model.Inference;

/// <summary>Vector helpers shared by the step kernels.</summary>
internal static class FastMath
{
    /// <summary>
    /// 1/x. With AVX-512: the 14-bit reciprocal estimate plus one Newton step (about 1 ulp) — a division would occupy
    /// the divider for ~10 cycles on the FMA port the gate math needs. Otherwise a plain division.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Recip(Vector512<float> x)
    {
        if (Avx512F.IsSupported)
        {
            var r = Avx512F.Reciprocal14(x);
            return Vector512.FusedMultiplyAdd(r, Vector512.FusedMultiplyAdd(-x, r, Vector512<float>.One), r);
        }

        return Vector512<float>.One / x;
    }

    /// <inheritdoc cref="Recip(Vector512{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Recip(Vector256<float> x)
    {
        if (Avx512F.VL.IsSupported)
        {
            var r = Avx512F.VL.Reciprocal14(x);
            return Vector256.FusedMultiplyAdd(r, Vector256.FusedMultiplyAdd(-x, r, Vector256<float>.One), r);
        }

        return Vector256<float>.One / x;
    }
}
