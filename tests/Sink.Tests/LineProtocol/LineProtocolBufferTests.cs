using System.Text;
using StreamLstm.Sink.LineProtocol;

namespace StreamLstm.Sink.Tests.LineProtocol;

public class LineProtocolBufferTests
{
    private static string One(Action<LineProtocolBuffer> write, WritePrecision precision = WritePrecision.Milliseconds)
    {
        using var b = new LineProtocolBuffer(precision, 16);
        write(b);
        return Encoding.UTF8.GetString(b.WrittenSpan);
    }

    [Fact]
    public void Escapes_MeasurementTagsFieldKeysAndStrings_AsTheParserExpects()
    {
        var text = One(b =>
        {
            b.BeginLine("my meas,urement=x");
            b.Tag("tag key,=", "v a,l=ue\"q");
            b.Field("f k=,", "say \"hi\" \\ there");
            b.EndLine(5);
        });
        Assert.Equal("my\\ meas\\,urement=x,tag\\ key\\,\\==v\\ a\\,l\\=ue\"q f\\ k\\=\\,=\"say \\\"hi\\\" \\\\ there\" 5\n", text);
    }

    [Fact]
    public void Writes_AllFieldTypes_AndUnicodeVerbatim()
    {
        var text = One(b =>
        {
            b.BeginLine("m");
            b.Tag("k", "Zürich 株 🚀");
            b.Field("d", 0.1);
            b.Field("f", 0.1f);
            b.FieldInteger("i", -42);
            b.Field("b", true);
            b.Field("nan", double.NaN);
            b.Field("big", 1e300);
            b.EndLine(1_700_000_000_123);
        });
        Assert.Equal("m,k=Zürich\\ 株\\ 🚀 d=0.1,f=0.1,i=-42i,b=true,big=1E+300 1700000000123\n", text);
    }

    [Theory]
    [InlineData(WritePrecision.Nanoseconds, "1700000000123000000")]
    [InlineData(WritePrecision.Microseconds, "1700000000123000")]
    [InlineData(WritePrecision.Milliseconds, "1700000000123")]
    [InlineData(WritePrecision.Seconds, "1700000000")]
    public void Timestamp_IsConvertedToThePrecision(WritePrecision precision, string expected)
    {
        var text = One(b => { b.BeginLine("m"); b.Field("v", 1L == 1); b.EndLine(1_700_000_000_123); }, precision);
        Assert.EndsWith(" " + expected + "\n", text);
    }

    [Theory]
    [InlineData(WritePrecision.Nanoseconds, "1700000000123000042")]
    [InlineData(WritePrecision.Microseconds, "1700000000123000")]
    [InlineData(WritePrecision.Milliseconds, "1700000000123")]
    public void SubMillisecondPart_IsKeptOnlyAtNanosecondPrecision(WritePrecision precision, string expected)
    {
        var text = One(b => { b.BeginLine("m"); b.Field("v", 1L); b.EndLine(1_700_000_000_123, 42); }, precision);
        Assert.EndsWith(" " + expected + "\n", text);
    }

    [Fact]
    public void Seconds_TruncateTowardNegativeInfinity() => Assert.Equal(-2, WritePrecision.Seconds.FromUnixMs(-1001));

    [Fact]
    public void FloatFields_RoundTripExactly()
    {
        var rnd = new Random(7);
        using var b = new LineProtocolBuffer();
        for (var i = 0; i < 1000; i++)
        {
            var f = (float)((rnd.NextDouble() - 0.5) * Math.Pow(10, rnd.Next(-20, 20)));
            var d = (rnd.NextDouble() - 0.5) * Math.Pow(10, rnd.Next(-200, 200));
            b.Clear();
            b.BeginLine("m");
            b.Field("f", f);
            b.Field("d", d);
            b.EndLine(0);
            var text = Encoding.UTF8.GetString(b.WrittenSpan);
            var parts = text.Split(' ')[1].Split(',');
            Assert.Equal(f, float.Parse(parts[0][2..], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(d, double.Parse(parts[1][2..], System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public void Newlines_AndTrailingBackslash_AreRejected_AndTheLineIsDropped()
    {
        using var b = new LineProtocolBuffer();
        b.BeginLine("m");
        b.Field("v", 1.0);
        b.EndLine(1);
        var before = b.Length;
        b.BeginLine("m");
        Assert.Throws<ArgumentException>(() => b.Tag("k", "a\nb"));
        b.BeginLine("m");
        Assert.Throws<ArgumentException>(() => b.Tag("k", "ends\\"));
        b.BeginLine("m");
        Assert.Throws<ArgumentException>(() => b.Field("s", "x\ry"));
        b.CancelLine();
        Assert.Equal(before, b.Length);
        Assert.Equal(1, b.LineCount);
    }

    [Fact]
    public void PointWithoutFields_IsRejected_AndEmptyTagsSkipped()
    {
        using var b = new LineProtocolBuffer();
        b.BeginLine("m");
        b.Tag("empty", string.Empty);
        b.Field("nan", double.NaN);
        Assert.Throws<InvalidOperationException>(() => b.EndLine(1));
        Assert.Equal(0, b.Length);
        b.BeginLine("m");
        b.Tag("empty", string.Empty);
        b.Field("v", 2.5);
        b.EndLine(1);
        Assert.Equal("m v=2.5 1\n", Encoding.UTF8.GetString(b.WrittenSpan));
    }

    [Fact]
    public void Buffer_GrowsAcrossManyLines()
    {
        using var b = new LineProtocolBuffer(initialCapacity: 256);
        for (var i = 0; i < 10_000; i++)
        {
            b.BeginLine("forecast");
            b.Tag("key", "k" + (i % 10));
            b.FieldInteger("i", i);
            b.EndLine(i);
        }

        var lines = Encoding.UTF8.GetString(b.WrittenSpan).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(10_000, lines.Length);
        Assert.Equal("forecast,key=k9 i=9999i 9999", lines[^1]);
    }
}
