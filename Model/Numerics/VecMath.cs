using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using StreamLstm.Model.Inference;

namespace StreamLstm.Model.Numerics;

/// <summary>
/// Span kernels used by training: axpy, dot, sigmoid and tanh, with Vector512 / Vector256 bodies, scalar tails and a
/// scalar fallback chosen at run time. Each gives the same result for the same inputs on a given machine.
/// </summary>
internal static class VecMath
{
    /// <summary>y += a · x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        var n = x.Length;
        if ((uint)y.Length < (uint)n) throw new ArgumentException("y is shorter than x.", nameof(y));
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var yr = ref MemoryMarshal.GetReference(y);
        var i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var av = Vector512.Create(a);
            for (; i + 16 <= n; i += 16)
            {
                Vector512.FusedMultiplyAdd(av, Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var av = Vector256.Create(a);
            for (; i + 8 <= n; i += 8)
            {
                Vector256.FusedMultiplyAdd(av, Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
            }
        }

        for (; i < n; i++) Unsafe.Add(ref yr, i) = MathF.FusedMultiplyAdd(a, Unsafe.Add(ref xr, i), Unsafe.Add(ref yr, i));
    }

    /// <summary>Σ a·b in a fixed order (vector partial sums, then the tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var n = a.Length;
        if ((uint)b.Length < (uint)n) throw new ArgumentException("b is shorter than a.", nameof(b));
        ref var ar = ref MemoryMarshal.GetReference(a);
        ref var br = ref MemoryMarshal.GetReference(b);
        var i = 0;
        var sum = 0f;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16) acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref ar, (nuint)i), Vector512.LoadUnsafe(ref br, (nuint)i), acc);
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref ar, (nuint)i), Vector256.LoadUnsafe(ref br, (nuint)i), acc);
            sum = Vector256.Sum(acc);
        }

        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref ar, i), Unsafe.Add(ref br, i), sum);
        return sum;
    }

    /// <summary>In-place logistic sigmoid.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sigmoid(Span<float> v)
    {
        ref var r = ref MemoryMarshal.GetReference(v);
        var i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= v.Length; i += 16) Vec512Ops.Sigmoid(Vector512.LoadUnsafe(ref r, (nuint)i)).StoreUnsafe(ref r, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= v.Length; i += 8) Vec256Ops.Sigmoid(Vector256.LoadUnsafe(ref r, (nuint)i)).StoreUnsafe(ref r, (nuint)i);
        }

        for (; i < v.Length; i++) v[i] = 1f / (1f + MathF.Exp(-v[i]));
    }

    /// <summary>In-place tanh, or <paramref name="dst"/> = tanh(<paramref name="src"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tanh(ReadOnlySpan<float> src, Span<float> dst)
    {
        ref var s = ref MemoryMarshal.GetReference(src);
        ref var d = ref MemoryMarshal.GetReference(dst);
        if ((uint)dst.Length < (uint)src.Length) throw new ArgumentException("dst is shorter than src.", nameof(dst));
        var i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= src.Length; i += 16) Vec512Ops.Tanh(Vector512.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= src.Length; i += 8) Vec256Ops.Tanh(Vector256.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        }

        for (; i < src.Length; i++) dst[i] = MathF.Tanh(src[i]);
    }
}
