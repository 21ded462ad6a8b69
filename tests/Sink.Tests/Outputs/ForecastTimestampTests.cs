using System.Text;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Outputs;

namespace StreamLstm.Sink.Tests.Outputs;

public class ForecastTimestampTests
{
    private static string[] Timestamps(WritePrecision precision, params long[] offsets)
    {
        var batch = new ForecastBatch(SourceKind.Tick, horizons: 1, capacity: offsets.Length);
        for (var r = 0; r < offsets.Length; r++)
        {
            batch.Keys[r] = "BTCUSD";
            batch.TimestampsMs[r] = 1_700_000_000_000; // the same millisecond: BTC trades arrive with second resolution
            batch.Observed[r] = 100 + r;
            batch.Mu[r] = 100;
            batch.Sigma[r] = 1;
            batch.Offsets[r] = offsets[r];
        }

        batch.Count = offsets.Length;
        using var buffer = new LineProtocolBuffer(precision);
        for (var r = 0; r < batch.Count; r++)
        {
            SinkSchema.WriteForecast(buffer, batch, r, default(RowScore));
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[(l.LastIndexOf(' ') + 1)..]).ToArray();
    }

    [Fact]
    public void NanosecondPrecision_KeepsSameMillisecondEventsApart_AndReplaysOfOneEventTogether()
    {
        var ts = Timestamps(WritePrecision.Nanoseconds, 41, 42, 42);
        Assert.Equal("1700000000000000041", ts[0]);
        Assert.Equal("1700000000000000042", ts[1]);
        Assert.Equal(ts[1], ts[2]); // the same Kafka offset replayed → the same point, overwritten
    }

    [Fact]
    public void MillisecondPrecision_UsesTheEventTimeAlone()
    {
        Assert.All(Timestamps(WritePrecision.Milliseconds, 41, 42), t => Assert.Equal("1700000000000", t));
    }
}
