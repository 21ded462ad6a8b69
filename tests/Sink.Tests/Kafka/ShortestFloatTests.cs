using System.Globalization;
using System.Text;
using StreamLstm.Sink.Kafka;

namespace StreamLstm.Sink.Tests.Kafka;

public class ShortestFloatTests
{
    [Fact]
    public void MillionsOfFloats_AreWrittenAsTheRuntimeWritesThem_OrDeclined()
    {
        // Random bit patterns inside and around the fast range, decimal-looking values (the fast path's ties and
        // boundaries), and neighbours of powers of ten; every written text must be the runtime's exactly.
        var rng = new Random(7);
        Span<byte> fast = stackalloc byte[32];
        Span<byte> slow = stackalloc byte[32];
        var taken = 0;
        const int N = 3_000_000;
        for (var i = 0; i < N; i++)
        {
            var v = (i % 4) switch
            {
                0 => BitConverter.Int32BitsToSingle(rng.Next(0x38000000, 0x4F000000) | (rng.Next(2) << 31)),
                1 => (float)(Math.Round((rng.NextDouble() - 0.5) * 2000, rng.Next(0, 7))),
                2 => MathF.BitIncrement((float)Math.Pow(10, rng.Next(-5, 10))) is var p && rng.Next(2) == 0 ? p : MathF.BitDecrement(MathF.BitDecrement(p)),
                _ => (float)(100 + rng.NextDouble()),
            };
            if (!ShortestFloat.TryWrite(v, fast, out var w)) continue;
            taken++;
            Assert.True(v.TryFormat(slow, out var sw, default, CultureInfo.InvariantCulture));
            if (!fast[..w].SequenceEqual(slow[..sw]))
            {
                Assert.Fail($"{BitConverter.SingleToInt32Bits(v):X8}: fast {Encoding.ASCII.GetString(fast[..w])}, runtime {Encoding.ASCII.GetString(slow[..sw])}");
            }
        }

        // The fast path must actually be the common path for ordinary values, or it saves nothing.
        Assert.True(taken > N / 2, $"fast path took only {taken} of {N}");
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1e-5f)]
    [InlineData(1e9f)]
    [InlineData(0.5f)]
    [InlineData(float.NaN)]
    public void ValuesOutsideTheFastPath_AreDeclined(float v) => Assert.False(ShortestFloat.TryWrite(v, new byte[32], out _));

    [Theory]
    [InlineData(0.1f, "0.1")]
    [InlineData(-123.456f, "-123.456")]
    [InlineData(100.25f, "100.25")]
    [InlineData(0.00012345f, "0.00012345")]
    [InlineData(123456790f, "123456790")]
    public void TypicalValues_TakeTheFastPath(float v, string expected)
    {
        var buffer = new byte[32];
        Assert.True(ShortestFloat.TryWrite(v, buffer, out var w));
        Assert.Equal(expected, Encoding.ASCII.GetString(buffer, 0, w));
    }
}
