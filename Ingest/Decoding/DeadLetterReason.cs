namespace StreamLstm.Ingest.Decoding;

/// <summary>Why a message went to the dead-letter topic (written as the <c>reason</c> header, lower-case).</summary>
public enum DeadLetterReason
{
    /// <summary>Not a reason: the message is good.</summary>
    None = 0,

    /// <summary>The value is not well-formed JSON, or not a JSON object.</summary>
    MalformedJson,

    /// <summary>Neither the Kafka message key nor the entity-id field is present.</summary>
    MissingKey,

    /// <summary>A required field (<c>ts</c>, <c>price</c>, <c>coeffs</c>...) is absent.</summary>
    MissingField,

    /// <summary>A field has the wrong JSON type (a string where a number belongs...).</summary>
    WrongType,

    /// <summary>A number is NaN or ±Infinity (written as a string or overflowing a double).</summary>
    NonFinite,

    /// <summary>
    /// A value is physically impossible (price ≤ 0, SpO2 &gt; 100, heart rate &lt; 0...) or outside the range the pipeline
    /// computes with safely (<see cref="DecodeLimits"/>).
    /// </summary>
    ImpossibleValue,

    /// <summary>The message is larger than the configured maximum.</summary>
    Oversized,

    /// <summary>The audio frame has the wrong number of coefficients.</summary>
    WrongLength,

    /// <summary>The message's topic (source kind) has no model in this pipeline.</summary>
    UnknownTopic,

    /// <summary><c>ts</c> lies outside the configured event-time window (<see cref="TimestampWindow"/>).</summary>
    TimestampOutOfRange,

    /// <summary>The Kafka message key and the JSON entity id are both present and differ.</summary>
    KeyMismatch,

    /// <summary>
    /// The key (Kafka key or JSON entity id) is not valid UTF-8, is longer than <see cref="DecodeLimits.MaxKeyBytes"/>
    /// bytes, or contains a control character.
    /// </summary>
    InvalidKey,

    /// <summary>The decoder threw on this message (a bug it exposed); the message is set aside so it cannot stop the service.</summary>
    DecoderError,
}

/// <summary>Wire names of <see cref="DeadLetterReason"/>.</summary>
public static class DeadLetterReasonNames
{
    /// <summary>Snake-case name used in the DLQ <c>reason</c> header and in metrics.</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>The name.</returns>
    public static string ToWireName(this DeadLetterReason reason) => reason switch
    {
        DeadLetterReason.None => "none",
        DeadLetterReason.MalformedJson => "malformed_json",
        DeadLetterReason.MissingKey => "missing_key",
        DeadLetterReason.MissingField => "missing_field",
        DeadLetterReason.WrongType => "wrong_type",
        DeadLetterReason.NonFinite => "non_finite",
        DeadLetterReason.ImpossibleValue => "impossible_value",
        DeadLetterReason.Oversized => "oversized",
        DeadLetterReason.WrongLength => "wrong_length",
        DeadLetterReason.UnknownTopic => "unknown_topic",
        DeadLetterReason.TimestampOutOfRange => "timestamp_out_of_range",
        DeadLetterReason.KeyMismatch => "key_mismatch",
        DeadLetterReason.InvalidKey => "invalid_key",
        DeadLetterReason.DecoderError => "decoder_error",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, null),
    };

    /// <summary>Number of enum values (for counter arrays indexed by <c>(int)reason</c>).</summary>
    public const int Count = 14;
}
