using System.Globalization;
using System.Text;
using CsCheck;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Decoding.Fuzz;

/// <summary>One fuzz input: a Kafka key and value for a decoder of <see cref="Kind"/>, and how it was made.</summary>
/// <param name="Kind">Which decoder reads it.</param>
/// <param name="Strategy">The generator strategy (for the outcome table).</param>
/// <param name="Key">Kafka key (null = none).</param>
/// <param name="Value">Message value.</param>
public sealed record FuzzCase(SourceKind Kind, string Strategy, byte[]? Key, byte[] Value)
{
    /// <summary>A printable form for failure messages (invalid UTF-8 shown as U+FFFD, long values cut).</summary>
    public override string ToString()
    {
        var v = Encoding.UTF8.GetString(Value);
        if (v.Length > 400) v = v[..400] + $"... ({Value.Length} bytes)";
        var k = Key is null ? "(none)" : Encoding.UTF8.GetString(Key);
        if (k.Length > 80) k = k[..80] + $"... ({Key!.Length} bytes)";
        return $"{Kind.ToWireName()} [{Strategy}] key={k} value={v}";
    }
}

/// <summary>
/// CsCheck generators of decoder inputs: valid events of each kind, then random bytes, JSON-token soup, byte flips,
/// truncation, field deletion/duplication, type swaps, boundary numbers, deep nesting, huge strings, invalid UTF-8 and
/// unknown fields; each with a Kafka key that matches the id, is absent, differs, or is itself broken.
/// </summary>
public sealed class FuzzMessages
{
    /// <summary>The wall clock the fuzz decoders see (fixed, so the run is deterministic).</summary>
    public static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static readonly long NowMs = Now.ToUnixTimeMilliseconds();
    private const long DayMs = 86_400_000;

    /// <summary>Number literals at the edges: signed zeros, denormals, the double range, the long range, 2⁵³ + 1, huge exponents, non-JSON NaN.</summary>
    public static readonly string[] BoundaryNumbers =
    [
        "0", "-0", "0.0", "-0.0", "0e0", "5e-324", "-5e-324", "4.9e-324", "2.2250738585072014e-308", "1e-300", "1e-13", "1e-12",
        "1e308", "-1e308", "1.7976931348623157e308", "-1.7976931348623157e308", "1e309", "-1e309", "1e400", "1e-400",
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
        "9007199254740993", "9007199254740991", "9007199254740992", "1e999999999", "1e-999999999", "123456789012345678901234567890",
        "99999999999999999", "-1", "-1e-300", "1.5", "0.5", "1E+2", "1e12", "1.000001e12", "1e15", "1e16", "1e6", "-1e6", "1000001",
        "400", "400.0001", "100.5", "9.99", "50.01", "\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "\"nan\"", "\"inf\"", "NaN", "Infinity",
        "-Infinity", "+1", "01", ".5", "1.", "-", "1e", "0x10", "1_000", "\"1989-12-29T21:00:00Z\"", "\"9999-12-31T23:59:59Z\"",
        "\"0001-01-01T00:00:00Z\"", "\"2025-06-01T12:00:00+14:00\"",
    ];

    private static readonly string[] OtherTypes = ["\"text\"", "\"\"", "true", "false", "null", "[]", "{}", "[1,2]", "{\"a\":1}", "[null]", "[\"1\"]", "[[1]]"];

    private static readonly byte[][] InvalidUtf8 =
    [
        [0xFF], [0xFE], [0xC0, 0xAF], [0xC3], [0xC3, 0x28], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80],
        [0xF8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xBF], [0x00], [0x1F], [0x7F],
    ];

    private static readonly string[] BadEscapes = ["\\ud800", "\\udc00", "\\ud800\\u0041", "\\udbff\\udbff", "\\u0000", "\\n", "\\u007f", "\\x41", "\\u12", "\\"];

    private static readonly string[] JsonTokens =
    [
        "{", "}", "[", "]", ",", ":", "\"", "\"ts\"", "\"symbol\"", "\"patient_id\"", "\"stream_id\"", "\"price\"", "\"size\"", "\"hr\"",
        "\"coeffs\"", "\"frame\"", "\"energy\"", "1", "-1", "0", "1e308", "1700000000000", "true", "null", "\"A\"", " ", "\\", "\"\\u",
    ];

    private static readonly string[] IdFields = ["symbol", "patient_id", "stream_id"];

    private static readonly string[][] Ids = [["A", "B", "SYM0001", "ÄÖ", "0"], ["p-1", "p-2", "132819", "P é"], ["mic-1", "fsdd-amy", "s"]];

    /// <summary>A message as an ordered list of fields, each a name and its raw JSON value.</summary>
    private sealed record Message(SourceKind Kind, string Id, List<(string Name, string Json)> Fields)
    {
        public byte[] Render() => Encoding.UTF8.GetBytes(Text());

        public string Text() => "{" + string.Join(",", Fields.Select(f => $"\"{f.Name}\":{f.Json}")) + "}";

        public Message With(List<(string Name, string Json)> fields) => this with { Fields = fields };
    }

    private static string N(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string S(string s) => "\"" + s + "\"";

    private static Gen<string> IdGen(SourceKind kind) => Gen.OneOf(Ids[(int)kind]);

    private long _clockMs = NowMs - 30 * DayMs;

    /// <summary>Creates the generators; each instance has its own event clock, so a run is deterministic from its seed.</summary>
    public FuzzMessages()
    {
        // Event times: mostly the next tick of a clock running 1 s per event (keys then see ordered events and build
        // feature state, as in a real stream), some historical (late for a key that has seen newer), some at or past
        // the window's ends. A stateful Const is deliberate: it stands for the stream's own clock.
        TsGen = Gen.Frequency<long>(
            (8, from jitter in Gen.Long[0, 999] from t in Gen.Const(() => _clockMs += 1000) select t + jitter),
            (1, Gen.Long[0, NowMs]),
            (1, Gen.OneOf(0L, NowMs + DayMs + 1, 631_400_400_000L, -1L, NowMs + 2 * DayMs, long.MaxValue)));
        TickGen = TickGenFrom(TsGen);
        VitalsGen = VitalsGenFrom(TsGen);
        AudioGen = AudioGenFrom(TsGen);
        Cases =
            from kind in Gen.OneOf(SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio)
            from m in Mutated(kind)
            from key in KeyFor(kind, m.Source?.Id)
            select new FuzzCase(kind, m.Strategy, key.Item2, m.Value);
    }

    /// <summary>Every kind, every strategy, with its Kafka key.</summary>
    public Gen<FuzzCase> Cases { get; }

    private Gen<long> TsGen { get; }

    private Gen<Message> TickGen { get; }

    private Gen<Message> VitalsGen { get; }

    private Gen<Message> AudioGen { get; }

    private static Gen<Message> TickGenFrom(Gen<long> tsGen) =>
        from id in IdGen(SourceKind.Tick)
        from ts in tsGen
        from price in Gen.Frequency<double>((6, Gen.Double[0.01, 5000]), (1, Gen.Double[1e-12, 1e-6]), (1, Gen.Double[1e6, 1e12]))
        from size in Gen.Frequency<double>((4, Gen.Int[0, 10_000].Select(i => (double)i)), (1, Gen.Double[0, 1e15]))
        from quote in Gen.Bool
        from spread in Gen.Double[0, 0.01]
        from iso in Gen.Int[0, 9]
        select new Message(SourceKind.Tick, id,
        [
            ("symbol", S(id)),
            ("ts", iso == 0 ? S(DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(ts, 0, 253_402_300_799_999)).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)) : ts.ToString(CultureInfo.InvariantCulture)),
            ("price", N(price)),
            ("size", N(size)),
            .. quote ? new[] { ("bid", N(price * (1 - spread))), ("ask", N(price * (1 + spread))) } : [],
        ]);

    private static readonly (string Name, double Lo, double Hi)[] Vitals =
        [("hr", 30, 200), ("spo2", 70, 100), ("resp_rate", 4, 45), ("sbp", 60, 220), ("dbp", 30, 130), ("map", 40, 160), ("temp", 33, 42)];

    private static Gen<Message> VitalsGenFrom(Gen<long> tsGen) =>
        from id in IdGen(SourceKind.Vitals)
        from ts in tsGen
        from u in Gen.Double.Unit.Array[14]
        select new Message(SourceKind.Vitals, id,
        [
            ("patient_id", id.All(char.IsAsciiDigit) ? id : S(id)),
            ("ts", ts.ToString(CultureInfo.InvariantCulture)),
            .. Vitals.Select((v, i) => (v, i)).Where(x => x.i == 0 || u[2 * x.i] < 0.6).Select(x => (x.v.Name, N(Math.Round(x.v.Lo + u[2 * x.i + 1] * (x.v.Hi - x.v.Lo), 2)))),
        ]);

    private static Gen<Message> AudioGenFrom(Gen<long> tsGen) =>
        from id in IdGen(SourceKind.Audio)
        from ts in tsGen
        from frame in Gen.Long[0, 10_000_000]
        from coeffs in Gen.Frequency<double>((8, Gen.Double[-120, 50]), (1, Gen.Double[-1e6, 1e6])).Array[13]
        from energy in Gen.Double[-30, 10].Nullable()
        select new Message(SourceKind.Audio, id,
        [
            ("stream_id", S(id)),
            ("ts", ts.ToString(CultureInfo.InvariantCulture)),
            ("frame", frame.ToString(CultureInfo.InvariantCulture)),
            ("coeffs", "[" + string.Join(",", coeffs.Select(N)) + "]"),
            .. energy is { } e ? new[] { ("energy", N(e)) } : [],
        ]);

    private Gen<Message> Valid(SourceKind kind) => kind switch
    {
        SourceKind.Tick => TickGen,
        SourceKind.Vitals => VitalsGen,
        _ => AudioGen,
    };

    /// <summary>Field-level mutation: pick field <c>i mod count</c>.</summary>
    private static List<(string Name, string Json)> Replace(Message m, int i, string json)
    {
        var f = new List<(string, string)>(m.Fields);
        var k = i % f.Count;
        f[k] = (m.Fields[k].Name, json);
        return f;
    }

    /// <summary>Replaces field i's value, or for <c>coeffs</c> one element of it.</summary>
    private static Message ReplaceValue(Message m, int i, int element, string json)
    {
        var k = i % m.Fields.Count;
        if (m.Fields[k].Name != "coeffs" || element % 3 == 0) return m.With(Replace(m, k, json));
        var parts = m.Fields[k].Json.Trim('[', ']').Split(',');
        parts[element % parts.Length] = json;
        return m.With(Replace(m, k, "[" + string.Join(",", parts) + "]"));
    }

    private static byte[] Insert(byte[] value, int at, ReadOnlySpan<byte> bytes)
    {
        at = Math.Clamp(at, 0, value.Length);
        return [.. value.AsSpan(0, at), .. bytes, .. value.AsSpan(at)];
    }

    /// <summary>Where the id string's content starts in the rendered message, or -1.</summary>
    private static int IdContentStart(byte[] value, SourceKind kind)
    {
        var marker = Encoding.UTF8.GetBytes($"\"{IdFields[(int)kind]}\":\"");
        var at = value.AsSpan().IndexOf(marker);
        return at < 0 ? -1 : at + marker.Length;
    }

    private Gen<(string Strategy, Message? Source, byte[] Value)> Mutated(SourceKind kind)
    {
        var valid = Valid(kind);
        return Gen.Frequency<(string, Message?, byte[])>(
            (15, from m in valid
                 from shuffle in Gen.Int[0, 3]
                 from order in Gen.Int[0, 1000]
                 let fields = shuffle == 0 ? m.Fields.OrderBy(f => (f.Name.GetHashCode(StringComparison.Ordinal) ^ order) & 0xFF).ToList() : m.Fields
                 select ("valid", (Message?)m, m.With(fields).Render())),
            (6, from b in Gen.Byte.Array[0, 300] select ("random_bytes", (Message?)null, b)),
            (6, from t in Gen.OneOf(JsonTokens).Array[0, 40] select ("json_tokens", (Message?)null, Encoding.UTF8.GetBytes(string.Concat(t)))),
            (8, from m in valid
                from flips in Gen.Select(Gen.Int[0, int.MaxValue], Gen.Byte).Array[1, 4]
                select ("byte_flip", (Message?)m, Flip(m.Render(), flips))),
            (6, from m in valid
                from cut in Gen.Int[0, int.MaxValue]
                let v = m.Render()
                select ("truncate", (Message?)m, v[..(cut % v.Length)])),
            (6, from m in valid
                from i in Gen.Int[0, 100]
                select ("delete_field", (Message?)m, m.With([.. m.Fields.Where((_, k) => k != i % m.Fields.Count)]).Render())),
            (5, from m in valid
                from i in Gen.Int[0, 100]
                from other in Gen.OneOf(BoundaryNumbers.Concat(OtherTypes).ToArray())
                from same in Gen.Bool
                let f = m.Fields[i % m.Fields.Count]
                select ("duplicate_field", (Message?)m, m.With([.. m.Fields, (f.Name, same ? f.Json : other)]).Render())),
            (8, from m in valid
                from i in Gen.Int[0, 100]
                from e in Gen.Int[0, 100]
                from t in Gen.OneOf(OtherTypes)
                select ("type_swap", (Message?)m, ReplaceValue(m, i, e, t).Render())),
            (14, from m in valid
                 from i in Gen.Int[0, 100]
                 from e in Gen.Int[0, 100]
                 from n in Gen.OneOf(BoundaryNumbers)
                 select ("boundary_number", (Message?)m, ReplaceValue(m, i, e, n).Render())),
            (5, from m in valid
                from i in Gen.Int[0, 100]
                from depth in Gen.Frequency<int>((3, Gen.Int[1, 12]), (1, Gen.Int[13, 5000]))
                from obj in Gen.Bool
                from unknown in Gen.Bool
                let nested = obj ? string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth)
                                 : new string('[', depth) + "1" + new string(']', depth)
                select ("deep_nesting", (Message?)m, (unknown ? m.With([("x", nested), .. m.Fields]) : m.With(Replace(m, i, nested))).Render())),
            (4, from m in valid
                from len in Gen.Frequency<int>((2, Gen.Int[200, 300]), (1, Gen.Int[300, 200_000]))
                from c in Gen.Char['a', 'z']
                from place in Gen.Int[0, 2]
                let big = new string(c, len)
                select ("huge_string", (Message?)m, (place switch
                {
                    0 => m.With(Replace(m, 0, S(big))),                    // the id (field 0)
                    1 => m.With([.. m.Fields, ("note", S(big))]),          // an unknown field
                    _ => m.With([(big, "1"), .. m.Fields]),                // a huge property name
                }).Render())),
            (6, from m in valid
                from bad in Gen.OneOf(InvalidUtf8)
                from esc in Gen.OneOf(BadEscapes)
                from place in Gen.Int[0, 3]
                from at in Gen.Int[0, int.MaxValue]
                let v = m.Render()
                let idAt = IdContentStart(v, kind)
                select ("invalid_utf8", (Message?)m, place switch
                {
                    0 when idAt >= 0 => Insert(v, idAt, bad),                               // raw bytes inside the id
                    1 when idAt >= 0 => Insert(v, idAt, Encoding.ASCII.GetBytes(esc)),      // bad escapes inside the id
                    2 => Insert(v, 2, bad),                                                   // inside the first property name
                    _ => Insert(v, at % (v.Length + 1), bad),                                 // anywhere
                })),
            (4, from m in valid
                from name in Gen.OneOf("label", "venue", "ts\\u0000", "\\u0074s", "Ts", "", "symbol ", "coeffs2")
                from json in Gen.OneOf(BoundaryNumbers.Concat(OtherTypes).ToArray())
                from first in Gen.Bool
                select ("extra_field", (Message?)m, (first ? m.With([(name, json), .. m.Fields]) : m.With([.. m.Fields, (name, json)])).Render())));
    }

    private static byte[] Flip(byte[] value, (int At, byte Byte)[] flips)
    {
        foreach (var (at, b) in flips) value[at % value.Length] = b;
        return value;
    }

    /// <summary>Kafka keys for a message whose JSON id is <paramref name="id"/> (null when it has none we know of).</summary>
    private static Gen<(string, byte[]?)> KeyFor(SourceKind kind, string? id) => Gen.Frequency<(string, byte[]?)>(
        (12, Gen.Const<(string, byte[]?)>(("same", id is null ? null : Encoding.UTF8.GetBytes(id)))),
        (2, Gen.Const<(string, byte[]?)>(("none", null))),
        (2, IdGen(kind).Select(k => ("other", (byte[]?)Encoding.UTF8.GetBytes(k)))),
        (1, Gen.OneOf(InvalidUtf8).Select(b => ("invalid", (byte[]?)[.. "K"u8, .. b]))),
        (1, Gen.Int[DecodeLimits.MaxKeyBytes - 1, DecodeLimits.MaxKeyBytes + 2].Select(n => ("long", (byte[]?)Encoding.UTF8.GetBytes(new string('k', n))))));
}
