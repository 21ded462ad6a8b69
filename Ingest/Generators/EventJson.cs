using System.Buffers.Text;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace StreamLstm.Ingest.Generators;

/// <summary>
/// Writes the three event contracts (tick, vitals, audio frame) as compact JSON straight into a span: no allocation,
/// no <see cref="Utf8JsonWriter"/> state, numbers in shortest round-trip form. NaN means "absent" and the field is
/// left out. Keys are passed pre-encoded (see <see cref="EncodeKey"/>) so escaping happens once per key, not per event.
/// </summary>
public static class EventJson
{
    /// <summary>Upper bound of one event's size for keys up to 64 encoded bytes; a destination this big always fits.</summary>
    public const int MaxEventBytes = 768;

    /// <summary>JSON-escapes a key once, for reuse in every event of that key.</summary>
    /// <param name="key">The entity id.</param>
    /// <returns>The escaped UTF-8 bytes (without quotes).</returns>
    public static byte[] EncodeKey(string key) => JsonEncodedText.Encode(key, JavaScriptEncoder.Default).EncodedUtf8Bytes.ToArray();

    /// <summary>Writes a tick: <c>{"symbol","ts","price","size"[,"bid","ask"][,"label"]}</c>.</summary>
    /// <param name="destination">Output span.</param>
    /// <param name="symbolEncoded">Symbol, JSON-escaped UTF-8.</param>
    /// <param name="ts">Epoch milliseconds.</param>
    /// <param name="price">Trade price.</param>
    /// <param name="size">Trade size.</param>
    /// <param name="bid">Bid, NaN when absent.</param>
    /// <param name="ask">Ask, NaN when absent.</param>
    /// <param name="label">Optional label (empty: none written).</param>
    /// <param name="decimals">-1: shortest round-trip form; 0..9: the value rounded to at most this many decimals
    /// (trailing zeros dropped), which is several times faster to write.</param>
    /// <param name="isoTimestamp">Write <c>ts</c> as an ISO-8601 UTC string (<c>"2023-11-14T22:13:20.123Z"</c>) instead of epoch ms.</param>
    /// <returns>Bytes written.</returns>
    public static int WriteTick(Span<byte> destination, ReadOnlySpan<byte> symbolEncoded, long ts, double price, double size, double bid, double ask, ReadOnlySpan<byte> label = default, int decimals = -1, bool isoTimestamp = false)
    {
        var w = new SpanWriter(destination, decimals, isoTimestamp);
        w.Raw("{\"symbol\":\""u8);
        w.Raw(symbolEncoded);
        w.Raw("\",\"ts\":"u8);
        w.Timestamp(ts);
        w.Raw(",\"price\":"u8);
        w.Number(price);
        w.Raw(",\"size\":"u8);
        w.Number(size);
        w.Optional(",\"bid\":"u8, bid);
        w.Optional(",\"ask\":"u8, ask);
        w.Label(label);
        w.Raw("}"u8);
        return w.Position;
    }

    /// <summary>Writes a vitals event; each NaN vital is left out.</summary>
    /// <param name="destination">Output span.</param>
    /// <param name="patientEncoded">Patient id, JSON-escaped UTF-8.</param>
    /// <param name="ts">Epoch milliseconds.</param>
    /// <param name="v">The vitals (NaN = missing).</param>
    /// <param name="label">Optional label (empty: none written).</param>
    /// <param name="decimals">-1: shortest round-trip form; 0..9: the value rounded to at most this many decimals
    /// (trailing zeros dropped), which is several times faster to write.</param>
    /// <param name="isoTimestamp">Write <c>ts</c> as an ISO-8601 UTC string (<c>"2023-11-14T22:13:20.123Z"</c>) instead of epoch ms.</param>
    /// <returns>Bytes written.</returns>
    public static int WriteVitals(Span<byte> destination, ReadOnlySpan<byte> patientEncoded, long ts, in VitalValues v, ReadOnlySpan<byte> label = default, int decimals = -1, bool isoTimestamp = false)
    {
        var w = new SpanWriter(destination, decimals, isoTimestamp);
        w.Raw("{\"patient_id\":\""u8);
        w.Raw(patientEncoded);
        w.Raw("\",\"ts\":"u8);
        w.Timestamp(ts);
        w.Optional(",\"hr\":"u8, v.Hr);
        w.Optional(",\"spo2\":"u8, v.Spo2);
        w.Optional(",\"resp_rate\":"u8, v.RespRate);
        w.Optional(",\"sbp\":"u8, v.Sbp);
        w.Optional(",\"dbp\":"u8, v.Dbp);
        w.Optional(",\"map\":"u8, v.Map);
        w.Optional(",\"temp\":"u8, v.Temp);
        w.Label(label);
        w.Raw("}"u8);
        return w.Position;
    }

    /// <summary>Writes an audio frame: <c>{"stream_id","ts","frame","coeffs":[...][,"energy"][,"label"]}</c>.</summary>
    /// <param name="destination">Output span.</param>
    /// <param name="streamEncoded">Stream id, JSON-escaped UTF-8.</param>
    /// <param name="ts">Epoch milliseconds.</param>
    /// <param name="frame">Frame number within the stream.</param>
    /// <param name="coeffs">Coefficients.</param>
    /// <param name="energy">Log frame energy, NaN when absent.</param>
    /// <param name="label">Optional label (empty: none written).</param>
    /// <param name="decimals">-1: shortest round-trip form; 0..9: the value rounded to at most this many decimals
    /// (trailing zeros dropped), which is several times faster to write.</param>
    /// <param name="isoTimestamp">Write <c>ts</c> as an ISO-8601 UTC string (<c>"2023-11-14T22:13:20.123Z"</c>) instead of epoch ms.</param>
    /// <returns>Bytes written.</returns>
    public static int WriteAudioFrame(Span<byte> destination, ReadOnlySpan<byte> streamEncoded, long ts, long frame, ReadOnlySpan<float> coeffs, double energy, ReadOnlySpan<byte> label = default, int decimals = -1, bool isoTimestamp = false)
    {
        var w = new SpanWriter(destination, decimals, isoTimestamp);
        w.Raw("{\"stream_id\":\""u8);
        w.Raw(streamEncoded);
        w.Raw("\",\"ts\":"u8);
        w.Timestamp(ts);
        w.Raw(",\"frame\":"u8);
        w.Int(frame);
        w.Raw(",\"coeffs\":["u8);
        for (var i = 0; i < coeffs.Length; i++)
        {
            if (i > 0)
            {
                w.Raw(","u8);
            }

            w.Number((double)coeffs[i]);
        }

        w.Raw("]"u8);
        w.Optional(",\"energy\":"u8, energy);
        w.Label(label);
        w.Raw("}"u8);
        return w.Position;
    }

    private static readonly long[] Pow10 = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

    private ref struct SpanWriter(Span<byte> destination, int decimals, bool isoTimestamp)
    {
        private readonly bool _iso = isoTimestamp;
        private readonly Span<byte> _dest = destination;
        private readonly int _decimals = decimals is >= -1 and <= 9 ? decimals : throw new ArgumentOutOfRangeException(nameof(decimals), decimals, "decimals must be -1 (shortest) or 0..9");

        public int Position { get; private set; }

        public void Raw(ReadOnlySpan<byte> bytes)
        {
            if (!bytes.TryCopyTo(_dest[Position..]))
            {
                ThrowTooSmall();
            }

            Position += bytes.Length;
        }

        public void Timestamp(long unixMs)
        {
            if (!_iso)
            {
                Int(unixMs);
                return;
            }

            var utc = DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime;
            Raw("\""u8);
            if (!utc.TryFormat(_dest[Position..], out var n, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
            {
                ThrowTooSmall();
            }

            Position += n;
            Raw("\""u8);
        }

        // Decimal digits of value, left-padded with zeros to at least minDigits; a hand loop beats Utf8Formatter here.
        private void Digits(ulong value, int minDigits)
        {
            var count = 1;
            for (var t = value / 10; t != 0; t /= 10)
            {
                count++;
            }

            count = Math.Max(count, minDigits);
            if (_dest.Length - Position < count)
            {
                ThrowTooSmall();
            }

            for (var i = Position + count - 1; i >= Position; i--)
            {
                _dest[i] = (byte)('0' + (value % 10));
                value /= 10;
            }

            Position += count;
        }

        public void Int(long value)
        {
            if (!Utf8Formatter.TryFormat(value, _dest[Position..], out var n))
            {
                ThrowTooSmall();
            }

            Position += n;
        }

        public void Number(double value)
        {
            if (!double.IsFinite(value))
            {
                throw new ArgumentException($"JSON cannot carry {value}; use NaN only for an absent optional field.", nameof(value));
            }

            if (_decimals >= 0 && Fixed(value))
            {
                return;
            }

            // Shortest round-trip form ("R" semantics); exponent forms like 1E-05 are valid JSON numbers.
            if (!value.TryFormat(_dest[Position..], out var n, default, CultureInfo.InvariantCulture))
            {
                ThrowTooSmall();
            }

            Position += n;
        }

        // Integer part and fraction digits as two integers: far cheaper than shortest round-trip double formatting.
        private bool Fixed(double value)
        {
            var p = Pow10[_decimals];
            var scaled = Math.Round(value * p);
            if (Math.Abs(scaled) >= 1e15)
            {
                return false;
            }

            var v = (long)scaled;
            if (v < 0)
            {
                Raw("-"u8);
                v = -v;
            }

            Digits((ulong)(v / p), 1);
            var frac = v % p;
            if (frac != 0)
            {
                var digits = _decimals;
                while (frac % 10 == 0)
                {
                    frac /= 10;
                    digits--;
                }

                Raw("."u8);
                Digits((ulong)frac, digits);
            }

            return true;
        }

        public void Optional(ReadOnlySpan<byte> name, double value)
        {
            if (!double.IsNaN(value))
            {
                Raw(name);
                Number(value);
            }
        }

        public void Label(ReadOnlySpan<byte> label)
        {
            if (!label.IsEmpty)
            {
                Raw(",\"label\":\""u8);
                Raw(label);
                Raw("\""u8);
            }
        }

        private static void ThrowTooSmall() => throw new ArgumentException("Destination span is too small for the event; give at least EventJson.MaxEventBytes.", "destination");
    }
}
