using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StreamLstm.Model.Inference;

// The cell updates and the head: what runs on the gate sums the tiles in StepKernel.cs leave in scratch.
internal static unsafe partial class StepKernel<TOps, TVec>
{
    /// <summary>Cell update of every unit block of one slot (its layer's h at <paramref name="h"/>, c at <paramref name="c"/>); block u's gate sums at <c>gates[u·4·Lanes ..]</c>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void CellBlocks(Span<float> gates, float* h, float* c, int hid)
    {
        var lanes = TOps.Lanes;
        var l = (nuint)lanes;
        var whole = hid / lanes;
        ref var g0 = ref gates[0];
        ref var c0 = ref Unsafe.AsRef<float>(c);
        ref var h0 = ref Unsafe.AsRef<float>(h);
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

        if (whole * lanes < hid) Cell(gates, whole * 4 * lanes, h + whole * lanes, c + whole * lanes, hid - whole * lanes);
    }

    /// <summary>Cell update of one unit block for the first <paramref name="count"/> rows of the tile; gate sums at <c>gates[s·4·Lanes ..]</c>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void CellRange(Span<float> gates, nint* rows, int count, int hOff, int cOff, int unit, int valid)
    {
        var lanes = TOps.Lanes;
        if (valid != lanes)
        {
            for (var s = 0; s < count; s++) Cell(gates, s * 4 * lanes, (float*)rows[s] + hOff + unit, (float*)rows[s] + cOff + unit, valid);
            return;
        }

        var l = (nuint)lanes;
        ref var g0 = ref gates[0];
        for (var s = 0; s < count; s++)
        {
            ref var c = ref Unsafe.AsRef<float>((float*)rows[s] + cOff + unit);
            ref var h = ref Unsafe.AsRef<float>((float*)rows[s] + hOff + unit);
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
    private static void Cell(Span<float> gates, int at, float* hp, float* cp, int valid)
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
            ref var c = ref Unsafe.AsRef<float>(cp);
            var cn = TOps.NewCell(i, f, g, TOps.Load(ref c, 0));
            TOps.Store(cn, ref c, 0);
            TOps.Store(TOps.Mul(o, TOps.Tanh(cn)), ref Unsafe.AsRef<float>(hp), 0);
        }
        else
        {
            // Partial last block: go through a stack buffer so no lane reads or writes past this slot's H values.
            Span<float> ct = stackalloc float[16];
            ct.Clear();
            new ReadOnlySpan<float>(cp, valid).CopyTo(ct);
            var cn = TOps.NewCell(i, f, g, TOps.Load(ref ct[0], 0));
            TOps.Store(cn, ref ct[0], 0);
            ct[..valid].CopyTo(new Span<float>(cp, valid));
            TOps.Store(TOps.Mul(o, TOps.Tanh(cn)), ref ct[0], 0);
            ct[..valid].CopyTo(new Span<float>(hp, valid));
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
