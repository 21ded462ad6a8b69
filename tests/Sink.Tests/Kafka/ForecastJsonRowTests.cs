using System.Text;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Kafka;

namespace StreamLstm.Sink.Tests.Kafka;

public class ForecastJsonRowTests
{
    private static readonly float[] EdgeFloats =
    [
        0f, -0f, 1f, -1f, 0.1f, 1e-7f, 1e7f, 123456789f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue,
        1.17549435E-38f, -1.17549435E-38f, 3.4e38f, 1e-45f, 16777216f, 16777217f, 0.3f, 2.5e-5f, 1e15f, 1e16f,
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00001)),
    ];

    private static readonly double[] EdgeDoubles =
    [
        0d, -0d, 1d, -1d, 0.1, 1e-7, 1e21, 1e22, 123456789012345678d, double.Epsilon, -double.Epsilon, double.MaxValue,
        double.MinValue, 2.2250738585072014E-308, -2.2250738585072014E-308, 1e308, 5e-324, 9007199254740993d, 0.3,
        double.NaN, double.PositiveInfinity, double.NegativeInfinity,
    ];

    // ASCII letters, then characters the general writer escapes: quote, backslash, controls, HTML-sensitive ones,
    // non-ASCII (BMP and a surrogate pair), DEL.
    private static readonly string[] KeyParts =
    [
        "a", "Z", "9", "-", "_", ".", " ", "AAPL", "patient/17", "\"", "\\", "\n", "\t", "\u0001", "\u001f", "<", ">", "&", "'", "+", "`",
        "é", "日本", "\u2028", "😀", "\u007f", "/",
    ];

    [Fact]
    public void RandomRows_AreByteForByteTheGeneralWriters()
    {
        // Random bit patterns reach every exponent, subnormals, NaN payloads and negative zero; edge lists pin the named ones.
        var rng = new Random(12);
        var keys = Enumerable.Range(0, 200).Select(_ => RandomKey(rng)).Concat(["", "plain", "a\"b", "<script>"]).ToArray();
        var versions = new[] { "m-1", "v2026.12.01", "weights\"x\\y", "日本-é", "" };
        var writer = new ForecastJsonRow();
        // The output's path: one cached entry per key (message key bytes + the JSON key part) feeding the same writer.
        var encoder = new ForecastRowEncoder(ForecastFormat.Json);
        var rows = 0;
        for (var b = 0; b < 300; b++)
        {
            var horizons = rng.Next(1, 13);
            var batch = new ForecastBatch((SourceKind)rng.Next(0, 3), horizons, 64) { ModelVersion = versions[rng.Next(versions.Length)], Count = 64 };
            for (var r = 0; r < batch.Count; r++)
            {
                // Keys repeat under different sources and versions, so cached prefixes meet every combination.
                batch.Keys[r] = keys[rng.Next(keys.Length)];
                batch.TimestampsMs[r] = RandomLong(rng);
                batch.Observed[r] = RandomDouble(rng);
                for (var h = 0; h < horizons; h++)
                {
                    batch.Mu[(r * horizons) + h] = RandomFloat(rng);
                    batch.Sigma[(r * horizons) + h] = RandomFloat(rng);
                }

                batch.Partitions[r] = rng.Next(4) switch { 0 => int.MinValue, 1 => int.MaxValue, 2 => -rng.Next(), _ => rng.Next(0, 64) };
                batch.Offsets[r] = RandomLong(rng);
            }

            for (var r = 0; r < batch.Count; r++, rows++)
            {
                var expected = KafkaForecastOutput.ToJson(batch, r);
                var n = writer.Write(batch, r, out var scratch);
                var actual = scratch.AsSpan(0, n);
                Assert.True(expected.AsSpan().SequenceEqual(actual), $"batch {b} row {r} differs:\n expected {Encoding.UTF8.GetString(expected)}\n actual   {Encoding.UTF8.GetString(actual)}");
                var key = encoder.Key(batch, r);
                Assert.Equal(Encoding.UTF8.GetBytes(batch.Keys[r]), key.Utf8);
                var encoded = encoder.Value(batch, r, key);
                Assert.True(expected.AsSpan().SequenceEqual(encoded), $"batch {b} row {r} differs through the encoder:\n expected {Encoding.UTF8.GetString(expected)}\n actual   {Encoding.UTF8.GetString(encoded)}");
            }
        }

        Assert.Equal(300 * 64, rows);
    }

    [Fact]
    public void EveryEdgeValue_InEveryPosition_MatchesTheGeneralWriter()
    {
        var writer = new ForecastJsonRow();
        var n = Math.Max(EdgeFloats.Length, EdgeDoubles.Length);
        var batch = new ForecastBatch(SourceKind.Audio, 2, n) { ModelVersion = "m-1", Count = n };
        for (var r = 0; r < n; r++)
        {
            batch.Keys[r] = "k";
            batch.TimestampsMs[r] = r % 2 == 0 ? long.MinValue : long.MaxValue;
            batch.Observed[r] = EdgeDoubles[r % EdgeDoubles.Length];
            batch.Mu[2 * r] = EdgeFloats[r % EdgeFloats.Length];
            batch.Mu[(2 * r) + 1] = EdgeFloats[(r + 7) % EdgeFloats.Length];
            batch.Sigma[2 * r] = EdgeFloats[(r + 3) % EdgeFloats.Length];
            batch.Sigma[(2 * r) + 1] = -EdgeFloats[r % EdgeFloats.Length];
            batch.Offsets[r] = r - 1;
        }

        for (var r = 0; r < n; r++)
        {
            var expected = KafkaForecastOutput.ToJson(batch, r);
            var written = writer.Write(batch, r, out var scratch);
            Assert.Equal(Encoding.UTF8.GetString(expected), Encoding.UTF8.GetString(scratch, 0, written));
        }

        // Non-finite numbers are null, as the general writer has them; negative zero keeps its sign.
        var nan = Encoding.UTF8.GetString(Serialize(writer, batch, Array.IndexOf(EdgeDoubles, double.NaN)));
        Assert.Contains("\"observed\":null", nan, StringComparison.Ordinal);
        Assert.Contains("\"observed\":-0,", Encoding.UTF8.GetString(Serialize(writer, batch, 1)), StringComparison.Ordinal);
    }

    [Fact]
    public void KeysWithEveryAsciiCharacter_AreEscapedAsTheGeneralWriterEscapesThem()
    {
        // Plain keys take a short cut around the general writer; every character it would escape must not.
        var writer = new ForecastJsonRow();
        var batch = new ForecastBatch(SourceKind.Vitals, 1, 1) { ModelVersion = "m-1", Count = 1 };
        foreach (var c in Enumerable.Range(0, 0x80).Select(i => (char)i).Concat(['é', '\u2028', '\uffff']))
        {
            batch.Keys[0] = "a" + c + "b";
            Assert.Equal(Encoding.UTF8.GetString(KafkaForecastOutput.ToJson(batch, 0)), Encoding.UTF8.GetString(Serialize(writer, batch, 0)));
        }
    }

    [Fact]
    public void AChangedModelVersion_IsWrittenOnTheNextRow()
    {
        // The version's bytes are cached per thread by reference: a new string must not reuse the old bytes.
        var writer = new ForecastJsonRow();
        var batch = new ForecastBatch(SourceKind.Tick, 1, 1) { ModelVersion = "m-1", Count = 1 };
        batch.Keys[0] = "AAPL";
        Assert.Contains("\"model_version\":\"m-1\"", Encoding.UTF8.GetString(Serialize(writer, batch, 0)), StringComparison.Ordinal);
        batch.ModelVersion = "m-2";
        var json = Serialize(writer, batch, 0);
        Assert.Equal(KafkaForecastOutput.ToJson(batch, 0), json);
    }

    [Fact]
    public void AKeyTheGeneralWriterRejects_IsRejectedTheSameWay()
    {
        // A lone surrogate: whatever the general writer does with it (throw or replace), the row writer does the same.
        var writer = new ForecastJsonRow();
        var batch = new ForecastBatch(SourceKind.Tick, 1, 1) { ModelVersion = "m-1", Count = 1 };
        batch.Keys[0] = "bad\ud800key";
        Exception? expectedError = null;
        byte[]? expected = null;
        try
        {
            expected = KafkaForecastOutput.ToJson(batch, 0);
        }
        catch (ArgumentException ex)
        {
            expectedError = ex;
        }

        var encoder = new ForecastRowEncoder(ForecastFormat.Json);
        if (expectedError is null)
        {
            Assert.Equal(expected, Serialize(writer, batch, 0));
            Assert.Equal(expected, encoder.Value(batch, 0, encoder.Key(batch, 0)).ToArray());
        }
        else
        {
            Assert.Throws(expectedError.GetType(), () => Serialize(writer, batch, 0));
            Assert.Throws(expectedError.GetType(), () => encoder.Value(batch, 0, encoder.Key(batch, 0)).ToArray());
        }

        // Binary rows need no JSON of the key: the same key is encoded.
        var binary = new ForecastRowEncoder(ForecastFormat.Binary);
        Assert.Equal(Encoding.UTF8.GetBytes(batch.Keys[0]), binary.Key(batch, 0).Utf8);
    }

    private static byte[] Serialize(ForecastJsonRow writer, ForecastBatch batch, int row)
    {
        var n = writer.Write(batch, row, out var scratch);
        return scratch.AsSpan(0, n).ToArray();
    }

    private static string RandomKey(Random rng)
    {
        var sb = new StringBuilder();
        var parts = rng.Next(1, 6);
        for (var i = 0; i < parts; i++)
        {
            // Mostly plain keys, as in service; a quarter carry characters that need escaping.
            sb.Append(rng.Next(4) == 0 ? KeyParts[rng.Next(KeyParts.Length)] : KeyParts[rng.Next(9)]);
        }

        return sb.ToString();
    }

    private static long RandomLong(Random rng) => rng.Next(5) switch
    {
        0 => long.MinValue,
        1 => long.MaxValue,
        2 => -rng.NextInt64(),
        _ => rng.NextInt64(0, 2_000_000_000_000),
    };

    private static float RandomFloat(Random rng) => rng.Next(4) switch
    {
        0 => BitConverter.Int32BitsToSingle(rng.Next() ^ (rng.Next(2) << 31)),
        1 => EdgeFloats[rng.Next(EdgeFloats.Length)],
        2 => (float)Math.Round((rng.NextDouble() - 0.5) * 1000, rng.Next(0, 5)),
        _ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-40, 39))),
    };

    private static double RandomDouble(Random rng) => rng.Next(4) switch
    {
        0 => BitConverter.Int64BitsToDouble(rng.NextInt64() ^ ((long)rng.Next(2) << 63)),
        1 => EdgeDoubles[rng.Next(EdgeDoubles.Length)],
        2 => Math.Round((rng.NextDouble() - 0.5) * 1e5, rng.Next(0, 6)),
        _ => (rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-320, 309)),
    };
}
