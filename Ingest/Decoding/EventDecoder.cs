using System.Buffers;
using System.Text.Json;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Decoding;

/// <summary>
/// Decodes one JSON event with <see cref="Utf8JsonReader"/> into raw values (no allocation per event) and validates it.
/// Raw values are the kind's measured quantities in original units, <see cref="double.NaN"/> where absent.
/// One instance per worker thread: it owns a scratch buffer for escaped ids.
/// </summary>
public abstract class EventDecoder
{
    private readonly byte[] _idScratch = new byte[512];

    /// <summary>Source kind this decoder reads.</summary>
    public abstract SourceKind Kind { get; }

    /// <summary>Raw values written per event.</summary>
    public abstract int ValueCount { get; }

    /// <summary>The JSON field holding the entity id (<c>symbol</c>, <c>patient_id</c>, <c>stream_id</c>).</summary>
    public abstract string IdField { get; }

    /// <summary>Creates the decoder for <paramref name="kind"/>.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="audioCoefficients">Coefficients per audio frame.</param>
    /// <returns>A new decoder.</returns>
    public static EventDecoder For(SourceKind kind, int audioCoefficients = 13) => kind switch
    {
        SourceKind.Tick => new TickDecoder(),
        SourceKind.Vitals => new VitalsDecoder(),
        SourceKind.Audio => new AudioDecoder(audioCoefficients),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>
    /// Decodes <paramref name="json"/>. On success <paramref name="values"/> holds <see cref="ValueCount"/> raw values,
    /// <paramref name="timestampMs"/> the event time and <paramref name="id"/> the JSON entity id (empty when absent).
    /// </summary>
    /// <param name="json">UTF-8 JSON value.</param>
    /// <param name="values">At least <see cref="ValueCount"/> doubles.</param>
    /// <param name="timestampMs">Event time, Unix epoch milliseconds.</param>
    /// <param name="id">The entity-id field's UTF-8 bytes (a slice of <paramref name="json"/> or of a scratch buffer).</param>
    /// <returns><see cref="DeadLetterReason.None"/> when the event is good, else why it is not.</returns>
    public DeadLetterReason Decode(ReadOnlySpan<byte> json, Span<double> values, out long timestampMs, out ReadOnlySpan<byte> id)
    {
        timestampMs = long.MinValue;
        id = default;
        values[..ValueCount].Fill(double.NaN);
        BeginEvent();
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return DeadLetterReason.MalformedJson;
            }

            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    // Trailing content after the object makes the document malformed.
                    return reader.Read() ? DeadLetterReason.MalformedJson : Complete(values, timestampMs);
                }

                if (reader.TokenType != JsonTokenType.PropertyName)
                {
                    return DeadLetterReason.MalformedJson;
                }

                DeadLetterReason r;
                if (reader.ValueTextEquals("ts"u8))
                {
                    reader.Read();
                    r = ReadTimestamp(ref reader, out timestampMs);
                }
                else if (reader.ValueTextEquals(IdFieldUtf8))
                {
                    reader.Read();
                    r = ReadId(ref reader, out var idStart, out var idLength);
                    id = idStart < 0 ? _idScratch.AsSpan(0, idLength) : json.Slice(idStart, idLength);
                }
                else
                {
                    r = ReadField(ref reader, values);
                }

                if (r != DeadLetterReason.None)
                {
                    return r;
                }
            }

            return DeadLetterReason.MalformedJson;
        }
        catch (JsonException)
        {
            return DeadLetterReason.MalformedJson;
        }
    }

    /// <summary>The id field name as UTF-8.</summary>
    protected abstract ReadOnlySpan<byte> IdFieldUtf8 { get; }

    /// <summary>Resets per-event parse state.</summary>
    protected virtual void BeginEvent()
    {
    }

    /// <summary>Reads a property the reader is positioned on (its name); unknown ones must be skipped.</summary>
    /// <param name="reader">Reader positioned on a property name.</param>
    /// <param name="values">Raw values.</param>
    /// <returns>A reason, or <see cref="DeadLetterReason.None"/>.</returns>
    protected abstract DeadLetterReason ReadField(ref Utf8JsonReader reader, Span<double> values);

    /// <summary>Checks required fields and value ranges once the object is read.</summary>
    /// <param name="values">Raw values.</param>
    /// <returns>A reason, or <see cref="DeadLetterReason.None"/>.</returns>
    protected abstract DeadLetterReason Validate(Span<double> values);

    /// <summary>Skips the value of the property the reader is positioned on.</summary>
    /// <param name="reader">Reader.</param>
    /// <returns>Always <see cref="DeadLetterReason.None"/>.</returns>
    protected static DeadLetterReason SkipValue(ref Utf8JsonReader reader)
    {
        reader.Read();
        reader.Skip();
        return DeadLetterReason.None;
    }

    /// <summary>Reads a number (or null = absent) into <paramref name="value"/>; strings such as "NaN" count as non-finite.</summary>
    /// <param name="reader">Reader positioned on the value.</param>
    /// <param name="value">The number, NaN when null.</param>
    /// <returns>A reason, or <see cref="DeadLetterReason.None"/>.</returns>
    protected static DeadLetterReason ReadNumber(ref Utf8JsonReader reader, out double value)
    {
        value = double.NaN;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return DeadLetterReason.None;
            case JsonTokenType.Number:
                if (!reader.TryGetDouble(out value) || !double.IsFinite(value))
                {
                    value = double.NaN;
                    return DeadLetterReason.NonFinite;
                }

                return DeadLetterReason.None;
            case JsonTokenType.String:
                return IsNonFiniteName(reader.ValueSpan) ? DeadLetterReason.NonFinite : DeadLetterReason.WrongType;
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                reader.Skip();
                return DeadLetterReason.WrongType;
            default:
                return DeadLetterReason.WrongType;
        }
    }

    private static bool IsNonFiniteName(ReadOnlySpan<byte> s) =>
        s.SequenceEqual("NaN"u8) || s.SequenceEqual("Infinity"u8) || s.SequenceEqual("-Infinity"u8) || s.SequenceEqual("+Infinity"u8)
        || s.SequenceEqual("nan"u8) || s.SequenceEqual("inf"u8) || s.SequenceEqual("-inf"u8);

    private static DeadLetterReason ReadTimestamp(ref Utf8JsonReader reader, out long ms)
    {
        ms = long.MinValue;
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out ms))
                {
                    return ms < 0 ? DeadLetterReason.ImpossibleValue : DeadLetterReason.None;
                }

                if (reader.TryGetDouble(out var d) && double.IsFinite(d))
                {
                    if (d < 0 || d > 9e15)
                    {
                        return DeadLetterReason.ImpossibleValue;
                    }

                    ms = (long)Math.Floor(d);
                    return DeadLetterReason.None;
                }

                return DeadLetterReason.NonFinite;
            case JsonTokenType.String:
                if (reader.TryGetDateTimeOffset(out var dto))
                {
                    ms = dto.ToUnixTimeMilliseconds();
                    return ms < 0 ? DeadLetterReason.ImpossibleValue : DeadLetterReason.None;
                }

                return DeadLetterReason.WrongType;
            case JsonTokenType.Null:
                return DeadLetterReason.MissingField;
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                reader.Skip();
                return DeadLetterReason.WrongType;
            default:
                return DeadLetterReason.WrongType;
        }
    }

    private DeadLetterReason ReadId(ref Utf8JsonReader reader, out int start, out int length)
    {
        // Returns where the id lies in the input (start ≥ 0) or in the scratch buffer (start = -1).
        start = 0;
        length = 0;
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                if (!reader.ValueIsEscaped)
                {
                    start = (int)reader.TokenStartIndex + 1;
                    length = reader.ValueSpan.Length;
                    return DeadLetterReason.None;
                }

                // Escaped ids are rare; unescape into the scratch buffer (too long → treat as wrong type).
                if (reader.ValueSpan.Length > _idScratch.Length)
                {
                    return DeadLetterReason.WrongType;
                }

                length = reader.CopyString(_idScratch);
                start = -1;
                return DeadLetterReason.None;
            case JsonTokenType.Number:
                // Numeric patient ids are common in clinical exports: keep their text form.
                start = (int)reader.TokenStartIndex;
                length = reader.ValueSpan.Length;
                return DeadLetterReason.None;
            case JsonTokenType.Null:
                return DeadLetterReason.None;
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                reader.Skip();
                return DeadLetterReason.WrongType;
            default:
                return DeadLetterReason.WrongType;
        }
    }

    private DeadLetterReason Complete(Span<double> values, long timestampMs) =>
        timestampMs == long.MinValue ? DeadLetterReason.MissingField : Validate(values);
}
