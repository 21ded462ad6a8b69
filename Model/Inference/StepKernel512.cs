using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using StreamLstm.Model.State;

namespace StreamLstm.Model.Inference;

// StepKernel256.cs is this file with Vector512 → Vector256 and 16 → 8 lanes; keep the two in sync.

/// <summary>
/// Vector512 step kernel. Slots are taken in tiles of <see cref="TileSlots"/>; per layer and unit block the block's
/// weights stay in L1 while groups of six (or four) slots accumulate all four gates in 24 (16) registers (one FMA chain per gate and slot,
/// in input order), then the cell update runs on those registers. Every slot sees the same operation sequence whatever
/// its position in the batch, so results do not depend on how the batch is split.
/// </summary>
internal static class StepKernel512
{
    public const int Lanes = 16;
    public const int TileSlots = 48;

    /// <summary>Six-slot tiles need 24 accumulator registers: only with AVX-512's 32 vector registers.</summary>
    private static readonly bool UseTile6 = Avx512F.IsSupported;
    private const int PrefetchBytes = 1024;

    /// <summary>Scratch floats one thread needs for a model.</summary>
    public static int ScratchSize(VectorPack p) => TileSlots * (Math.Max(p.Config.InputSize, p.Config.HiddenSize) + p.Config.HiddenSize) + 16 * Lanes + TileSlots * 4 * Lanes;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(VectorPack p, StateSlab slab, ReadOnlySpan<int> slots, ReadOnlySpan<float> x, Span<float> mu, Span<float> logSigma, Span<float> scratch)
    {
        var cfg = p.Config;
        int hid = cfg.HiddenSize, inp = cfg.InputSize, k = cfg.Horizons;
        var zMax = Math.Max(inp, hid) + hid;
        var z = scratch[..(TileSlots * zMax)];
        var tmp = scratch.Slice(TileSlots * zMax, 16 * Lanes);
        var gates = scratch.Slice(TileSlots * zMax + 16 * Lanes, TileSlots * 4 * Lanes);
        for (var t0 = 0; t0 < slots.Length; t0 += TileSlots)
        {
            var n = Math.Min(TileSlots, slots.Length - t0);
            var tile = slots.Slice(t0, n);
            for (var l = 0; l < cfg.Layers; l++)
            {
                var inSize = cfg.LayerInputSize(l);
                var kin = inSize + hid;
                var hLayer = slab.HLayer(l);
                var cLayer = slab.CLayer(l);
                var below = l == 0 ? null : slab.HLayer(l - 1);
                // Gather [input; h_old] per slot: the cell writes new h in place while later blocks still need the old one.
                for (var s = 0; s < n; s++)
                {
                    var slot = tile[s];
                    var dst = z.Slice(s * kin, kin);
                    if (l == 0) x.Slice((t0 + s) * inp, inp).CopyTo(dst);
                    else below.AsSpan(slot * hid, hid).CopyTo(dst);
                    hLayer.AsSpan(slot * hid, hid).CopyTo(dst[inSize..]);
                }

                ref var w0 = ref p.Weights[l][0];
                ref var b0 = ref p.Bias[l][0];
                ref var zr = ref z[0];
                var full = n & ~3;
                for (var u = 0; u < p.Blocks; u++)
                {
                    ref var w = ref Unsafe.Add(ref w0, u * kin * 4 * Lanes);
                    ref var b = ref Unsafe.Add(ref b0, u * 4 * Lanes);
                    var unit = u * Lanes;
                    var valid = Math.Min(Lanes, hid - unit);
                    var s6 = 0;
                    for (; UseTile6 && s6 + 6 <= full; s6 += 6)
                    {
                        Tile6(ref w, ref b, ref Unsafe.Add(ref zr, s6 * kin), kin, ref gates[s6 * 4 * Lanes]);
                    }

                    for (var s = s6; s < full; s += 4)
                    {
                        Tile4(ref w, ref b, ref Unsafe.Add(ref zr, s * kin), kin, ref gates[s * 4 * Lanes]);
                    }

                    // Cell math for the block over the whole tile in one loop: independent iterations let the core overlap
                    // one slot's exp/reciprocal chains with the next slot's.
                    if (full > 0) CellRange(gates, tile[..full], hLayer, cLayer, hid, unit, valid);
                }

                // Leftover slots (fewer than four): two unit blocks per pass give eight independent FMA chains.
                for (var s = full; s < n; s++)
                {
                    var u = 0;
                    for (; u + 2 <= p.Blocks; u += 2)
                    {
                        Tile1x2(ref Unsafe.Add(ref w0, u * kin * 4 * Lanes), ref Unsafe.Add(ref b0, u * 4 * Lanes), ref Unsafe.Add(ref zr, s * kin), kin,
                            hLayer, cLayer, hid, u * Lanes, tile[s], tmp);
                    }

                    if (u < p.Blocks)
                    {
                        Tile1(ref Unsafe.Add(ref w0, u * kin * 4 * Lanes), ref Unsafe.Add(ref b0, u * 4 * Lanes), ref Unsafe.Add(ref zr, s * kin), kin,
                            hLayer, cLayer, hid, u * Lanes, Math.Min(Lanes, hid - u * Lanes), tile[s], tmp);
                    }
                }
            }

            var top = slab.HLayer(cfg.Layers - 1);
            for (var s = 0; s < n; s++)
            {
                Head(p, top.AsSpan(tile[s] * hid, hid), mu.Slice((t0 + s) * k, k), logSigma.Slice((t0 + s) * k, k));
            }
        }
    }

    /// <summary>Six slots, one unit block: 24 accumulators; same FMA order per lane as <see cref="Tile1"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile6(ref float w, ref float b, ref float z0, int kin, ref float g)
    {
        var bi = Vector512.LoadUnsafe(ref b);
        var bf = Vector512.LoadUnsafe(ref b, Lanes);
        var bg = Vector512.LoadUnsafe(ref b, 2 * Lanes);
        var bo = Vector512.LoadUnsafe(ref b, 3 * Lanes);
        Vector512<float> i0 = bi, f0 = bf, g0 = bg, o0 = bo;
        Vector512<float> i1 = bi, f1 = bf, g1 = bg, o1 = bo;
        Vector512<float> i2 = bi, f2 = bf, g2 = bg, o2 = bo;
        Vector512<float> i3 = bi, f3 = bf, g3 = bg, o3 = bo;
        Vector512<float> i4 = bi, f4 = bf, g4 = bg, o4 = bo;
        Vector512<float> i5 = bi, f5 = bf, g5 = bg, o5 = bo;
        ref var z1 = ref Unsafe.Add(ref z0, 1 * kin);
        ref var z2 = ref Unsafe.Add(ref z0, 2 * kin);
        ref var z3 = ref Unsafe.Add(ref z0, 3 * kin);
        ref var z4 = ref Unsafe.Add(ref z0, 4 * kin);
        ref var z5 = ref Unsafe.Add(ref z0, 5 * kin);
        for (var k = 0; k < kin; k++)
        {
            var off = (nuint)(k * 4 * Lanes);
            var wi = Vector512.LoadUnsafe(ref w, off);
            var wf = Vector512.LoadUnsafe(ref w, off + Lanes);
            var wg = Vector512.LoadUnsafe(ref w, off + 2 * Lanes);
            var wo = Vector512.LoadUnsafe(ref w, off + 3 * Lanes);
            var a = Vector512.Create(Unsafe.Add(ref z0, k));
            i0 = Vector512.FusedMultiplyAdd(wi, a, i0);
            f0 = Vector512.FusedMultiplyAdd(wf, a, f0);
            g0 = Vector512.FusedMultiplyAdd(wg, a, g0);
            o0 = Vector512.FusedMultiplyAdd(wo, a, o0);
            a = Vector512.Create(Unsafe.Add(ref z1, k));
            i1 = Vector512.FusedMultiplyAdd(wi, a, i1);
            f1 = Vector512.FusedMultiplyAdd(wf, a, f1);
            g1 = Vector512.FusedMultiplyAdd(wg, a, g1);
            o1 = Vector512.FusedMultiplyAdd(wo, a, o1);
            a = Vector512.Create(Unsafe.Add(ref z2, k));
            i2 = Vector512.FusedMultiplyAdd(wi, a, i2);
            f2 = Vector512.FusedMultiplyAdd(wf, a, f2);
            g2 = Vector512.FusedMultiplyAdd(wg, a, g2);
            o2 = Vector512.FusedMultiplyAdd(wo, a, o2);
            a = Vector512.Create(Unsafe.Add(ref z3, k));
            i3 = Vector512.FusedMultiplyAdd(wi, a, i3);
            f3 = Vector512.FusedMultiplyAdd(wf, a, f3);
            g3 = Vector512.FusedMultiplyAdd(wg, a, g3);
            o3 = Vector512.FusedMultiplyAdd(wo, a, o3);
            a = Vector512.Create(Unsafe.Add(ref z4, k));
            i4 = Vector512.FusedMultiplyAdd(wi, a, i4);
            f4 = Vector512.FusedMultiplyAdd(wf, a, f4);
            g4 = Vector512.FusedMultiplyAdd(wg, a, g4);
            o4 = Vector512.FusedMultiplyAdd(wo, a, o4);
            a = Vector512.Create(Unsafe.Add(ref z5, k));
            i5 = Vector512.FusedMultiplyAdd(wi, a, i5);
            f5 = Vector512.FusedMultiplyAdd(wf, a, f5);
            g5 = Vector512.FusedMultiplyAdd(wg, a, g5);
            o5 = Vector512.FusedMultiplyAdd(wo, a, o5);
        }

        i0.StoreUnsafe(ref g, 0 * Lanes);
        f0.StoreUnsafe(ref g, 1 * Lanes);
        g0.StoreUnsafe(ref g, 2 * Lanes);
        o0.StoreUnsafe(ref g, 3 * Lanes);
        i1.StoreUnsafe(ref g, 4 * Lanes);
        f1.StoreUnsafe(ref g, 5 * Lanes);
        g1.StoreUnsafe(ref g, 6 * Lanes);
        o1.StoreUnsafe(ref g, 7 * Lanes);
        i2.StoreUnsafe(ref g, 8 * Lanes);
        f2.StoreUnsafe(ref g, 9 * Lanes);
        g2.StoreUnsafe(ref g, 10 * Lanes);
        o2.StoreUnsafe(ref g, 11 * Lanes);
        i3.StoreUnsafe(ref g, 12 * Lanes);
        f3.StoreUnsafe(ref g, 13 * Lanes);
        g3.StoreUnsafe(ref g, 14 * Lanes);
        o3.StoreUnsafe(ref g, 15 * Lanes);
        i4.StoreUnsafe(ref g, 16 * Lanes);
        f4.StoreUnsafe(ref g, 17 * Lanes);
        g4.StoreUnsafe(ref g, 18 * Lanes);
        o4.StoreUnsafe(ref g, 19 * Lanes);
        i5.StoreUnsafe(ref g, 20 * Lanes);
        f5.StoreUnsafe(ref g, 21 * Lanes);
        g5.StoreUnsafe(ref g, 22 * Lanes);
        o5.StoreUnsafe(ref g, 23 * Lanes);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile4(ref float w, ref float b, ref float z0, int kin, ref float g)
    {
        var bi = Vector512.LoadUnsafe(ref b);
        var bf = Vector512.LoadUnsafe(ref b, Lanes);
        var bg = Vector512.LoadUnsafe(ref b, 2 * Lanes);
        var bo = Vector512.LoadUnsafe(ref b, 3 * Lanes);
        Vector512<float> i0 = bi, f0 = bf, g0 = bg, o0 = bo;
        Vector512<float> i1 = bi, f1 = bf, g1 = bg, o1 = bo;
        Vector512<float> i2 = bi, f2 = bf, g2 = bg, o2 = bo;
        Vector512<float> i3 = bi, f3 = bf, g3 = bg, o3 = bo;
        ref var z1 = ref Unsafe.Add(ref z0, kin);
        ref var z2 = ref Unsafe.Add(ref z0, 2 * kin);
        ref var z3 = ref Unsafe.Add(ref z0, 3 * kin);
        for (var k = 0; k < kin; k++)
        {
            var off = (nuint)(k * 4 * Lanes);
            var wi = Vector512.LoadUnsafe(ref w, off);
            var wf = Vector512.LoadUnsafe(ref w, off + Lanes);
            var wg = Vector512.LoadUnsafe(ref w, off + 2 * Lanes);
            var wo = Vector512.LoadUnsafe(ref w, off + 3 * Lanes);
            var a = Vector512.Create(Unsafe.Add(ref z0, k));
            i0 = Vector512.FusedMultiplyAdd(wi, a, i0);
            f0 = Vector512.FusedMultiplyAdd(wf, a, f0);
            g0 = Vector512.FusedMultiplyAdd(wg, a, g0);
            o0 = Vector512.FusedMultiplyAdd(wo, a, o0);
            a = Vector512.Create(Unsafe.Add(ref z1, k));
            i1 = Vector512.FusedMultiplyAdd(wi, a, i1);
            f1 = Vector512.FusedMultiplyAdd(wf, a, f1);
            g1 = Vector512.FusedMultiplyAdd(wg, a, g1);
            o1 = Vector512.FusedMultiplyAdd(wo, a, o1);
            a = Vector512.Create(Unsafe.Add(ref z2, k));
            i2 = Vector512.FusedMultiplyAdd(wi, a, i2);
            f2 = Vector512.FusedMultiplyAdd(wf, a, f2);
            g2 = Vector512.FusedMultiplyAdd(wg, a, g2);
            o2 = Vector512.FusedMultiplyAdd(wo, a, o2);
            a = Vector512.Create(Unsafe.Add(ref z3, k));
            i3 = Vector512.FusedMultiplyAdd(wi, a, i3);
            f3 = Vector512.FusedMultiplyAdd(wf, a, f3);
            g3 = Vector512.FusedMultiplyAdd(wg, a, g3);
            o3 = Vector512.FusedMultiplyAdd(wo, a, o3);
        }

        // Gate sums go to scratch; the cell math runs later over the whole tile (keeping 16 accumulators live across
        // cell code made the JIT spill them inside the FMA loop).
        i0.StoreUnsafe(ref g, 0);
        f0.StoreUnsafe(ref g, Lanes);
        g0.StoreUnsafe(ref g, 2 * Lanes);
        o0.StoreUnsafe(ref g, 3 * Lanes);
        i1.StoreUnsafe(ref g, 4 * Lanes);
        f1.StoreUnsafe(ref g, 5 * Lanes);
        g1.StoreUnsafe(ref g, 6 * Lanes);
        o1.StoreUnsafe(ref g, 7 * Lanes);
        i2.StoreUnsafe(ref g, 8 * Lanes);
        f2.StoreUnsafe(ref g, 9 * Lanes);
        g2.StoreUnsafe(ref g, 10 * Lanes);
        o2.StoreUnsafe(ref g, 11 * Lanes);
        i3.StoreUnsafe(ref g, 12 * Lanes);
        f3.StoreUnsafe(ref g, 13 * Lanes);
        g3.StoreUnsafe(ref g, 14 * Lanes);
        o3.StoreUnsafe(ref g, 15 * Lanes);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile1(ref float w, ref float b, ref float z, int kin, float[] hLayer, float[] cLayer, int hid, int unit, int valid,
        int slot, Span<float> tmp)
    {
        var i0 = Vector512.LoadUnsafe(ref b);
        var f0 = Vector512.LoadUnsafe(ref b, Lanes);
        var g0 = Vector512.LoadUnsafe(ref b, 2 * Lanes);
        var o0 = Vector512.LoadUnsafe(ref b, 3 * Lanes);
        for (var k = 0; k < kin; k++)
        {
            var off = (nuint)(k * 4 * Lanes);
            var a = Vector512.Create(Unsafe.Add(ref z, k));
            i0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, off), a, i0);
            f0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, off + Lanes), a, f0);
            g0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, off + 2 * Lanes), a, g0);
            o0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, off + 3 * Lanes), a, o0);
        }

        ref var g = ref tmp[0];
        i0.StoreUnsafe(ref g, 0);
        f0.StoreUnsafe(ref g, Lanes);
        g0.StoreUnsafe(ref g, 2 * Lanes);
        o0.StoreUnsafe(ref g, 3 * Lanes);
        Cell(tmp, 0, hLayer, cLayer, slot * hid + unit, valid);
    }

    /// <summary>One slot, unit blocks u and u + 1 (same FMA order per lane as <see cref="Tile1"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x2(ref float w, ref float b, ref float z, int kin, float[] hLayer, float[] cLayer, int hid, int unit, int slot, Span<float> tmp)
    {
        var i0 = Vector512.LoadUnsafe(ref b);
        var f0 = Vector512.LoadUnsafe(ref b, Lanes);
        var g0 = Vector512.LoadUnsafe(ref b, 2 * Lanes);
        var o0 = Vector512.LoadUnsafe(ref b, 3 * Lanes);
        var i1 = Vector512.LoadUnsafe(ref b, 4 * Lanes);
        var f1 = Vector512.LoadUnsafe(ref b, 5 * Lanes);
        var g1 = Vector512.LoadUnsafe(ref b, 6 * Lanes);
        var o1 = Vector512.LoadUnsafe(ref b, 7 * Lanes);
        ref var w1 = ref Unsafe.Add(ref w, kin * 4 * Lanes);
        for (var k = 0; k < kin; k++)
        {
            var off = (nuint)(k * 4 * Lanes);
            if (Sse.IsSupported)
            {
                // One slot reuses nothing: stream the weights from L2 ahead of use (the packs are pinned).
                unsafe
                {
                    var pa = (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref w, off)) + PrefetchBytes;
                    var pb = (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref w1, off)) + PrefetchBytes;
                    Sse.Prefetch0(pa);
                    Sse.Prefetch0(pa + 64);
                    Sse.Prefetch0(pa + 128);
                    Sse.Prefetch0(pa + 192);
                    Sse.Prefetch0(pb);
                    Sse.Prefetch0(pb + 64);
                    Sse.Prefetch0(pb + 128);
                    Sse.Prefetch0(pb + 192);
                }
            }

            var a = Vector512.Create(Unsafe.Add(ref z, k));
            i0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, off), a, i0);
            f0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, off + Lanes), a, f0);
            g0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, off + 2 * Lanes), a, g0);
            o0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, off + 3 * Lanes), a, o0);
            i1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w1, off), a, i1);
            f1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w1, off + Lanes), a, f1);
            g1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w1, off + 2 * Lanes), a, g1);
            o1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w1, off + 3 * Lanes), a, o1);
        }

        ref var g = ref tmp[0];
        i0.StoreUnsafe(ref g, 0);
        f0.StoreUnsafe(ref g, Lanes);
        g0.StoreUnsafe(ref g, 2 * Lanes);
        o0.StoreUnsafe(ref g, 3 * Lanes);
        i1.StoreUnsafe(ref g, 4 * Lanes);
        f1.StoreUnsafe(ref g, 5 * Lanes);
        g1.StoreUnsafe(ref g, 6 * Lanes);
        o1.StoreUnsafe(ref g, 7 * Lanes);
        Cell(tmp, 0, hLayer, cLayer, slot * hid + unit, Math.Min(Lanes, hid - unit));
        Cell(tmp, 4 * Lanes, hLayer, cLayer, slot * hid + unit + Lanes, Math.Min(Lanes, hid - unit - Lanes));
    }

    /// <summary>Cell update of one unit block for every slot of <paramref name="slots"/>; gate sums at <c>gates[s·4·Lanes ..]</c>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void CellRange(Span<float> gates, ReadOnlySpan<int> slots, float[] hLayer, float[] cLayer, int hid, int unit, int valid)
    {
        if (valid != Lanes)
        {
            for (var s = 0; s < slots.Length; s++) Cell(gates, s * 4 * Lanes, hLayer, cLayer, slots[s] * hid + unit, valid);
            return;
        }

        ref var g0 = ref gates[0];
        for (var s = 0; s < slots.Length; s++)
        {
            var pos = slots[s] * hid + unit;
            ref var c = ref cLayer[pos];
            ref var h = ref hLayer[pos];
            ref var gr = ref Unsafe.Add(ref g0, s * 4 * Lanes);
            var i = Sigmoid(Vector512.LoadUnsafe(ref gr));
            var f = Sigmoid(Vector512.LoadUnsafe(ref gr, Lanes));
            var g = Tanh(Vector512.LoadUnsafe(ref gr, 2 * Lanes));
            var o = Sigmoid(Vector512.LoadUnsafe(ref gr, 3 * Lanes));
            var cn = Vector512.FusedMultiplyAdd(f, Vector512.LoadUnsafe(ref c), i * g);
            cn.StoreUnsafe(ref c);
            (o * Tanh(cn)).StoreUnsafe(ref h);
        }
    }

    /// <summary>Cell update for one slot and unit block from the gate sums at <paramref name="gates"/>[at..at + 4·Lanes).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Cell(Span<float> gates, int at, float[] hLayer, float[] cLayer, int pos, int valid)
    {
        ref var gr = ref gates[at];
        var i = Sigmoid(Vector512.LoadUnsafe(ref gr));
        var f = Sigmoid(Vector512.LoadUnsafe(ref gr, Lanes));
        var g = Tanh(Vector512.LoadUnsafe(ref gr, 2 * Lanes));
        var o = Sigmoid(Vector512.LoadUnsafe(ref gr, 3 * Lanes));
        if (valid == Lanes)
        {
            ref var c = ref cLayer[pos];
            var cn = Vector512.FusedMultiplyAdd(f, Vector512.LoadUnsafe(ref c), i * g);
            cn.StoreUnsafe(ref c);
            (o * Tanh(cn)).StoreUnsafe(ref hLayer[pos]);
        }
        else
        {
            // Partial last block: go through a stack buffer so no lane reads or writes past this slot's H values.
            Span<float> ct = stackalloc float[Lanes];
            ct.Clear();
            cLayer.AsSpan(pos, valid).CopyTo(ct);
            var cn = Vector512.FusedMultiplyAdd(f, Vector512.Create((ReadOnlySpan<float>)ct), i * g);
            cn.CopyTo(ct);
            ct[..valid].CopyTo(cLayer.AsSpan(pos, valid));
            (o * Tanh(cn)).CopyTo(ct);
            ct[..valid].CopyTo(hLayer.AsSpan(pos, valid));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Head(VectorPack p, ReadOnlySpan<float> h, Span<float> mu, Span<float> logSigma)
    {
        var k = p.Config.Horizons;
        var hid = h.Length;
        for (var o = 0; o < 2 * k; o++)
        {
            var row = p.HeadWeight.AsSpan(o * hid, hid);
            var acc = Vector512<float>.Zero;
            var j = 0;
            for (; j + Lanes <= hid; j += Lanes)
            {
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(row.Slice(j, Lanes)), Vector512.Create(h.Slice(j, Lanes)), acc);
            }

            var sum = Vector512.Sum(acc);
            for (; j < hid; j++) sum = MathF.FusedMultiplyAdd(row[j], h[j], sum);
            sum += p.HeadBias[o];
            if (o < k) mu[o] = sum;
            else logSigma[o - k] = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Sigmoid(Vector512<float> x) => FastMath.Recip(Vector512<float>.One + Exp(-x));

    /// <summary>tanh x = 1 − 2 / (1 + e^{2x}); absolute error stays near float epsilon.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Tanh(Vector512<float> x) =>
        Vector512.FusedMultiplyAdd(Vector512.Create(-2f), FastMath.Recip(Vector512<float>.One + Exp(x + x)), Vector512<float>.One);

    /// <summary>
    /// e^x: Cephes' single-precision method (round x·log2 e to n, reduce with a two-part ln 2, degree-6 polynomial, add n
    /// to the exponent bits); relative error about 2 ulp. Inputs are clamped to ±86 so 2^n stays a normal float.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-86f)), Vector512.Create(86f));
        var magic = Vector512.Create(12582912f); // 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits
        var t = Vector512.FusedMultiplyAdd(x, Vector512.Create(1.44269504088896341f), magic);
        var n = t - magic;
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var q = Vector512.FusedMultiplyAdd(Vector512.Create(1.9875691500e-4f), r, Vector512.Create(1.3981999507e-3f));
        q = Vector512.FusedMultiplyAdd(q, r, Vector512.Create(8.3334519073e-3f));
        q = Vector512.FusedMultiplyAdd(q, r, Vector512.Create(4.1665795894e-2f));
        q = Vector512.FusedMultiplyAdd(q, r, Vector512.Create(1.6666665459e-1f));
        q = Vector512.FusedMultiplyAdd(q, r, Vector512.Create(5.0000001201e-1f));
        var y = Vector512.FusedMultiplyAdd(q, r * r, r) + Vector512<float>.One;
        var e = (t.AsInt32() - magic.AsInt32()) << 23;
        return (y.AsInt32() + e).AsSingle();
    }
}
