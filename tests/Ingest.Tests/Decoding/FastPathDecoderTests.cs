using System.Text;
using CsCheck;
using Microsoft.Extensions.Time.Testing;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Ingest.Generators;
using StreamLstm.Ingest.Tests.Decoding.Fuzz;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Decoding;

/// <summary>
/// The decoders' fast path for the plain form must be invisible: for every message it gives the general reader's
/// reason, timestamp, key bytes and raw values bit for bit (else the pipeline's results or dead-letter reasons change).
/// </summary>
public class FastPathDecoderTests
{
    private static readonly FakeTimeProvider Clock = new(FuzzMessages.Now);

    [Fact]
    public void FuzzedMessages_DecodeExactlyAsTheGeneralReader()
    {
        var pcg = PCG.Parse(FuzzRun.DefaultSeed);
        var cases = new FuzzMessages().Cases;
        var fastHits = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var c = cases.Generate(pcg, null, out _);
            if (AssertSame(c.Kind, c.Key ?? [], c.Value, $"case {i}: {c}")) fastHits++;
        }

        // The property was exercised on the fast side too, not only by falling back.
        Assert.True(fastHits > 1000, $"only {fastHits} fuzz cases took the fast path");
    }

    [Theory]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000,\"price\":101.25,\"size\":3}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000,\"price\":1.0125e2,\"size\":3,\"bid\":101,\"ask\":101.5,\"label\":\"spike\"}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000,\"price\":101.25,\"price\":99,\"size\":3}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000.5,\"price\":101.25,\"size\":3}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":01748779200000,\"price\":101.25,\"size\":3}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000,\"price\":-0,\"size\":3}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000,\"price\":1e999,\"size\":3}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000,\"price\":101.,\"size\":3}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000,\"price\":null,\"size\":3}")]
    [InlineData("{\"symbol\":\"A\\u0042\",\"ts\":1748779200000,\"price\":101.25,\"size\":3}")]
    [InlineData("{\"symbol\":\"\",\"ts\":1748779200000,\"price\":101.25,\"size\":3}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":99,\"price\":101.25,\"size\":3}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000,\"price\":101.25,\"size\":3,}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000,\"price\":101.25,\"size\":3}}")]
    [InlineData("{\"symbol\":\"AB\" ,\"ts\":1748779200000,\"price\":101.25,\"size\":3}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000,\"price\":101.25,\"size\":3,\"x\":[1]}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000,\"price\":2e6,\"size\":3}")]
    [InlineData("{\"symbol\":\"AB\",\"ts\":1748779200000,\"size\":3}")]
    [InlineData("{\"symbol\":\"AB\",\"price\":101.25,\"size\":3}")]
    [InlineData("{}")]
    public void EdgeCases_DecodeExactlyAsTheGeneralReader(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        AssertSame(SourceKind.Tick, [], bytes, json);
        AssertSame(SourceKind.Tick, "AB"u8.ToArray(), bytes, json);
        AssertSame(SourceKind.Vitals, [], Encoding.UTF8.GetBytes(json.Replace("symbol", "patient_id").Replace("price", "hr")), json);
    }

    [Fact]
    public void GeneratorOutput_TakesTheFastPath_WithTheGeneralResults()
    {
        var gen = new TickGenerator(new TickGeneratorOptions { Keys = 50, Seed = 5, EventsPerKeyPerSecond = 1 });
        var buffer = new byte[EventJson.MaxEventBytes];
        for (var i = 0; i < 2_000; i++)
        {
            gen.Next(buffer, out var n);
            var json = buffer.AsSpan(0, n).ToArray();
            // The generator's clock is not the fake one: compare against a clock at the event's own time.
            Assert.True(AssertSame(SourceKind.Tick, [], json, Encoding.UTF8.GetString(json), new FakeTimeProvider(DateTimeOffset.UtcNow)), $"event {i} missed the fast path: {Encoding.UTF8.GetString(json)}");
        }
    }

    [Fact]
    public void PlainDecimals_OfEveryLength_ParseToTheGeneralReadersBits()
    {
        // The fast path parses plain decimals of up to 15 digits itself (integer ÷ exact power of ten) and hands longer
        // ones and exponents to Utf8Parser: both sides of that line, every fraction length, values at the edges of rounding.
        var rng = new Random(12);
        var fast = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var intDigits = rng.Next(0, 12);
            var fracDigits = rng.Next(0, 18 - intDigits);
            var text = Number(rng, intDigits, fracDigits);
            var size = Number(rng, rng.Next(0, 16), rng.Next(0, 4));
            var json = $"{{\"symbol\":\"AB\",\"ts\":1748779200000,\"price\":{text},\"size\":{size},\"bid\":{text}5,\"ask\":{text}99}}";
            if (AssertSame(SourceKind.Tick, [], Encoding.UTF8.GetBytes(json), json)) fast++;
        }

        Assert.True(fast > 10_000, $"only {fast} messages took the fast path");
    }

    /// <summary>A positive JSON number with the given digits before and after the point ("0" before it when none).</summary>
    private static string Number(Random rng, int intDigits, int fracDigits)
    {
        var sb = new StringBuilder();
        if (intDigits == 0) sb.Append('0');
        for (var d = 0; d < intDigits; d++) sb.Append((char)('0' + (d == 0 ? rng.Next(1, 10) : rng.Next(10))));
        if (fracDigits == 0 && intDigits > 0) return sb.ToString();
        sb.Append('.');
        // Runs of 9s and 0s and 5s put values next to rounding boundaries; the rest are random.
        var style = rng.Next(4);
        for (var d = 0; d < Math.Max(1, fracDigits); d++) sb.Append(style switch { 0 => '9', 1 => d % 2 == 0 ? '0' : '5', _ => (char)('0' + rng.Next(10)) });
        return sb.ToString();
    }

    /// <summary>Decodes with and without the fast path; returns whether the fast path took the message (no fallback).</summary>
    private static bool AssertSame(SourceKind kind, byte[] key, byte[] json, string what, TimeProvider? clock = null)
    {
        var fast = EventDecoder.For(kind, 13, null, clock ?? Clock);
        var general = EventDecoder.For(kind, 13, null, clock ?? Clock);
        general.FastPath = false;
        var a = new double[fast.ValueCount];
        var b = new double[general.ValueCount];
        var ra = fast.Decode(json, key, a, out var tsA, out var keyA);
        var rb = general.Decode(json, key, b, out var tsB, out var keyB);
        Assert.True(rb == ra, $"{what}: fast {ra}, general {rb}");
        Assert.True(tsB == tsA, $"{what}: ts fast {tsA}, general {tsB}");
        Assert.True(keyB.SequenceEqual(keyA), $"{what}: key differs");
        // A rejected event's values are never used (the general reader stops at the first error; the scan reads on).
        for (var i = 0; ra == DeadLetterReason.None && i < a.Length; i++)
        {
            Assert.True(BitConverter.DoubleToInt64Bits(b[i]) == BitConverter.DoubleToInt64Bits(a[i]), $"{what}: value {i} fast {a[i]:R}, general {b[i]:R}");
        }

        return fast.FastPathHits > 0;
    }
}
