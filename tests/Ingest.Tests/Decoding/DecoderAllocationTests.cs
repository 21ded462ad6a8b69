using System.Text;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Decoding;

/// <summary>The decoders sit on the hot path: good events, and bad ones caught by a check (not by a parse error), allocate nothing.</summary>
public class DecoderAllocationTests
{
    public static TheoryData<SourceKind, string, string> Messages => new()
    {
        { SourceKind.Tick, "AAPL", """{"symbol":"AAPL","ts":1700000000123,"price":189.5,"size":300,"bid":189.4,"ask":189.6}""" },
        { SourceKind.Tick, "AAPL", """{"symbol":"A\u0041PL","ts":"2024-01-02T03:04:05.678Z","price":189.5,"size":300}""" },
        { SourceKind.Tick, "AAPL", """{"symbol":"AAPL","ts":99999999999999999,"price":189.5,"size":300}""" },
        { SourceKind.Tick, "MSFT", """{"symbol":"AAPL","ts":1700000000123,"price":189.5,"size":300}""" },
        { SourceKind.Tick, "AAPL", """{"symbol":"AAPL","ts":1700000000123,"price":1e300,"size":300}""" },
        { SourceKind.Vitals, "p-1", """{"patient_id":"p-1","ts":1700000000009,"hr":63.9,"spo2":97.1,"resp_rate":14.4,"temp":36.6}""" },
        { SourceKind.Audio, "mic-1", """{"stream_id":"mic-1","ts":1700000000174,"frame":17,"coeffs":[-13.7,0.2,0.04,-0.09,0.17,0.05,0.06,-0.03,-0.27,-0.14,0.2,0.42,-0.24],"energy":0.59}""" },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void Decode_AllocatesNothing(SourceKind kind, string kafkaKey, string json)
    {
        var d = EventDecoder.For(kind);
        var raw = new double[d.ValueCount];
        var value = Encoding.UTF8.GetBytes(json);
        var key = Encoding.UTF8.GetBytes(kafkaKey);
        var expected = d.Decode(value, key, raw, out _, out _);
        // Warm up past tiered compilation (a tier-up may allocate once on this thread), then measure.
        for (var i = 0; i < 50_000; i++) d.Decode(value, key, raw, out _, out _);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            if (d.Decode(value, key, raw, out _, out _) != expected) Assert.Fail("the outcome changed between runs");
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
