using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StreamLstm.Model.Inference;

// The cell updates and the head: what runs on the gate sums the tiles in StepKernel.cs leave in scratch.
internal static partial class StepKernel<TOps, TVec>
{
    /// <summary>Cell update of every unit block of one slot (h/c at <paramref name="pos"/>); block u's gate sums at <c>gates[u·4·Lanes ..]</c>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void CellBlocks(Span<float> gates, float[] hLayer, float[] cLayer, int hid, int pos)
    {
        var lanes = TOps.Lanes;
        var l = (nuint)lanes;
        var whole = hid / lanes;
        ref var g0 = ref gates[0];
        ref var c0 = ref MemoryMarshal.GetReference(cLayer.AsSpan(pos, hid)); // one bounds check for the slot's row
        ref var h0 = ref MemoryMarshal.GetReference(hLayer.AsSpan(pos, hid));
        for (var u = 0; u < whole; u++)
        {
            ref var gr = ref Unsafe.Add(ref g0, u * 4 * lanes);
            var i = TOps.Sigmoid(TOps.Load(ref gr, 0));
            var f = TOps.Sigmoid(TOps.Load(ref gr, l));
            var g = TOps.Tanh(TOps.Load(ref gr, 2 * l));
            var o = TOps.Sigmoid(TOps.Load(ref gr, 3 * l));
            var at = (nuint)(u * lanes);
            var cn = TOps.NewCell(i, f, g, TOps.Load(ref c0, at));
            TOps.Store(cn, ref c0, at);
            TOps.Store(TOps.Mul(o, TOps.Tanh(cn)), ref h0, at);
        }

        if (whole * lanes < hid) Cell(gates, whole * 4 * lanes, hLayer, cLayer, pos + whole * lanes, hid - whole * lanes);
    }

    /// <summary>Cell update of one unit block for every slot of <paramref name="slots"/>; gate sums at <c>gates[s·4·Lanes ..]</c>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void CellRange(Span<float> gates, ReadOnlySpan<int> slots, float[] hLayer, float[] cLayer, int hid, int unit, int valid)
    {
        var lanes = TOps.Lanes;
        if (valid != lanes)
        {
            for (var s = 0; s < slots.Length; s++) Cell(gates, s * 4 * lanes, hLayer, cLayer, slots[s] * hid + unit, valid);
            return;
        }

        var l = (nuint)lanes;
        ref var g0 = ref gates[0];
        for (var s = 0; s < slots.Length; s++)
        {
            var pos = slots[s] * hid + unit;
            ref var c = ref cLayer[pos];
            ref var h = ref hLayer[pos];
            ref var gr = ref Unsafe.Add(ref g0, s * 4 * lanes);
            var i = TOps.Sigmoid(TOps.Load(ref gr, 0));
            var f = TOps.Sigmoid(TOps.Load(ref gr, l));
            var g = TOps.Tanh(TOps.Load(ref gr, 2 * l));
            var o = TOps.Sigmoid(TOps.Load(ref gr, 3 * l));
            var cn = TOps.NewCell(i, f, g, TOps.Load(ref c, 0));
            TOps.Store(cn, ref c, 0);
            TOps.Store(TOps.Mul(o, TOps.Tanh(cn)), ref h, 0);
        }
    }

    /// <summary>Cell update for one slot and unit block from the gate sums at <paramref name="gates"/>[at..at + 4·Lanes).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Cell(Span<float> gates, int at, float[] hLayer, float[] cLayer, int pos, int valid)
    {
        var lanes = TOps.Lanes;
        var l = (nuint)lanes;
        ref var gr = ref gates[at];
        var i = TOps.Sigmoid(TOps.Load(ref gr, 0));
        var f = TOps.Sigmoid(TOps.Load(ref gr, l));
        var g = TOps.Tanh(TOps.Load(ref gr, 2 * l));
        var o = TOps.Sigmoid(TOps.Load(ref gr, 3 * l));
        if (valid == lanes)
        {
            ref var c = ref cLayer[pos];
            var cn = TOps.NewCell(i, f, g, TOps.Load(ref c, 0));
            TOps.Store(cn, ref c, 0);
            TOps.Store(TOps.Mul(o, TOps.Tanh(cn)), ref hLayer[pos], 0);
        }
        else
        {
            // Partial last block: go through a stack buffer so no lane reads or writes past this slot's H values.
            Span<float> ct = stackalloc float[16];
            ct.Clear();
            cLayer.AsSpan(pos, valid).CopyTo(ct);
            var cn = TOps.NewCell(i, f, g, TOps.Load(ref ct[0], 0));
            TOps.Store(cn, ref ct[0], 0);
            ct[..valid].CopyTo(cLayer.AsSpan(pos, valid));
            TOps.Store(TOps.Mul(o, TOps.Tanh(cn)), ref ct[0], 0);
            ct[..valid].CopyTo(hLayer.AsSpan(pos, valid));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Head(VectorPack p, ReadOnlySpan<float> h, Span<float> mu, Span<float> logSigma)
    {
        var k = p.Config.Horizons;
        var hid = h.Length;
        ref var hr = ref Unsafe.AsRef(in h[0]);
        for (var o = 0; o < 2 * k; o++)
        {
            var sum = TOps.HeadDot(ref p.HeadWeight[o * hid], ref hr, hid, p.HeadBias[o]);
            if (o < k) mu[o] = sum;
            else logSigma[o - k] = sum;
        }
    }
}
