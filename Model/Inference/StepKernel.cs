using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using StreamLstm.Model.State;

namespace StreamLstm.Model.Inference;

/// <summary>
/// The step kernel, written once for every width: <typeparamref name="TOps"/> supplies the register type's operations
/// (<see cref="Vec512Ops"/>, <see cref="Vec256Ops"/>, <see cref="Vec128Ops"/>, <see cref="ScalarOps"/>) and the JIT
/// compiles a specialised copy per struct. Slots are taken in tiles of <see cref="TileSlots"/>; per layer and unit
/// block the block's weights stay in L1 while groups of six (or four) slots accumulate all four gates in 24 (16)
/// registers (one FMA chain per gate and slot, in input order), then the cell update runs on those sums. Every slot
/// sees the same operation sequence whatever its position in the batch, so results do not depend on how the batch is
/// split, and each width computes exactly what its hand-written predecessor did.
/// </summary>
/// <typeparam name="TOps">Operations of one vector width.</typeparam>
/// <typeparam name="TVec">That width's register type.</typeparam>
internal static unsafe partial class StepKernel<TOps, TVec>
    where TOps : struct, IVec<TOps, TVec>
    where TVec : struct
{
    public const int TileSlots = 48;

    /// <summary>Scratch floats one thread needs for a model.</summary>
    public static int ScratchSize(VectorPack p) =>
        TileSlots * (Math.Max(p.Config.InputSize, p.Config.HiddenSize) + p.Config.HiddenSize) + (p.Blocks + 1) * 4 * TOps.Lanes + TileSlots * 4 * TOps.Lanes;

    /// <summary>Advances <paramref name="slots"/> one step and writes their head outputs (row s of x, μ, log σ belongs to slot s).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(VectorPack p, StateSlab slab, ReadOnlySpan<int> slots, ReadOnlySpan<float> x, Span<float> mu, Span<float> logSigma, Span<float> scratch)
    {
        var lanes = TOps.Lanes;
        var cfg = p.Config;
        int hid = cfg.HiddenSize, inp = cfg.InputSize, k = cfg.Horizons;
        var zMax = Math.Max(inp, hid) + hid;
        var z = scratch[..(TileSlots * zMax)];
        var tmpSize = (p.Blocks + 1) * 4 * lanes;
        var tmp = scratch.Slice(TileSlots * zMax, tmpSize);
        var gates = scratch.Slice(TileSlots * zMax + tmpSize, TileSlots * 4 * lanes);
        // The tile's row pointers, looked up once per tile (slab chunks are pinned).
        var rows = stackalloc nint[TileSlots];
        var rowBytes = slab.RowFloats * sizeof(float);
        PrefetchRows(slab, slots[..Math.Min(TileSlots, slots.Length)], rowBytes);
        for (var t0 = 0; t0 < slots.Length; t0 += TileSlots)
        {
            var n = Math.Min(TileSlots, slots.Length - t0);
            var tile = slots.Slice(t0, n);
            for (var s = 0; s < n; s++) rows[s] = (nint)slab.RowPointer(tile[s]);
            // Keys are scattered over the slab: start loading the next tile's state while this tile computes.
            if (t0 + TileSlots < slots.Length) PrefetchRows(slab, slots.Slice(t0 + TileSlots, Math.Min(TileSlots, slots.Length - t0 - TileSlots)), rowBytes);
            for (var l = 0; l < cfg.Layers; l++)
            {
                var inSize = cfg.LayerInputSize(l);
                var kin = inSize + hid;
                var hOff = 2 * l * hid;
                var cOff = hOff + hid;
                // Gather [input; h_old] per slot: the cell writes new h in place while later blocks still need the old one.
                for (var s = 0; s < n; s++)
                {
                    var row = (float*)rows[s];
                    var dst = z.Slice(s * kin, kin);
                    if (l == 0) x.Slice((t0 + s) * inp, inp).CopyTo(dst);
                    else new ReadOnlySpan<float>(row + hOff - 2 * hid, hid).CopyTo(dst);
                    new ReadOnlySpan<float>(row + hOff, hid).CopyTo(dst[inSize..]);
                }

                ref var w0 = ref p.Weights[l][0];
                ref var b0 = ref p.Bias[l][0];
                ref var zr = ref z[0];
                var full = n & ~3;
                var blockFloats = kin * 4 * lanes;
                for (var u = 0; u < p.Blocks; u++)
                {
                    ref var w = ref Unsafe.Add(ref w0, u * blockFloats);
                    ref var b = ref Unsafe.Add(ref b0, u * 4 * lanes);
                    var unit = u * lanes;
                    var valid = Math.Min(lanes, hid - unit);
                    var s6 = 0;
                    for (; TOps.WideTile && s6 + 6 <= full; s6 += 6)
                    {
                        Tile6(ref w, ref b, ref Unsafe.Add(ref zr, s6 * kin), kin, ref gates[s6 * 4 * lanes]);
                    }

                    for (var s = s6; s < full; s += 4)
                    {
                        Tile4(ref w, ref b, ref Unsafe.Add(ref zr, s * kin), kin, ref gates[s * 4 * lanes]);
                    }

                    // Cell math for the block over the whole tile in one loop: independent iterations let the core overlap
                    // one slot's exp/reciprocal chains with the next slot's.
                    if (full > 0) CellRange(gates, rows, full, hOff, cOff, unit, valid);
                }

                // Leftover slots (fewer than four): one pass per group of blocks over the interleaved single-slot copy
                // of the weights (a group of four gives 16 independent FMA chains and one sequential stream from L2);
                // the gate sums of every block go to scratch first, so the cell updates run as one loop of independent
                // iterations. Each gate still sums bias, then k in order: the same arithmetic as the tiles above.
                var half = p.Precision == WeightPrecision.BFloat16;
                for (var s = full; s < n; s++)
                {
                    ref var zs = ref Unsafe.Add(ref zr, s * kin);
                    if (half)
                    {
                        HalfRow(p, l, ref b0, ref zs, kin, tmp);
                        CellBlocks(tmp, (float*)rows[s] + hOff, (float*)rows[s] + cOff, hid);
                        continue;
                    }

                    ref var wr0 = ref p.RowWeights[l][0];
                    for (var u0 = 0; u0 < p.Blocks; u0 += p.RowGroup)
                    {
                        var size = Math.Min(p.RowGroup, p.Blocks - u0);
                        var kStride = (nuint)(size * 4 * lanes);
                        ref var wg = ref Unsafe.Add(ref wr0, u0 * blockFloats);
                        ref var bg = ref Unsafe.Add(ref b0, u0 * 4 * lanes);
                        var j = 0;
                        if (size == 4)
                        {
                            Tile1x4(ref wg, ref bg, ref zs, kin, kStride, ref tmp[u0 * 4 * lanes]);
                            j = 4;
                        }

                        for (; j + 2 <= size; j += 2)
                        {
                            Tile1x2(ref Unsafe.Add(ref wg, j * 4 * lanes), ref Unsafe.Add(ref bg, j * 4 * lanes), ref zs, kin, kStride, ref tmp[(u0 + j) * 4 * lanes]);
                        }

                        if (j < size)
                        {
                            Tile1(ref Unsafe.Add(ref wg, j * 4 * lanes), ref Unsafe.Add(ref bg, j * 4 * lanes), ref zs, kin, kStride, ref tmp[(u0 + j) * 4 * lanes]);
                        }
                    }

                    CellBlocks(tmp, (float*)rows[s] + hOff, (float*)rows[s] + cOff, hid);
                }
            }

            var topOff = 2 * (cfg.Layers - 1) * hid;
            for (var s = 0; s < n; s++)
            {
                Head(p, new ReadOnlySpan<float>((float*)rows[s] + topOff, hid), mu.Slice((t0 + s) * k, k), logSigma.Slice((t0 + s) * k, k));
            }
        }
    }

    /// <summary>Asks the cache for the state rows of <paramref name="slots"/> (no effect on results; a no-op without SSE).</summary>
    private static void PrefetchRows(StateSlab slab, ReadOnlySpan<int> slots, int rowBytes)
    {
        if (!Sse.IsSupported) return;
        foreach (var slot in slots)
        {
            var row = (byte*)slab.RowPointer(slot);
            for (var o = 0; o < rowBytes; o += 64) Sse.Prefetch0(row + o);
        }
    }

    /// <summary>Six slots, one unit block: 24 accumulators; same FMA order per lane as <see cref="Tile1"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile6(ref float w, ref float b, ref float z0, int kin, ref float g)
    {
        var lanes = (nuint)TOps.Lanes;
        var bi = TOps.Load(ref b, 0);
        var bf = TOps.Load(ref b, lanes);
        var bg = TOps.Load(ref b, 2 * lanes);
        var bo = TOps.Load(ref b, 3 * lanes);
        TVec i0 = bi, f0 = bf, g0 = bg, o0 = bo;
        TVec i1 = bi, f1 = bf, g1 = bg, o1 = bo;
        TVec i2 = bi, f2 = bf, g2 = bg, o2 = bo;
        TVec i3 = bi, f3 = bf, g3 = bg, o3 = bo;
        TVec i4 = bi, f4 = bf, g4 = bg, o4 = bo;
        TVec i5 = bi, f5 = bf, g5 = bg, o5 = bo;
        ref var z1 = ref Unsafe.Add(ref z0, 1 * kin);
        ref var z2 = ref Unsafe.Add(ref z0, 2 * kin);
        ref var z3 = ref Unsafe.Add(ref z0, 3 * kin);
        ref var z4 = ref Unsafe.Add(ref z0, 4 * kin);
        ref var z5 = ref Unsafe.Add(ref z0, 5 * kin);
        for (var k = 0; k < kin; k++)
        {
            var off = (nuint)(k * 4 * TOps.Lanes);
            var wi = TOps.Load(ref w, off);
            var wf = TOps.Load(ref w, off + lanes);
            var wg = TOps.Load(ref w, off + 2 * lanes);
            var wo = TOps.Load(ref w, off + 3 * lanes);
            var a = TOps.Broadcast(Unsafe.Add(ref z0, k));
            i0 = TOps.Fma(wi, a, i0);
            f0 = TOps.Fma(wf, a, f0);
            g0 = TOps.Fma(wg, a, g0);
            o0 = TOps.Fma(wo, a, o0);
            a = TOps.Broadcast(Unsafe.Add(ref z1, k));
            i1 = TOps.Fma(wi, a, i1);
            f1 = TOps.Fma(wf, a, f1);
            g1 = TOps.Fma(wg, a, g1);
            o1 = TOps.Fma(wo, a, o1);
            a = TOps.Broadcast(Unsafe.Add(ref z2, k));
            i2 = TOps.Fma(wi, a, i2);
            f2 = TOps.Fma(wf, a, f2);
            g2 = TOps.Fma(wg, a, g2);
            o2 = TOps.Fma(wo, a, o2);
            a = TOps.Broadcast(Unsafe.Add(ref z3, k));
            i3 = TOps.Fma(wi, a, i3);
            f3 = TOps.Fma(wf, a, f3);
            g3 = TOps.Fma(wg, a, g3);
            o3 = TOps.Fma(wo, a, o3);
            a = TOps.Broadcast(Unsafe.Add(ref z4, k));
            i4 = TOps.Fma(wi, a, i4);
            f4 = TOps.Fma(wf, a, f4);
            g4 = TOps.Fma(wg, a, g4);
            o4 = TOps.Fma(wo, a, o4);
            a = TOps.Broadcast(Unsafe.Add(ref z5, k));
            i5 = TOps.Fma(wi, a, i5);
            f5 = TOps.Fma(wf, a, f5);
            g5 = TOps.Fma(wg, a, g5);
            o5 = TOps.Fma(wo, a, o5);
        }

        TOps.Store(i0, ref g, 0 * lanes);
        TOps.Store(f0, ref g, 1 * lanes);
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
        TOps.Store(i4, ref g, 16 * lanes);
        TOps.Store(f4, ref g, 17 * lanes);
        TOps.Store(g4, ref g, 18 * lanes);
        TOps.Store(o4, ref g, 19 * lanes);
        TOps.Store(i5, ref g, 20 * lanes);
        TOps.Store(f5, ref g, 21 * lanes);
        TOps.Store(g5, ref g, 22 * lanes);
        TOps.Store(o5, ref g, 23 * lanes);
    }

    /// <summary>Four slots, one unit block: 16 accumulators (the tile for machines with 16 vector registers).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile4(ref float w, ref float b, ref float z0, int kin, ref float g)
    {
        var lanes = (nuint)TOps.Lanes;
        var bi = TOps.Load(ref b, 0);
        var bf = TOps.Load(ref b, lanes);
        var bg = TOps.Load(ref b, 2 * lanes);
        var bo = TOps.Load(ref b, 3 * lanes);
        TVec i0 = bi, f0 = bf, g0 = bg, o0 = bo;
        TVec i1 = bi, f1 = bf, g1 = bg, o1 = bo;
        TVec i2 = bi, f2 = bf, g2 = bg, o2 = bo;
        TVec i3 = bi, f3 = bf, g3 = bg, o3 = bo;
        ref var z1 = ref Unsafe.Add(ref z0, kin);
        ref var z2 = ref Unsafe.Add(ref z0, 2 * kin);
        ref var z3 = ref Unsafe.Add(ref z0, 3 * kin);
        for (var k = 0; k < kin; k++)
        {
            var off = (nuint)(k * 4 * TOps.Lanes);
            var wi = TOps.Load(ref w, off);
            var wf = TOps.Load(ref w, off + lanes);
            var wg = TOps.Load(ref w, off + 2 * lanes);
            var wo = TOps.Load(ref w, off + 3 * lanes);
            var a = TOps.Broadcast(Unsafe.Add(ref z0, k));
            i0 = TOps.Fma(wi, a, i0);
            f0 = TOps.Fma(wf, a, f0);
            g0 = TOps.Fma(wg, a, g0);
            o0 = TOps.Fma(wo, a, o0);
            a = TOps.Broadcast(Unsafe.Add(ref z1, k));
            i1 = TOps.Fma(wi, a, i1);
            f1 = TOps.Fma(wf, a, f1);
            g1 = TOps.Fma(wg, a, g1);
            o1 = TOps.Fma(wo, a, o1);
            a = TOps.Broadcast(Unsafe.Add(ref z2, k));
            i2 = TOps.Fma(wi, a, i2);
            f2 = TOps.Fma(wf, a, f2);
            g2 = TOps.Fma(wg, a, g2);
            o2 = TOps.Fma(wo, a, o2);
            a = TOps.Broadcast(Unsafe.Add(ref z3, k));
            i3 = TOps.Fma(wi, a, i3);
            f3 = TOps.Fma(wf, a, f3);
            g3 = TOps.Fma(wg, a, g3);
            o3 = TOps.Fma(wo, a, o3);
        }

        // Gate sums go to scratch; the cell math runs later over the whole tile (keeping 16 accumulators live across
        // cell code made the JIT spill them inside the FMA loop).
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

    /// <summary>Blocks per group in <see cref="VectorPack.RowWeights"/>: four (16 accumulators) where 32 registers exist.</summary>
    public static int RowGroup => TOps.WideTile ? 4 : 2;

    /// <summary>
    /// One slot, four consecutive unit blocks of one interleaved group (row k of block j at <c>w + k·kStride + j·4·Lanes</c>):
    /// 16 accumulators, same FMA order per lane as <see cref="Tile1"/>; gate sums to <paramref name="g"/>[0..16·Lanes).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x4(ref float w, ref float b, ref float z, int kin, nuint kStride, ref float g)
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
        for (var k = 0; k < kin; k++, off += kStride)
        {
            var a = TOps.Broadcast(Unsafe.Add(ref z, k));
            i0 = TOps.Fma(TOps.Load(ref w, off), a, i0);
            f0 = TOps.Fma(TOps.Load(ref w, off + lanes), a, f0);
            g0 = TOps.Fma(TOps.Load(ref w, off + 2 * lanes), a, g0);
            o0 = TOps.Fma(TOps.Load(ref w, off + 3 * lanes), a, o0);
            i1 = TOps.Fma(TOps.Load(ref w, off + 4 * lanes), a, i1);
            f1 = TOps.Fma(TOps.Load(ref w, off + 5 * lanes), a, f1);
            g1 = TOps.Fma(TOps.Load(ref w, off + 6 * lanes), a, g1);
            o1 = TOps.Fma(TOps.Load(ref w, off + 7 * lanes), a, o1);
            i2 = TOps.Fma(TOps.Load(ref w, off + 8 * lanes), a, i2);
            f2 = TOps.Fma(TOps.Load(ref w, off + 9 * lanes), a, f2);
            g2 = TOps.Fma(TOps.Load(ref w, off + 10 * lanes), a, g2);
            o2 = TOps.Fma(TOps.Load(ref w, off + 11 * lanes), a, o2);
            i3 = TOps.Fma(TOps.Load(ref w, off + 12 * lanes), a, i3);
            f3 = TOps.Fma(TOps.Load(ref w, off + 13 * lanes), a, f3);
            g3 = TOps.Fma(TOps.Load(ref w, off + 14 * lanes), a, g3);
            o3 = TOps.Fma(TOps.Load(ref w, off + 15 * lanes), a, o3);
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

    /// <summary>One slot, one unit block (row k at <c>w + k·kStride</c>): gate sums to <paramref name="g"/>[0..4·Lanes).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile1(ref float w, ref float b, ref float z, int kin, nuint kStride, ref float g)
    {
        var lanes = (nuint)TOps.Lanes;
        var i0 = TOps.Load(ref b, 0);
        var f0 = TOps.Load(ref b, lanes);
        var g0 = TOps.Load(ref b, 2 * lanes);
        var o0 = TOps.Load(ref b, 3 * lanes);
        nuint off = 0;
        for (var k = 0; k < kin; k++, off += kStride)
        {
            var a = TOps.Broadcast(Unsafe.Add(ref z, k));
            i0 = TOps.Fma(TOps.Load(ref w, off), a, i0);
            f0 = TOps.Fma(TOps.Load(ref w, off + lanes), a, f0);
            g0 = TOps.Fma(TOps.Load(ref w, off + 2 * lanes), a, g0);
            o0 = TOps.Fma(TOps.Load(ref w, off + 3 * lanes), a, o0);
        }

        TOps.Store(i0, ref g, 0);
        TOps.Store(f0, ref g, lanes);
        TOps.Store(g0, ref g, 2 * lanes);
        TOps.Store(o0, ref g, 3 * lanes);
    }

    /// <summary>One slot, two adjacent unit blocks of one interleaved group (same FMA order per lane as <see cref="Tile1"/>): gate sums to <paramref name="g"/>[0..8·Lanes).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x2(ref float w, ref float b, ref float z, int kin, nuint kStride, ref float g)
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
        for (var k = 0; k < kin; k++, off += kStride)
        {
            var a = TOps.Broadcast(Unsafe.Add(ref z, k));
            i0 = TOps.Fma(TOps.Load(ref w, off), a, i0);
            f0 = TOps.Fma(TOps.Load(ref w, off + lanes), a, f0);
            g0 = TOps.Fma(TOps.Load(ref w, off + 2 * lanes), a, g0);
            o0 = TOps.Fma(TOps.Load(ref w, off + 3 * lanes), a, o0);
            i1 = TOps.Fma(TOps.Load(ref w, off + 4 * lanes), a, i1);
            f1 = TOps.Fma(TOps.Load(ref w, off + 5 * lanes), a, f1);
            g1 = TOps.Fma(TOps.Load(ref w, off + 6 * lanes), a, g1);
            o1 = TOps.Fma(TOps.Load(ref w, off + 7 * lanes), a, o1);
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
}
