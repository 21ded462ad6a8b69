using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StreamLstm.Model.Numerics;

/// <summary>
/// Small dense matrix product for training: <c>C[m×n] += A[m×k] · B[k×n]</c>, row-major B and C, A addressed with
/// explicit row/column strides (so Aᵀ needs no copy). Register tiles of 4 rows × 2 <see cref="Vector{T}"/> columns.
/// Every C element accumulates its k products in index order with FMA, in the vector body and in the scalar tail
/// alike, so results do not depend on the tiling.
/// </summary>
internal static class Gemm
{
    /// <summary>C += A·B.</summary>
    /// <param name="a">A storage.</param>
    /// <param name="rowStrideA">Distance between A(i, p) and A(i + 1, p).</param>
    /// <param name="colStrideA">Distance between A(i, p) and A(i, p + 1).</param>
    /// <param name="b">B, row-major with row stride <paramref name="ldb"/>.</param>
    /// <param name="ldb">B row stride.</param>
    /// <param name="c">C, row-major with row stride <paramref name="ldc"/>.</param>
    /// <param name="ldc">C row stride.</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="k">Inner dimension.</param>
    /// <param name="n">Columns of C.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MulAdd(ReadOnlySpan<float> a, int rowStrideA, int colStrideA, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, int m, int k, int n)
    {
        if (m == 0 || n == 0) return;
        if (a.Length < (m - 1) * rowStrideA + (k - 1) * colStrideA + 1 || b.Length < (k - 1) * ldb + n || c.Length < (m - 1) * ldc + n)
        {
            throw new ArgumentException("Matrix spans are too short for the given sizes.");
        }

        ref var ar = ref MemoryMarshal.GetReference(a);
        ref var br = ref MemoryMarshal.GetReference(b);
        ref var cr = ref MemoryMarshal.GetReference(c);
        var w = Vector<float>.Count;
        var j = 0;
        for (; j + 2 * w <= n; j += 2 * w)
        {
            var i = 0;
            for (; i + 4 <= m; i += 4)
            {
                ref var c0 = ref Unsafe.Add(ref cr, i * ldc + j);
                ref var c1 = ref Unsafe.Add(ref c0, ldc);
                ref var c2 = ref Unsafe.Add(ref c1, ldc);
                ref var c3 = ref Unsafe.Add(ref c2, ldc);
                var x0 = Vector.LoadUnsafe(ref c0);
                var y0 = Vector.LoadUnsafe(ref c0, (nuint)w);
                var x1 = Vector.LoadUnsafe(ref c1);
                var y1 = Vector.LoadUnsafe(ref c1, (nuint)w);
                var x2 = Vector.LoadUnsafe(ref c2);
                var y2 = Vector.LoadUnsafe(ref c2, (nuint)w);
                var x3 = Vector.LoadUnsafe(ref c3);
                var y3 = Vector.LoadUnsafe(ref c3, (nuint)w);
                ref var a0 = ref Unsafe.Add(ref ar, i * rowStrideA);
                for (var p = 0; p < k; p++)
                {
                    ref var brow = ref Unsafe.Add(ref br, p * ldb + j);
                    var b0 = Vector.LoadUnsafe(ref brow);
                    var b1 = Vector.LoadUnsafe(ref brow, (nuint)w);
                    ref var ap = ref Unsafe.Add(ref a0, p * colStrideA);
                    var s = new Vector<float>(ap);
                    x0 = Vector.FusedMultiplyAdd(s, b0, x0);
                    y0 = Vector.FusedMultiplyAdd(s, b1, y0);
                    s = new Vector<float>(Unsafe.Add(ref ap, rowStrideA));
                    x1 = Vector.FusedMultiplyAdd(s, b0, x1);
                    y1 = Vector.FusedMultiplyAdd(s, b1, y1);
                    s = new Vector<float>(Unsafe.Add(ref ap, 2 * rowStrideA));
                    x2 = Vector.FusedMultiplyAdd(s, b0, x2);
                    y2 = Vector.FusedMultiplyAdd(s, b1, y2);
                    s = new Vector<float>(Unsafe.Add(ref ap, 3 * rowStrideA));
                    x3 = Vector.FusedMultiplyAdd(s, b0, x3);
                    y3 = Vector.FusedMultiplyAdd(s, b1, y3);
                }

                x0.StoreUnsafe(ref c0);
                y0.StoreUnsafe(ref c0, (nuint)w);
                x1.StoreUnsafe(ref c1);
                y1.StoreUnsafe(ref c1, (nuint)w);
                x2.StoreUnsafe(ref c2);
                y2.StoreUnsafe(ref c2, (nuint)w);
                x3.StoreUnsafe(ref c3);
                y3.StoreUnsafe(ref c3, (nuint)w);
            }

            for (; i < m; i++)
            {
                ref var c0 = ref Unsafe.Add(ref cr, i * ldc + j);
                var x0 = Vector.LoadUnsafe(ref c0);
                var y0 = Vector.LoadUnsafe(ref c0, (nuint)w);
                ref var a0 = ref Unsafe.Add(ref ar, i * rowStrideA);
                for (var p = 0; p < k; p++)
                {
                    ref var brow = ref Unsafe.Add(ref br, p * ldb + j);
                    var s = new Vector<float>(Unsafe.Add(ref a0, p * colStrideA));
                    x0 = Vector.FusedMultiplyAdd(s, Vector.LoadUnsafe(ref brow), x0);
                    y0 = Vector.FusedMultiplyAdd(s, Vector.LoadUnsafe(ref brow, (nuint)w), y0);
                }

                x0.StoreUnsafe(ref c0);
                y0.StoreUnsafe(ref c0, (nuint)w);
            }
        }

        for (; j + w <= n; j += w)
        {
            for (var i = 0; i < m; i++)
            {
                ref var c0 = ref Unsafe.Add(ref cr, i * ldc + j);
                var x0 = Vector.LoadUnsafe(ref c0);
                ref var a0 = ref Unsafe.Add(ref ar, i * rowStrideA);
                for (var p = 0; p < k; p++)
                {
                    x0 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref a0, p * colStrideA)), Vector.LoadUnsafe(ref Unsafe.Add(ref br, p * ldb + j)), x0);
                }

                x0.StoreUnsafe(ref c0);
            }
        }

        for (; j < n; j++)
        {
            for (var i = 0; i < m; i++)
            {
                ref var c0 = ref Unsafe.Add(ref cr, i * ldc + j);
                var acc = c0;
                ref var a0 = ref Unsafe.Add(ref ar, i * rowStrideA);
                for (var p = 0; p < k; p++) acc = MathF.FusedMultiplyAdd(Unsafe.Add(ref a0, p * colStrideA), Unsafe.Add(ref br, p * ldb + j), acc);
                c0 = acc;
            }
        }
    }
}
