using System.Text;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Decoding;

/// <summary>Kafka key versus JSON entity id, the same rule for every decoder.</summary>
public class KeyResolutionTests
{
    public static TheoryData<SourceKind> Kinds => [SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio];

    /// <summary>A good event of <paramref name="kind"/>; <paramref name="idJson"/> is the id field's JSON value, or null to leave it out.</summary>
    private static byte[] Event(SourceKind kind, string? idJson)
    {
        var field = EventDecoder.For(kind).IdField;
        var id = idJson is null ? "" : $"\"{field}\":{idJson},";
        return Encoding.UTF8.GetBytes(kind switch
        {
            SourceKind.Tick => $$"""{{{id}}"ts":1,"price":1,"size":1}""",
            SourceKind.Vitals => $$"""{{{id}}"ts":1,"hr":70}""",
            _ => $$"""{{{id}}"ts":1,"frame":0,"coeffs":[1,2,3,4,5,6,7,8,9,10,11,12,13]}""",
        });
    }

    private static (DeadLetterReason Reason, string Key) Decode(SourceKind kind, byte[]? kafkaKey, string? idJson)
    {
        var d = EventDecoder.For(kind);
        var r = d.Decode(Event(kind, idJson), kafkaKey, new double[d.ValueCount], out _, out var key);
        return (r, Encoding.UTF8.GetString(key));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void KafkaKeyDifferentFromJsonId_IsKeyMismatch(SourceKind kind)
    {
        // Before, the Kafka key silently won: the event joined the state of the key's entity, not of the one it names.
        Assert.Equal(DeadLetterReason.KeyMismatch, Decode(kind, "B"u8.ToArray(), "\"A\"").Reason);
        Assert.Equal(DeadLetterReason.KeyMismatch, Decode(kind, "a"u8.ToArray(), "\"A\"").Reason);   // case matters
        Assert.Equal(DeadLetterReason.KeyMismatch, Decode(kind, "A "u8.ToArray(), "\"A\"").Reason);  // so does whitespace
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EqualKeyAndId_OrOnlyOneOfThem_GiveTheKey(SourceKind kind)
    {
        Assert.Equal((DeadLetterReason.None, "A"), Decode(kind, "A"u8.ToArray(), "\"A\""));
        Assert.Equal((DeadLetterReason.None, "K"), Decode(kind, "K"u8.ToArray(), null));
        Assert.Equal((DeadLetterReason.None, "K"), Decode(kind, "K"u8.ToArray(), "null"));
        Assert.Equal((DeadLetterReason.None, "K"), Decode(kind, "K"u8.ToArray(), "\"\""));   // an empty id is absent
        Assert.Equal((DeadLetterReason.None, "A"), Decode(kind, null, "\"A\""));
        Assert.Equal((DeadLetterReason.None, "A"), Decode(kind, [], "\"A\""));
        Assert.Equal((DeadLetterReason.None, "ÄB"), Decode(kind, "ÄB"u8.ToArray(), "\"\\u00c4B\""));  // escaped id equals the key once unescaped
        Assert.Equal((DeadLetterReason.None, "132819"), Decode(kind, "132819"u8.ToArray(), "132819")); // numeric id: its text
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void NoKeyAtAll_IsMissingKey(SourceKind kind)
    {
        Assert.Equal(DeadLetterReason.MissingKey, Decode(kind, null, null).Reason);
        Assert.Equal(DeadLetterReason.MissingKey, Decode(kind, null, "\"\"").Reason);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void UnusableKafkaKey_IsInvalidKey(SourceKind kind)
    {
        Assert.Equal(DeadLetterReason.InvalidKey, Decode(kind, [0xC3, 0x28], null).Reason);             // invalid UTF-8
        Assert.Equal(DeadLetterReason.InvalidKey, Decode(kind, [0xED, 0xA0, 0x80], "\"A\"").Reason);     // encoded surrogate
        Assert.Equal(DeadLetterReason.InvalidKey, Decode(kind, "A\nB"u8.ToArray(), null).Reason);        // control character
        Assert.Equal(DeadLetterReason.InvalidKey, Decode(kind, Encoding.UTF8.GetBytes(new string('k', DecodeLimits.MaxKeyBytes + 1)), null).Reason);
        Assert.Equal(DeadLetterReason.None, Decode(kind, Encoding.UTF8.GetBytes(new string('k', DecodeLimits.MaxKeyBytes)), null).Reason);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void UnusableJsonId_IsInvalidKey(SourceKind kind)
    {
        Assert.Equal(DeadLetterReason.InvalidKey, Decode(kind, null, "\"\\ud800\"").Reason);         // lone surrogate: threw before
        Assert.Equal(DeadLetterReason.InvalidKey, Decode(kind, null, "\"A\\nB\"").Reason);           // escaped newline: breaks line protocol
        Assert.Equal(DeadLetterReason.InvalidKey, Decode(kind, null, "\"A\\u007fB\"").Reason);
        Assert.Equal(DeadLetterReason.InvalidKey, Decode(kind, null, $"\"{new string('k', DecodeLimits.MaxKeyBytes + 1)}\"").Reason);
        Assert.Equal(DeadLetterReason.InvalidKey, Decode(kind, null, $"\"{string.Concat(Enumerable.Repeat("\\u0041", DecodeLimits.MaxKeyBytes + 1))}\"").Reason);
        Assert.Equal(DeadLetterReason.None, Decode(kind, null, $"\"{string.Concat(Enumerable.Repeat("\\u0041", DecodeLimits.MaxKeyBytes))}\"").Reason);
    }

    [Fact]
    public void InvalidUtf8InsideTheJsonId_IsNotAccepted()
    {
        var json = Encoding.UTF8.GetBytes("""{"symbol":"AXB","ts":1,"price":1,"size":1}""");
        json[11] = 0xFF;
        var d = new TickDecoder();
        var r = d.Decode(json, default, new double[d.ValueCount], out _, out _);
        Assert.True(r is DeadLetterReason.InvalidKey or DeadLetterReason.MalformedJson, r.ToWireName());
    }

    [Fact]
    public void BodyErrors_ComeBeforeKeyChecks()
    {
        var d = new TickDecoder();
        var r = d.Decode("""{"symbol":"A","ts":1,"price":-1,"size":1}"""u8, "B"u8, new double[d.ValueCount], out _, out _);
        Assert.Equal(DeadLetterReason.ImpossibleValue, r);
    }
}
