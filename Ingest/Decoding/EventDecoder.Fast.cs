using System.Buffers.Text;

namespace StreamLstm.Ingest.Decoding;

// The fast path: a direct scan of the plain form producers write — one flat object, no whitespace, no escapes, the
// id as a string, "ts" as an integer, every other field a number (unknown fields: a number or a plain ASCII string).
// Anything else (or anything the scan is unsure of: duplicates, nulls, nested values, odd characters) returns false and
// the general Utf8JsonReader path decodes the document, so reasons and values are always the general path's.
public abstract partial class EventDecoder
{
    private const uint TsSeen = 1u << 30;
    private const uint IdSeen = 1u << 31;

    private bool TryDecodeFast(ReadOnlySpan<byte> json, Span<double> values, out long timestampMs, out ReadOnlySpan<byte> id, out DeadLetterReason reason)
    {
        timestampMs = long.MinValue;
        id = default;
        reason = DeadLetterReason.None;
        var end = json.Length - 1;
        if (end < 2 || json[0] != (byte)'{' || json[end] != (byte)'}') return false;
        var p = 1;
        var seen = 0u;
        while (true)
        {
            if (!ScanString(json, ref p, end, out var name) || p >= end || json[p] != (byte)':') return false;
            p++;
            if (p >= end) return false;
            if (name.SequenceEqual("ts"u8))
            {
                if ((seen & TsSeen) != 0 || !ScanInteger(json, ref p, end, out timestampMs)) return false;
                seen |= TsSeen;
            }
            else if (name.SequenceEqual(IdFieldUtf8))
            {
                if ((seen & IdSeen) != 0 || !ScanString(json, ref p, end, out var v)) return false;
                // An invalid id is left to the general path (it reports invalid_key); an empty one is absent.
                if (!v.IsEmpty && !IsValidKey(v)) return false;
                id = v;
                seen |= IdSeen;
            }
            else
            {
                var index = FastFieldIndex(name);
                if (index >= 0)
                {
                    if ((seen & (1u << index)) != 0 || !ScanNumber(json, ref p, end, out values[index])) return false;
                    seen |= 1u << index;
                }
                else if (!IsPlainAscii(name) || !(json[p] == (byte)'"' ? ScanString(json, ref p, end, out var skipped) && IsPlainAscii(skipped) : ScanNumber(json, ref p, end, out _)))
                {
                    return false;
                }
            }

            if (p == end) break;
            if (json[p] != (byte)',') return false;
            p++;
        }

        if ((seen & TsSeen) == 0) return false;
        reason = InWindow(timestampMs) ? Validate(values) : DeadLetterReason.TimestampOutOfRange;
        return true;
    }

    /// <summary>A string without escapes at <paramref name="p"/>; on success <paramref name="p"/> is past its closing quote.</summary>
    private static bool ScanString(ReadOnlySpan<byte> json, scoped ref int p, int end, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (p >= end || json[p] != (byte)'"') return false;
        var body = json[(p + 1)..end];
        var q = body.IndexOfAny((byte)'"', (byte)'\\');
        if (q < 0 || body[q] != (byte)'"') return false;
        value = body[..q];
        p += q + 2;
        return true;
    }

    /// <summary>A JSON integer of at most 18 digits (no fraction or exponent: those go to the general path).</summary>
    private static bool ScanInteger(ReadOnlySpan<byte> json, scoped ref int p, int end, out long value)
    {
        value = 0;
        var negative = json[p] == (byte)'-';
        var i = negative ? p + 1 : p;
        var start = i;
        while (i < end && (uint)(json[i] - '0') <= 9) value = value * 10 + (json[i++] - '0');
        var digits = i - start;
        if (digits == 0 || digits > 18 || (digits > 1 && json[start] == (byte)'0')) return false;
        if (i < end && json[i] is (byte)'.' or (byte)'e' or (byte)'E') return false;
        if (negative) value = -value;
        p = i;
        return true;
    }

    /// <summary>A finite JSON number (strict grammar), parsed as the general reader parses it.</summary>
    private static bool ScanNumber(ReadOnlySpan<byte> json, scoped ref int p, int end, out double value)
    {
        value = double.NaN;
        var i = p;
        var negative = json[i] == (byte)'-';
        if (negative) i++;
        if (i >= end) return false;
        // The digits, integer and fraction, as one integer (exact while at most 15 of them) and the fraction's length.
        ulong mantissa = 0;
        var digits = 0;
        if (json[i] == (byte)'0')
        {
            i++;
            digits = 1;
        }
        else if (json[i] is >= (byte)'1' and <= (byte)'9')
        {
            var s = i;
            while (i < end && (uint)(json[i] - '0') <= 9) mantissa = unchecked((mantissa * 10) + (uint)(json[i++] - '0'));
            digits = i - s;
        }
        else return false;

        var fraction = 0;
        if (i < end && json[i] == (byte)'.')
        {
            var f = ++i;
            while (i < end && (uint)(json[i] - '0') <= 9) mantissa = unchecked((mantissa * 10) + (uint)(json[i++] - '0'));
            fraction = i - f;
            if (fraction == 0) return false;
            digits += fraction;
        }

        var exponent = false;
        if (i < end && json[i] is (byte)'e' or (byte)'E')
        {
            exponent = true;
            i++;
            if (i < end && json[i] is (byte)'+' or (byte)'-') i++;
            var e = i;
            while (i < end && (uint)(json[i] - '0') <= 9) i++;
            if (i == e) return false;
        }

        if (!exponent && digits <= MaxExactDigits)
        {
            // Clinger's fast path: the integer (< 10^15 < 2^53) and 10^fraction (≤ 10^15) are exact doubles, so one IEEE
            // division gives the correctly rounded value. Utf8Parser (what Utf8JsonReader.TryGetDouble uses) rounds
            // correctly too, so these are its bits, at a fraction of its cost (4 numbers per tick).
            var v = (double)mantissa / ExactPowersOf10[fraction];
            value = negative ? -v : v;
            p = i;
            return true;
        }

        // Utf8Parser is what Utf8JsonReader.TryGetDouble uses: the same text gives the same bits.
        if (!Utf8Parser.TryParse(json[p..i], out value, out var used) || used != i - p || !double.IsFinite(value)) return false;
        p = i;
        return true;
    }

    /// <summary>Most digits (integer and fraction together) of a number parsed by the exact fast path.</summary>
    private const int MaxExactDigits = 15;

    /// <summary>10^0 … 10^15, each exactly representable as a double.</summary>
    private static ReadOnlySpan<double> ExactPowersOf10 => [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

    private static bool IsPlainAscii(ReadOnlySpan<byte> s) => !s.ContainsAnyExceptInRange((byte)0x20, (byte)0x7E);
}
