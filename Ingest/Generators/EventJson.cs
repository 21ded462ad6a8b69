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
    /// <returns>Bytes written.</returns>
    public static int WriteTick(Span<byte> destination, ReadOnlySpan<byte> symbolEncoded, long ts, double price, double size, double bid, double ask, ReadOnlySpan<byte> label = default)
    {
        var w = new SpanWriter(destination);
        w.Raw("{\"symbol\":\""u8);
        w.Raw(symbolEncoded);
        w.Raw("\",\"ts\":"u8);
        w.Int(ts);
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
    /// <returns>Bytes written.</returns>
    public static int WriteVitals(Span<byte> destination, ReadOnlySpan<byte> patientEncoded, long ts, in VitalValues v, ReadOnlySpan<byte> label = default)
    {
        var w = new SpanWriter(destination);
        w.Raw("{\"patient_id\":\""u8);
        w.Raw(patientEncoded);
        w.Raw("\",\"ts\":"u8);
        w.Int(ts);
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
    /// <returns>Bytes written.</returns>
    public static int WriteAudioFrame(Span<byte> destination, ReadOnlySpan<byte> streamEncoded, long ts, long frame, ReadOnlySpan<float> coeffs, double energy, ReadOnlySpan<byte> label = default)
    {
        var w = new SpanWriter(destination);
        w.Raw("{\"stream_id\":\""u8);
        w.Raw(streamEncoded);
        w.Raw("\",\"ts\":"u8);
        w.Int(ts);
        w.Raw(",\"frame\":"u8);
        w.Int(frame);
        w.Raw(",\"coeffs\":["u8);
        for (var i = 0; i < coeffs.Length; i++)
        {
            if (i > 0)
            {
                w.Raw(","u8);
            }

            w.Number(coeffs[i]);
        }

        w.Raw("]"u8);
        w.Optional(",\"energy\":"u8, energy);
        w.Label(label);
        w.Raw("}"u8);
        return w.Position;
    }

    private ref struct SpanWriter(Span<byte> destination)
    {
        private readonly Span<byte> _dest = destination;

        public int Position { get; private set; }

        public void Raw(ReadOnlySpan<byte> bytes)
        {
            if (!bytes.TryCopyTo(_dest[Position..]))
            {
                ThrowTooSmall();
            }

            Position += bytes.Length;
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

            // Shortest round-trip form ("R" semantics); exponent forms like 1E-05 are valid JSON numbers.
            if (!value.TryFormat(_dest[Position..], out var n, default, CultureInfo.InvariantCulture))
            {
                ThrowTooSmall();
            }

            Position += n;
        }

        public void Number(float value)
        {
            if (!float.IsFinite(value))
            {
                throw new ArgumentException($"JSON cannot carry {value}.", nameof(value));
            }

            if (!value.TryFormat(_dest[Position..], out var n, default, CultureInfo.InvariantCulture))
            {
                ThrowTooSmall();
            }

            Position += n;
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
