using System.Text.Json;
using System.Text.Unicode;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Decoding;

/// <summary>
/// Decodes one JSON event with <see cref="Utf8JsonReader"/> into raw values (no allocation per event) and validates it:
/// JSON shape and types, every value's range (<see cref="DecodeLimits"/>), the event time against a
/// <see cref="TimestampWindow"/> read from a <see cref="TimeProvider"/>, and the key (<see cref="Decode(ReadOnlySpan{byte}, ReadOnlySpan{byte}, Span{double}, out long, out ReadOnlySpan{byte})"/>).
/// Raw values are the kind's measured quantities in original units, <see cref="double.NaN"/> where absent.
/// One instance per worker thread: it owns a scratch buffer for escaped ids and a cached end of the window.
/// </summary>
public abstract partial class EventDecoder
{
    // An escape is at most 6 bytes per unescaped byte, so a longer escaped id cannot fit MaxKeyBytes once unescaped.
    private const int MaxEscapedIdBytes = 6 * DecodeLimits.MaxKeyBytes;

    private readonly byte[] _idScratch = new byte[MaxEscapedIdBytes];
    private readonly TimestampWindow _window;
    private readonly TimeProvider _time;
    private long _latestMs = long.MinValue;

    /// <summary>Creates a decoder.</summary>
    /// <param name="window">Accepted event times (default <see cref="TimestampWindow.Default"/>).</param>
    /// <param name="time">The wall clock the window's end follows (default <see cref="TimeProvider.System"/>).</param>
    protected EventDecoder(TimestampWindow? window, TimeProvider? time)
    {
        _window = window ?? TimestampWindow.Default;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Source kind this decoder reads.</summary>
    public abstract SourceKind Kind { get; }

    /// <summary>Raw values written per event.</summary>
    public abstract int ValueCount { get; }

    /// <summary>The JSON field holding the entity id (<c>symbol</c>, <c>patient_id</c>, <c>stream_id</c>).</summary>
    public abstract string IdField { get; }

    /// <summary>Accepted event times.</summary>
    public TimestampWindow Window => _window;

    /// <summary>Creates the decoder for <paramref name="kind"/>.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="audioCoefficients">Coefficients per audio frame.</param>
    /// <param name="window">Accepted event times (default <see cref="TimestampWindow.Default"/>).</param>
    /// <param name="time">The wall clock (default <see cref="TimeProvider.System"/>).</param>
    /// <returns>A new decoder.</returns>
    public static EventDecoder For(SourceKind kind, int audioCoefficients = 13, TimestampWindow? window = null, TimeProvider? time = null) => kind switch
    {
        SourceKind.Tick => new TickDecoder(window, time),
        SourceKind.Vitals => new VitalsDecoder(window, time),
        SourceKind.Audio => new AudioDecoder(audioCoefficients, window, time),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>
    /// Decodes a Kafka message and resolves its key. The Kafka key decides the partition and so which worker owns the
    /// key's state; the JSON id names the entity. When both are present they must be equal byte for byte, else the
    /// message is <see cref="DeadLetterReason.KeyMismatch"/> (choosing either would put the event in another entity's
    /// state). When only one is present it is the key; when neither, <see cref="DeadLetterReason.MissingKey"/>.
    /// </summary>
    /// <param name="json">UTF-8 JSON value.</param>
    /// <param name="kafkaKey">The Kafka message key (empty when absent).</param>
    /// <param name="values">At least <see cref="ValueCount"/> doubles.</param>
    /// <param name="timestampMs">Event time, Unix epoch milliseconds.</param>
    /// <param name="key">On success the key's UTF-8 bytes (a slice of <paramref name="kafkaKey"/>, of <paramref name="json"/> or of a scratch buffer), never empty.</param>
    /// <returns><see cref="DeadLetterReason.None"/> when the event is good, else why it is not.</returns>
    public DeadLetterReason Decode(ReadOnlySpan<byte> json, ReadOnlySpan<byte> kafkaKey, Span<double> values, out long timestampMs, out ReadOnlySpan<byte> key)
    {
        key = default;
        var r = Decode(json, values, out timestampMs, out var id);
        if (r != DeadLetterReason.None) return r;
        if (kafkaKey.IsEmpty)
        {
            if (id.IsEmpty) return DeadLetterReason.MissingKey;
            key = id;
            return DeadLetterReason.None;
        }

        if (!IsValidKey(kafkaKey)) return DeadLetterReason.InvalidKey;
        if (!id.IsEmpty && !id.SequenceEqual(kafkaKey)) return DeadLetterReason.KeyMismatch;
        key = kafkaKey;
        return DeadLetterReason.None;
    }

    /// <summary>
    /// Decodes <paramref name="json"/> alone (no Kafka key). On success <paramref name="values"/> holds
    /// <see cref="ValueCount"/> raw values, <paramref name="timestampMs"/> the event time and <paramref name="id"/> the
    /// JSON entity id (empty when absent; when present a valid key, see <see cref="DeadLetterReason.InvalidKey"/>).
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
        if (FastPath && HasFastPath)
        {
            if (TryDecodeFast(json, values, out timestampMs, out id, out var fast))
            {
                FastPathHits++;
                return fast;
            }

            // Not the plain form: the general reader decides (same checks, same reasons), from a clean start.
            timestampMs = long.MinValue;
            id = default;
            values[..ValueCount].Fill(double.NaN);
        }

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
        catch (InvalidOperationException)
        {
            // The reader throws this (not JsonException) when unescaping text that is not valid UTF-8/UTF-16, e.g. a lone
            // surrogate "\ud800" in a property name or date string: such text is not valid JSON (RFC 8259 §8).
            return DeadLetterReason.MalformedJson;
        }
    }

    /// <summary>
    /// Whether the fast path for the plain form of the fixed schemas is tried first (default true). Turning it off
    /// leaves every document to the general reader; results are the same either way (tests compare the two).
    /// </summary>
    public bool FastPath { get; set; } = true;

    /// <summary>Documents decoded by the fast path (the rest went to the general reader).</summary>
    public long FastPathHits { get; private set; }

    /// <summary>Whether the kind's schema has a fast path (flat object of numbers, the id string and <c>ts</c>).</summary>
    protected virtual bool HasFastPath => false;

    /// <summary>The raw-value index of a numeric field for the fast path, -1 for a field the kind ignores.</summary>
    /// <param name="name">The field name's UTF-8 bytes (no escapes).</param>
    /// <returns>An index below <see cref="ValueCount"/>, or -1.</returns>
    protected virtual int FastFieldIndex(ReadOnlySpan<byte> name) => -1;

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

    /// <summary>
    /// True when <paramref name="key"/> can be a key: 1..<see cref="DecodeLimits.MaxKeyBytes"/> bytes of valid UTF-8
    /// without control characters (keys become strings, line-protocol tags and Kafka keys downstream).
    /// </summary>
    /// <param name="key">UTF-8 bytes.</param>
    /// <returns>Whether it is valid.</returns>
    public static bool IsValidKey(ReadOnlySpan<byte> key) =>
        key.Length is > 0 and <= DecodeLimits.MaxKeyBytes
        && key.IndexOfAnyInRange((byte)0, (byte)0x1F) < 0
        && key.IndexOf((byte)0x7F) < 0
        && Utf8.IsValid(key);

    private static bool IsNonFiniteName(ReadOnlySpan<byte> s) =>
        s.SequenceEqual("NaN"u8) || s.SequenceEqual("Infinity"u8) || s.SequenceEqual("-Infinity"u8) || s.SequenceEqual("+Infinity"u8)
        || s.SequenceEqual("nan"u8) || s.SequenceEqual("inf"u8) || s.SequenceEqual("-inf"u8);

    private DeadLetterReason ReadTimestamp(ref Utf8JsonReader reader, out long ms)
    {
        ms = long.MinValue;
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out ms))
                {
                    return InWindow(ms) ? DeadLetterReason.None : DeadLetterReason.TimestampOutOfRange;
                }

                if (reader.TryGetDouble(out var d) && double.IsFinite(d))
                {
                    // Outside the supported span no window can hold it, and the cast to long must not see it.
                    if (!(d >= TimestampWindow.EarliestSupportedMs && d <= TimestampWindow.LatestSupportedMs))
                    {
                        return DeadLetterReason.TimestampOutOfRange;
                    }

                    ms = (long)Math.Floor(d);
                    return InWindow(ms) ? DeadLetterReason.None : DeadLetterReason.TimestampOutOfRange;
                }

                ms = long.MinValue;
                return DeadLetterReason.NonFinite;
            case JsonTokenType.String:
                if (reader.TryGetDateTimeOffset(out var dto))
                {
                    ms = dto.ToUnixTimeMilliseconds();
                    return InWindow(ms) ? DeadLetterReason.None : DeadLetterReason.TimestampOutOfRange;
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

    private bool InWindow(long ms)
    {
        if (ms < _window.EarliestMs) return false;
        if (ms <= _latestMs) return true;
        // The cached end only lags the clock, so an event inside it is inside the window: the clock is read again only
        // for an event beyond it (the first event, a newer wall clock, or a bad timestamp), not once per event.
        _latestMs = _window.LatestMs(_time.GetUtcNow());
        return ms <= _latestMs;
    }

    private DeadLetterReason ReadId(ref Utf8JsonReader reader, out int start, out int length)
    {
        // Returns where the id lies in the input (start ≥ 0) or in the scratch buffer (start = -1); an empty id is absent.
        start = 0;
        length = 0;
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                if (!reader.ValueIsEscaped)
                {
                    if (reader.ValueSpan.IsEmpty) return DeadLetterReason.None;
                    if (!IsValidKey(reader.ValueSpan)) return DeadLetterReason.InvalidKey;
                    start = (int)reader.TokenStartIndex + 1;
                    length = reader.ValueSpan.Length;
                    return DeadLetterReason.None;
                }

                // Escaped ids are rare; unescape into the scratch buffer.
                if (reader.ValueSpan.Length > _idScratch.Length)
                {
                    return DeadLetterReason.InvalidKey;
                }

                try
                {
                    length = reader.CopyString(_idScratch);
                }
                catch (InvalidOperationException)
                {
                    // The escapes decode to invalid UTF-16 (a lone surrogate).
                    length = 0;
                    return DeadLetterReason.InvalidKey;
                }

                if (length == 0) return DeadLetterReason.None;
                if (!IsValidKey(_idScratch.AsSpan(0, length)))
                {
                    length = 0;
                    return DeadLetterReason.InvalidKey;
                }

                start = -1;
                return DeadLetterReason.None;
            case JsonTokenType.Number:
                // Numeric patient ids are common in clinical exports: keep their text form.
                if (!IsValidKey(reader.ValueSpan)) return DeadLetterReason.InvalidKey;
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
