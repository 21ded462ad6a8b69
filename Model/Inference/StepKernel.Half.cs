using System.Runtime.CompilerServices;

namespace StreamLstm.Model.Inference;

// The single-slot tiles over the 16-bit weight format (VectorPack.RowHalf, Bf16Pairs): the same accumulators and the
// same FMA order per lane as Tile1x4 / Tile1x2 / Tile1 (bias, then k in order), each word supplying the weights of
// elements k and k + 1. Decoding is exact, so these compute what the float tiles compute on the decoded weights.
internal static unsafe partial class StepKernel<TOps, TVec>
{
    /// <summary>The single-slot pass over one slot under the 16-bit format: gate sums of every block to <paramref name="tmp"/>.</summary>
    private static void HalfRow(VectorPack p, int l, ref float b0, ref float zs, int kin, Span<float> tmp)
    {
        var lanes = TOps.Lanes;
        var pairs = (kin + 1) / 2;
        var blockWords = pairs * 4 * lanes;
        ref var wr0 = ref p.RowHalf[l][0];
        for (var u0 = 0; u0 < p.Blocks; u0 += p.RowGroup)
        {
            var size = Math.Min(p.RowGroup, p.Blocks - u0);
            var kStride = (nuint)(size * 4 * lanes);
            ref var wg = ref Unsafe.Add(ref wr0, u0 * blockWords);
            ref var bg = ref Unsafe.Add(ref b0, u0 * 4 * lanes);
            var j = 0;
            if (size == 4)
            {
                Tile1x4Half(ref wg, ref bg, ref zs, kin, kStride, ref tmp[u0 * 4 * lanes]);
                j = 4;
            }

            for (; j + 2 <= size; j += 2)
            {
                Tile1x2Half(ref Unsafe.Add(ref wg, j * 4 * lanes), ref Unsafe.Add(ref bg, j * 4 * lanes), ref zs, kin, kStride, ref tmp[(u0 + j) * 4 * lanes]);
            }

            if (j < size)
            {
                Tile1Half(ref Unsafe.Add(ref wg, j * 4 * lanes), ref Unsafe.Add(ref bg, j * 4 * lanes), ref zs, kin, kStride, ref tmp[(u0 + j) * 4 * lanes]);
            }
        }
    }

    /// <summary>One slot, four blocks of one group (word row k/2 of block j at <c>w + (k/2)·kStride + j·4·Lanes</c>): 16 accumulators.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x4Half(ref uint w, ref float b, ref float z, int kin, nuint kStride, ref float g)
    {
        var lanes = (nuint)TOps.Lanes;
        var i0 = TOps.Load(ref b, 0);
        var f0 = TOps.Load(ref b, lanes);
        var g0 = TOps.Load(ref b, 2 * lanes);
        var o0 = TOps.Load(ref b, 3 * lanes);
        var i1 = TOps.Load(ref b, 4 * lanes);
        var f1 = TOps.Load(ref b, 5 * lanes);
        var g1 = TOps.Load(ref b, 6 * lanes);
        var o1 = TOps.Load(ref b, 7 * lanes);
        var i2 = TOps.Load(ref b, 8 * lanes);
        var f2 = TOps.Load(ref b, 9 * lanes);
        var g2 = TOps.Load(ref b, 10 * lanes);
        var o2 = TOps.Load(ref b, 11 * lanes);
        var i3 = TOps.Load(ref b, 12 * lanes);
        var f3 = TOps.Load(ref b, 13 * lanes);
        var g3 = TOps.Load(ref b, 14 * lanes);
        var o3 = TOps.Load(ref b, 15 * lanes);
        nuint off = 0;
        var k = 0;
        for (; k + 2 <= kin; k += 2, off += kStride)
        {
            var a = TOps.Broadcast(Unsafe.Add(ref z, k));
            var a1 = TOps.Broadcast(Unsafe.Add(ref z, k + 1));
            TOps.LoadPair(ref w, off, out var we, out var wo);
            i0 = TOps.Fma(wo, a1, TOps.Fma(we, a, i0));
            TOps.LoadPair(ref w, off + lanes, out we, out wo);
            f0 = TOps.Fma(wo, a1, TOps.Fma(we, a, f0));
            TOps.LoadPair(ref w, off + 2 * lanes, out we, out wo);
            g0 = TOps.Fma(wo, a1, TOps.Fma(we, a, g0));
            TOps.LoadPair(ref w, off + 3 * lanes, out we, out wo);
            o0 = TOps.Fma(wo, a1, TOps.Fma(we, a, o0));
            TOps.LoadPair(ref w, off + 4 * lanes, out we, out wo);
            i1 = TOps.Fma(wo, a1, TOps.Fma(we, a, i1));
            TOps.LoadPair(ref w, off + 5 * lanes, out we, out wo);
            f1 = TOps.Fma(wo, a1, TOps.Fma(we, a, f1));
            TOps.LoadPair(ref w, off + 6 * lanes, out we, out wo);
            g1 = TOps.Fma(wo, a1, TOps.Fma(we, a, g1));
            TOps.LoadPair(ref w, off + 7 * lanes, out we, out wo);
            o1 = TOps.Fma(wo, a1, TOps.Fma(we, a, o1));
            TOps.LoadPair(ref w, off + 8 * lanes, out we, out wo);
            i2 = TOps.Fma(wo, a1, TOps.Fma(we, a, i2));
            TOps.LoadPair(ref w, off + 9 * lanes, out we, out wo);
            f2 = TOps.Fma(wo, a1, TOps.Fma(we, a, f2));
            TOps.LoadPair(ref w, off + 10 * lanes, out we, out wo);
            g2 = TOps.Fma(wo, a1, TOps.Fma(we, a, g2));
            TOps.LoadPair(ref w, off + 11 * lanes, out we, out wo);
            o2 = TOps.Fma(wo, a1, TOps.Fma(we, a, o2));
            TOps.LoadPair(ref w, off + 12 * lanes, out we, out wo);
            i3 = TOps.Fma(wo, a1, TOps.Fma(we, a, i3));
            TOps.LoadPair(ref w, off + 13 * lanes, out we, out wo);
            f3 = TOps.Fma(wo, a1, TOps.Fma(we, a, f3));
            TOps.LoadPair(ref w, off + 14 * lanes, out we, out wo);
            g3 = TOps.Fma(wo, a1, TOps.Fma(we, a, g3));
            TOps.LoadPair(ref w, off + 15 * lanes, out we, out wo);
            o3 = TOps.Fma(wo, a1, TOps.Fma(we, a, o3));
        }

        if (k < kin)
        {
            // Odd element count: the last word holds one weight, in its low half.
            var a = TOps.Broadcast(Unsafe.Add(ref z, k));
            TOps.LoadPair(ref w, off, out var we, out _);
            i0 = TOps.Fma(we, a, i0);
            TOps.LoadPair(ref w, off + lanes, out we, out _);
            f0 = TOps.Fma(we, a, f0);
            TOps.LoadPair(ref w, off + 2 * lanes, out we, out _);
            g0 = TOps.Fma(we, a, g0);
            TOps.LoadPair(ref w, off + 3 * lanes, out we, out _);
            o0 = TOps.Fma(we, a, o0);
            TOps.LoadPair(ref w, off + 4 * lanes, out we, out _);
            i1 = TOps.Fma(we, a, i1);
            TOps.LoadPair(ref w, off + 5 * lanes, out we, out _);
            f1 = TOps.Fma(we, a, f1);
            TOps.LoadPair(ref w, off + 6 * lanes, out we, out _);
            g1 = TOps.Fma(we, a, g1);
            TOps.LoadPair(ref w, off + 7 * lanes, out we, out _);
            o1 = TOps.Fma(we, a, o1);
            TOps.LoadPair(ref w, off + 8 * lanes, out we, out _);
            i2 = TOps.Fma(we, a, i2);
            TOps.LoadPair(ref w, off + 9 * lanes, out we, out _);
            f2 = TOps.Fma(we, a, f2);
            TOps.LoadPair(ref w, off + 10 * lanes, out we, out _);
            g2 = TOps.Fma(we, a, g2);
            TOps.LoadPair(ref w, off + 11 * lanes, out we, out _);
            o2 = TOps.Fma(we, a, o2);
            TOps.LoadPair(ref w, off + 12 * lanes, out we, out _);
            i3 = TOps.Fma(we, a, i3);
            TOps.LoadPair(ref w, off + 13 * lanes, out we, out _);
            f3 = TOps.Fma(we, a, f3);
            TOps.LoadPair(ref w, off + 14 * lanes, out we, out _);
            g3 = TOps.Fma(we, a, g3);
            TOps.LoadPair(ref w, off + 15 * lanes, out we, out _);
            o3 = TOps.Fma(we, a, o3);
        }

        TOps.Store(i0, ref g, 0);
        TOps.Store(f0, ref g, lanes);
        TOps.Store(g0, ref g, 2 * lanes);
        TOps.Store(o0, ref g, 3 * lanes);
        TOps.Store(i1, ref g, 4 * lanes);
        TOps.Store(f1, ref g, 5 * lanes);
        TOps.Store(g1, ref g, 6 * lanes);
        TOps.Store(o1, ref g, 7 * lanes);
        TOps.Store(i2, ref g, 8 * lanes);
        TOps.Store(f2, ref g, 9 * lanes);
        TOps.Store(g2, ref g, 10 * lanes);
        TOps.Store(o2, ref g, 11 * lanes);
        TOps.Store(i3, ref g, 12 * lanes);
        TOps.Store(f3, ref g, 13 * lanes);
        TOps.Store(g3, ref g, 14 * lanes);
        TOps.Store(o3, ref g, 15 * lanes);
    }

    /// <summary>One slot, two blocks of one group: 8 accumulators.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x2Half(ref uint w, ref float b, ref float z, int kin, nuint kStride, ref float g)
    {
        var lanes = (nuint)TOps.Lanes;
        var i0 = TOps.Load(ref b, 0);
        var f0 = TOps.Load(ref b, lanes);
        var g0 = TOps.Load(ref b, 2 * lanes);
        var o0 = TOps.Load(ref b, 3 * lanes);
        var i1 = TOps.Load(ref b, 4 * lanes);
        var f1 = TOps.Load(ref b, 5 * lanes);
        var g1 = TOps.Load(ref b, 6 * lanes);
        var o1 = TOps.Load(ref b, 7 * lanes);
        nuint off = 0;
        var k = 0;
        for (; k + 2 <= kin; k += 2, off += kStride)
        {
            var a = TOps.Broadcast(Unsafe.Add(ref z, k));
            var a1 = TOps.Broadcast(Unsafe.Add(ref z, k + 1));
            TOps.LoadPair(ref w, off, out var we, out var wo);
            i0 = TOps.Fma(wo, a1, TOps.Fma(we, a, i0));
            TOps.LoadPair(ref w, off + lanes, out we, out wo);
            f0 = TOps.Fma(wo, a1, TOps.Fma(we, a, f0));
            TOps.LoadPair(ref w, off + 2 * lanes, out we, out wo);
            g0 = TOps.Fma(wo, a1, TOps.Fma(we, a, g0));
            TOps.LoadPair(ref w, off + 3 * lanes, out we, out wo);
            o0 = TOps.Fma(wo, a1, TOps.Fma(we, a, o0));
            TOps.LoadPair(ref w, off + 4 * lanes, out we, out wo);
            i1 = TOps.Fma(wo, a1, TOps.Fma(we, a, i1));
            TOps.LoadPair(ref w, off + 5 * lanes, out we, out wo);
            f1 = TOps.Fma(wo, a1, TOps.Fma(we, a, f1));
            TOps.LoadPair(ref w, off + 6 * lanes, out we, out wo);
            g1 = TOps.Fma(wo, a1, TOps.Fma(we, a, g1));
            TOps.LoadPair(ref w, off + 7 * lanes, out we, out wo);
            o1 = TOps.Fma(wo, a1, TOps.Fma(we, a, o1));
        }

        if (k < kin)
        {
            var a = TOps.Broadcast(Unsafe.Add(ref z, k));
            TOps.LoadPair(ref w, off, out var we, out _);
            i0 = TOps.Fma(we, a, i0);
            TOps.LoadPair(ref w, off + lanes, out we, out _);
            f0 = TOps.Fma(we, a, f0);
            TOps.LoadPair(ref w, off + 2 * lanes, out we, out _);
            g0 = TOps.Fma(we, a, g0);
            TOps.LoadPair(ref w, off + 3 * lanes, out we, out _);
            o0 = TOps.Fma(we, a, o0);
            TOps.LoadPair(ref w, off + 4 * lanes, out we, out _);
            i1 = TOps.Fma(we, a, i1);
            TOps.LoadPair(ref w, off + 5 * lanes, out we, out _);
            f1 = TOps.Fma(we, a, f1);
            TOps.LoadPair(ref w, off + 6 * lanes, out we, out _);
            g1 = TOps.Fma(we, a, g1);
            TOps.LoadPair(ref w, off + 7 * lanes, out we, out _);
            o1 = TOps.Fma(we, a, o1);
        }

        TOps.Store(i0, ref g, 0);
        TOps.Store(f0, ref g, lanes);
        TOps.Store(g0, ref g, 2 * lanes);
        TOps.Store(o0, ref g, 3 * lanes);
        TOps.Store(i1, ref g, 4 * lanes);
        TOps.Store(f1, ref g, 5 * lanes);
        TOps.Store(g1, ref g, 6 * lanes);
        TOps.Store(o1, ref g, 7 * lanes);
    }

    /// <summary>One slot, one block: 4 accumulators.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile1Half(ref uint w, ref float b, ref float z, int kin, nuint kStride, ref float g)
    {
        var lanes = (nuint)TOps.Lanes;
        var i0 = TOps.Load(ref b, 0);
        var f0 = TOps.Load(ref b, lanes);
        var g0 = TOps.Load(ref b, 2 * lanes);
        var o0 = TOps.Load(ref b, 3 * lanes);
        nuint off = 0;
        var k = 0;
        for (; k + 2 <= kin; k += 2, off += kStride)
        {
            var a = TOps.Broadcast(Unsafe.Add(ref z, k));
            var a1 = TOps.Broadcast(Unsafe.Add(ref z, k + 1));
            TOps.LoadPair(ref w, off, out var we, out var wo);
            i0 = TOps.Fma(wo, a1, TOps.Fma(we, a, i0));
            TOps.LoadPair(ref w, off + lanes, out we, out wo);
            f0 = TOps.Fma(wo, a1, TOps.Fma(we, a, f0));
            TOps.LoadPair(ref w, off + 2 * lanes, out we, out wo);
            g0 = TOps.Fma(wo, a1, TOps.Fma(we, a, g0));
            TOps.LoadPair(ref w, off + 3 * lanes, out we, out wo);
            o0 = TOps.Fma(wo, a1, TOps.Fma(we, a, o0));
        }

        if (k < kin)
        {
            var a = TOps.Broadcast(Unsafe.Add(ref z, k));
            TOps.LoadPair(ref w, off, out var we, out _);
            i0 = TOps.Fma(we, a, i0);
            TOps.LoadPair(ref w, off + lanes, out we, out _);
            f0 = TOps.Fma(we, a, f0);
            TOps.LoadPair(ref w, off + 2 * lanes, out we, out _);
            g0 = TOps.Fma(we, a, g0);
            TOps.LoadPair(ref w, off + 3 * lanes, out we, out _);
            o0 = TOps.Fma(we, a, o0);
        }

        TOps.Store(i0, ref g, 0);
        TOps.Store(f0, ref g, lanes);
        TOps.Store(g0, ref g, 2 * lanes);
        TOps.Store(o0, ref g, 3 * lanes);
    }
}
