using System.Text;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Decoding;

public class DecoderTests
{
    private static (DeadLetterReason Reason, double[] Values, long Ts, string Id) Decode(SourceKind kind, string json)
    {
        var d = EventDecoder.For(kind);
        var values = new double[d.ValueCount];
        var r = d.Decode(Encoding.UTF8.GetBytes(json), values, out var ts, out var id);
        return (r, values, ts, Encoding.UTF8.GetString(id));
    }

    [Fact]
    public void Tick_EpochMillis_WithBidAsk()
    {
        var (r, v, ts, id) = Decode(SourceKind.Tick, """{"symbol":"AAPL","ts":1700000000123,"price":189.5,"size":300,"bid":189.4,"ask":189.6,"venue":{"x":[1,2]}}""");
        Assert.Equal(DeadLetterReason.None, r);
        Assert.Equal(1700000000123, ts);
        Assert.Equal("AAPL", id);
        Assert.Equal([189.5, 300, 189.4, 189.6], v);
    }

    [Fact]
    public void Tick_Iso8601Timestamp_AndAbsentBidAsk()
    {
        var (r, v, ts, _) = Decode(SourceKind.Tick, """{"symbol":"BTC","ts":"2024-01-02T03:04:05.678Z","price":1,"size":0}""");
        Assert.Equal(DeadLetterReason.None, r);
        Assert.Equal(new DateTimeOffset(2024, 1, 2, 3, 4, 5, 678, TimeSpan.Zero).ToUnixTimeMilliseconds(), ts);
        Assert.True(double.IsNaN(v[TickDecoder.Bid]) && double.IsNaN(v[TickDecoder.Ask]));
    }

    [Fact]
    public void EscapedId_IsUnescaped()
    {
        var (r, _, _, id) = Decode(SourceKind.Tick, """{"symbol":"A\u0042C","ts":1,"price":1,"size":1}""");
        Assert.Equal(DeadLetterReason.None, r);
        Assert.Equal("ABC", id);
    }

    [Theory]
    [InlineData("""{"symbol":"A","ts":1,"price":1,"size":1""", DeadLetterReason.MalformedJson)]
    [InlineData("""[1,2]""", DeadLetterReason.MalformedJson)]
    [InlineData("""{"symbol":"A","ts":1,"price":1,"size":1} x""", DeadLetterReason.MalformedJson)]
    [InlineData("""{"symbol":"A","price":1,"size":1}""", DeadLetterReason.MissingField)]
    [InlineData("""{"symbol":"A","ts":1,"size":1}""", DeadLetterReason.MissingField)]
    [InlineData("""{"symbol":"A","ts":1,"price":"12","size":1}""", DeadLetterReason.WrongType)]
    [InlineData("""{"symbol":"A","ts":true,"price":1,"size":1}""", DeadLetterReason.WrongType)]
    [InlineData("""{"symbol":"A","ts":"yesterday","price":1,"size":1}""", DeadLetterReason.WrongType)]
    [InlineData("""{"symbol":"A","ts":1,"price":"NaN","size":1}""", DeadLetterReason.NonFinite)]
    [InlineData("""{"symbol":"A","ts":1,"price":1,"size":"Infinity"}""", DeadLetterReason.NonFinite)]
    [InlineData("""{"symbol":"A","ts":1,"price":1e400,"size":1}""", DeadLetterReason.NonFinite)]
    [InlineData("""{"symbol":"A","ts":1,"price":0,"size":1}""", DeadLetterReason.ImpossibleValue)]
    [InlineData("""{"symbol":"A","ts":1,"price":-3,"size":1}""", DeadLetterReason.ImpossibleValue)]
    [InlineData("""{"symbol":"A","ts":-5,"price":1,"size":1}""", DeadLetterReason.TimestampOutOfRange)]
    [InlineData("""{"symbol":["A"],"ts":1,"price":1,"size":1}""", DeadLetterReason.WrongType)]
    public void Tick_BadInput_HasItsReason(string json, DeadLetterReason expected) => Assert.Equal(expected, Decode(SourceKind.Tick, json).Reason);

    [Fact]
    public void Vitals_MissingValuesAreNaN()
    {
        var (r, v, _, id) = Decode(SourceKind.Vitals, """{"patient_id":17,"ts":5,"hr":72,"spo2":null,"temp":36.6}""");
        Assert.Equal(DeadLetterReason.None, r);
        Assert.Equal("17", id);
        Assert.Equal(72, v[VitalsDecoder.HeartRate]);
        Assert.True(double.IsNaN(v[VitalsDecoder.SpO2]));
        Assert.Equal(36.6, v[VitalsDecoder.Temperature]);
    }

    [Theory]
    [InlineData("""{"patient_id":"p","ts":1,"spo2":101}""", DeadLetterReason.ImpossibleValue)]
    [InlineData("""{"patient_id":"p","ts":1,"hr":-1}""", DeadLetterReason.ImpossibleValue)]
    [InlineData("""{"patient_id":"p","ts":1}""", DeadLetterReason.MissingField)]
    [InlineData("""{"patient_id":"p","ts":1,"hr":"fast"}""", DeadLetterReason.WrongType)]
    public void Vitals_BadInput_HasItsReason(string json, DeadLetterReason expected) => Assert.Equal(expected, Decode(SourceKind.Vitals, json).Reason);

    [Fact]
    public void Audio_ReadsCoefficientsEnergyAndFrame()
    {
        var (r, v, _, _) = Decode(SourceKind.Audio, """{"stream_id":"s","ts":1,"frame":9,"coeffs":[1,2,3,4,5,6,7,8,9,10,11,12,13],"energy":0.5}""");
        Assert.Equal(DeadLetterReason.None, r);
        Assert.Equal(Enumerable.Range(1, 13).Select(i => (double)i).Append(0.5).Append(9), v);
    }

    [Theory]
    [InlineData("""{"stream_id":"s","ts":1,"frame":1,"coeffs":[1,2,3]}""", DeadLetterReason.WrongLength)]
    [InlineData("""{"stream_id":"s","ts":1,"frame":1,"coeffs":[1,2,3,4,5,6,7,8,9,10,11,12,13,14]}""", DeadLetterReason.WrongLength)]
    [InlineData("""{"stream_id":"s","ts":1,"frame":1,"coeffs":"abc"}""", DeadLetterReason.WrongType)]
    [InlineData("""{"stream_id":"s","ts":1,"coeffs":[1,2,3,4,5,6,7,8,9,10,11,12,13]}""", DeadLetterReason.MissingField)]
    [InlineData("""{"stream_id":"s","ts":1,"frame":-2,"coeffs":[1,2,3,4,5,6,7,8,9,10,11,12,13]}""", DeadLetterReason.ImpossibleValue)]
    [InlineData("""{"stream_id":"s","ts":1,"frame":1,"coeffs":[1,2,3,4,5,6,7,"NaN",9,10,11,12,13]}""", DeadLetterReason.NonFinite)]
    public void Audio_BadInput_HasItsReason(string json, DeadLetterReason expected) => Assert.Equal(expected, Decode(SourceKind.Audio, json).Reason);
}
