using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace StreamLstm.Model.Inference;

// The three SIMD widths differ only in the register type and the ISA checks; each member is one runtime call.

/// <summary>Vector512 (AVX-512) operations: 16 lanes, 32 registers.</summary>
internal readonly struct Vec512Ops : ISimdVec<Vec512Ops, Vector512<float>>
{
    public static int Lanes => Vector512<float>.Count;

    public static bool WideTile => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref float source, nuint offset) => Vector512.LoadUnsafe(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadPair(ref uint source, nuint offset, out Vector512<float> even, out Vector512<float> odd)
    {
        var w = Vector512.LoadUnsafe(ref source, offset);
        even = Vector512.ShiftLeft(w, 16).AsSingle();
        odd = w.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Negate(Vector512<float> x) => -x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ClampExpInput(Vector512<float> x) => Vector512.Min(Vector512.Max(x, Vector512.Create(-86f)), Vector512.Create(86f));

    /// <summary>
    /// With AVX-512: the 14-bit reciprocal estimate plus one Newton step (about 1 ulp); a division would occupy the
    /// divider for ~10 cycles on the port the gate math needs. Otherwise a plain division.
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> AddExponent(Vector512<float> y, Vector512<float> t, Vector512<float> m) =>
        (y.AsInt32() + ((t.AsInt32() - m.AsInt32()) << 23)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> v) => Vector512.Sum(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x) => SimdMath.Sigmoid<Vec512Ops, Vector512<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x) => SimdMath.Tanh<Vec512Ops, Vector512<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> NewCell(Vector512<float> i, Vector512<float> f, Vector512<float> g, Vector512<float> c) =>
        Vector512.FusedMultiplyAdd(f, c, i * g);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HeadDot(ref float row, ref float h, int length, float bias) =>
        SimdMath.HeadDot<Vec512Ops, Vector512<float>>(ref row, ref h, length, bias);
}

/// <summary>Vector256 (AVX2) operations: 8 lanes; six-slot tiles only when AVX-512 supplies 32 registers.</summary>
internal readonly struct Vec256Ops : ISimdVec<Vec256Ops, Vector256<float>>
{
    public static int Lanes => Vector256<float>.Count;

    public static bool WideTile => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref float source, nuint offset) => Vector256.LoadUnsafe(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadPair(ref uint source, nuint offset, out Vector256<float> even, out Vector256<float> odd)
    {
        var w = Vector256.LoadUnsafe(ref source, offset);
        even = Vector256.ShiftLeft(w, 16).AsSingle();
        odd = w.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Broadcast(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Negate(Vector256<float> x) => -x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ClampExpInput(Vector256<float> x) => Vector256.Min(Vector256.Max(x, Vector256.Create(-86f)), Vector256.Create(86f));

    /// <summary>
    /// With AVX-512: the 14-bit reciprocal estimate plus one Newton step (about 1 ulp); a division would occupy the
    /// divider for ~10 cycles on the port the gate math needs. Otherwise a plain division.
    /// </summary>
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> AddExponent(Vector256<float> y, Vector256<float> t, Vector256<float> m) =>
        (y.AsInt32() + ((t.AsInt32() - m.AsInt32()) << 23)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> v) => Vector256.Sum(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x) => SimdMath.Sigmoid<Vec256Ops, Vector256<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x) => SimdMath.Tanh<Vec256Ops, Vector256<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> NewCell(Vector256<float> i, Vector256<float> f, Vector256<float> g, Vector256<float> c) =>
        Vector256.FusedMultiplyAdd(f, c, i * g);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HeadDot(ref float row, ref float h, int length, float bias) =>
        SimdMath.HeadDot<Vec256Ops, Vector256<float>>(ref row, ref h, length, bias);
}

/// <summary>Vector128 (SSE/AVX, Arm64 AdvSimd) operations: 4 lanes; six-slot tiles where 32 registers exist.</summary>
internal readonly struct Vec128Ops : ISimdVec<Vec128Ops, Vector128<float>>
{
    public static int Lanes => Vector128<float>.Count;

    public static bool WideTile => Avx512F.IsSupported || AdvSimd.Arm64.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(ref float source, nuint offset) => Vector128.LoadUnsafe(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadPair(ref uint source, nuint offset, out Vector128<float> even, out Vector128<float> odd)
    {
        var w = Vector128.LoadUnsafe(ref source, offset);
        even = Vector128.ShiftLeft(w, 16).AsSingle();
        odd = w.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Broadcast(float value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Mul(Vector128<float> a, Vector128<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Negate(Vector128<float> x) => -x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ClampExpInput(Vector128<float> x) => Vector128.Min(Vector128.Max(x, Vector128.Create(-86f)), Vector128.Create(86f));

    /// <summary>
    /// With AVX-512: the 14-bit reciprocal estimate plus one Newton step (about 1 ulp); a division would occupy the
    /// divider for ~10 cycles on the port the gate math needs. Otherwise a plain division.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Recip(Vector128<float> x)
    {
        if (Avx512F.VL.IsSupported)
        {
            var r = Avx512F.VL.Reciprocal14(x);
            return Vector128.FusedMultiplyAdd(r, Vector128.FusedMultiplyAdd(-x, r, Vector128<float>.One), r);
        }

        return Vector128<float>.One / x;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> AddExponent(Vector128<float> y, Vector128<float> t, Vector128<float> m) =>
        (y.AsInt32() + ((t.AsInt32() - m.AsInt32()) << 23)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector128<float> v) => Vector128.Sum(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sigmoid(Vector128<float> x) => SimdMath.Sigmoid<Vec128Ops, Vector128<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Tanh(Vector128<float> x) => SimdMath.Tanh<Vec128Ops, Vector128<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> NewCell(Vector128<float> i, Vector128<float> f, Vector128<float> g, Vector128<float> c) =>
        Vector128.FusedMultiplyAdd(f, c, i * g);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HeadDot(ref float row, ref float h, int length, float bias) =>
        SimdMath.HeadDot<Vec128Ops, Vector128<float>>(ref row, ref h, length, bias);
}
