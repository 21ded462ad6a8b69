namespace StreamLstm.Sink.Kafka;

/// <summary>
/// A fast path for the shortest round-trip text of a <see cref="float"/> in the range .NET writes without an exponent
/// (<c>1E-4 ≤ |v| &lt; 1E9</c>): the same bytes as <c>v.TryFormat(…, CultureInfo.InvariantCulture)</c>, found by trying the
/// correctly rounded p-digit decimal for growing p in double arithmetic. Whenever double rounding could decide the
/// answer (near-ties, values near the round-trip boundary, powers of two whose rounding interval is lopsided) it declines
/// and the caller uses the runtime's formatter, so it is exact by construction (and checked against it in tests).
/// </summary>
internal static class ShortestFloat
{
    // Exact powers of ten as doubles (10^22 is the largest exact one).
    private static readonly double[] Pow10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16];

    private const double Margin = 1e-6;

    /// <summary>Writes <paramref name="v"/> (finite) when the fast path is sure of the result.</summary>
    /// <param name="v">Value.</param>
    /// <param name="destination">At least 16 bytes.</param>
    /// <param name="written">Bytes written.</param>
    /// <returns>False when the caller must format it the general way.</returns>
    public static bool TryWrite(float v, Span<byte> destination, out int written)
    {
        written = 0;
        var bits = BitConverter.SingleToInt32Bits(v);
        // Zero, and powers of two (lopsided rounding interval: the closest p-digit decimal may miss it while another fits).
        if ((bits & 0x7FFFFF) == 0) return false;
        double a = Math.Abs(v);
        if (a < 1e-4 || a >= 1e9) return false;

        // e: the decimal exponent of the leading digit (a in [10^e, 10^(e+1))), -4..8.
        var e = 8;
        while (e > -4 && a < Pow10OrInv(e)) e--;

        // Half the float gaps above and below a (equal: a is not a power of two).
        var half = (BitConverter.Int32BitsToSingle((bits & 0x7FFFFFFF) + 1) - (double)Math.Abs(v)) / 2;
        // Round-tripping is monotone in p (p-digit decimals are among the (p+1)-digit ones), so start at 8 digits, where
        // most model outputs land, and walk down while shorter texts still round-trip (9 when 8 does not).
        var state = Try(a, half, e, 8, out var digits, out var scale);
        if (state < 0) return false;
        if (state == 0)
        {
            if (Try(a, half, e, 9, out digits, out scale) <= 0) return false;
        }
        else
        {
            for (var p = 7; p >= 1; p--)
            {
                var shorter = Try(a, half, e, p, out var d, out var sc);
                if (shorter < 0) return false;
                if (shorter == 0) break;
                (digits, scale) = (d, sc);
            }
        }

        var n = 0;
        if (v < 0) destination[n++] = (byte)'-';
        n += WriteFixed(digits, scale, destination[n..]);
        written = n;
        return true;
    }

    /// <summary>The correctly rounded <paramref name="p"/>-digit decimal of <paramref name="a"/>: 1 round-trips, 0 does not, -1 unsure.</summary>
    private static int Try(double a, double half, int e, int p, out long digits, out int scale)
    {
        scale = p - 1 - e; // value = digits * 10^-scale, digits has p digits
        var d = scale >= 0 ? a * Pow10[scale] : a / Pow10[-scale];
        var floor = Math.Floor(d);
        var frac = d - floor;
        digits = (long)floor + (frac > 0.5 ? 1 : 0);
        if (Math.Abs(frac - 0.5) < Margin)
        {
            // Near a tie the double product cannot tell which way to round; it matters only if either side could
            // round-trip (decimal-looking values such as 100.25 tie at p = 4, where neither does).
            var unit = scale >= 0 ? 1 / Pow10[scale] : Pow10[-scale];
            return (0.5 - (2 * Margin)) * unit > half * (1 + Margin) ? 0 : -1;
        }

        var back = scale >= 0 ? digits / Pow10[scale] : digits * Pow10[-scale];
        var distance = Math.Abs(back - a);
        if (distance < half * (1 - Margin)) return 1;
        return distance <= half * (1 + Margin) ? -1 : 0; // on the boundary ties-to-even decides: leave it
    }

    private static double Pow10OrInv(int e) => e >= 0 ? Pow10[e] : 1 / Pow10[-e];

    /// <summary><paramref name="digits"/> × 10^-<paramref name="scale"/> in plain notation, trailing fraction zeros dropped.</summary>
    private static int WriteFixed(long digits, int scale, Span<byte> d)
    {
        Span<byte> text = stackalloc byte[24];
        var len = 0;
        for (var x = digits; x > 0; x /= 10) text[len++] = (byte)('0' + (int)(x % 10));
        // text holds the digits least significant first.
        if (scale <= 0)
        {
            var n0 = 0;
            for (var i = len - 1; i >= 0; i--) d[n0++] = text[i];
            for (var i = 0; i < -scale; i++) d[n0++] = (byte)'0';
            return n0;
        }

        // Drop trailing zeros of the fraction.
        var skip = 0;
        while (skip < scale && skip < len && text[skip] == '0') skip++;
        var fraction = scale - skip;
        var n = 0;
        if (len <= scale)
        {
            d[n++] = (byte)'0';
        }
        else
        {
            for (var i = len - 1; i >= scale; i--) d[n++] = text[i];
        }

        if (fraction == 0) return n;
        d[n++] = (byte)'.';
        for (var i = scale - 1; i >= skip; i--) d[n++] = i < len ? text[i] : (byte)'0';
        return n;
    }
}
