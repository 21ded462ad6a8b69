using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Outputs;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Outputs;

public class EncodingAllocationTests
{
    [Fact]
    public void ScoringAndEncodingKnownKeys_AllocatesNothingPerEvent()
    {
        var detector = new AnomalyDetector(new AnomalyOptions(), TimeProvider.System);
        var scores = new RowScore[1000];
        var alerts = new List<AlertEvent>();
        using var buffer = new LineProtocolBuffer(WritePrecision.Milliseconds, 1 << 20);
        var batches = Enumerable.Range(0, 4).Select(i => Batches.Make(SourceKind.Tick, ["a", "b c", "d,e"], 1000, i * 1000, 0, horizons: 8)).ToArray();

        void Run(ForecastBatch b)
        {
            buffer.Clear();
            detector.Process(b, scores, alerts);
            for (var r = 0; r < b.Count; r++)
            {
                SinkSchema.WriteForecast(buffer, b, r, scores[r]);
            }
        }

        Run(batches[0]);
        Run(batches[1]);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Run(batches[2]);
        Run(batches[3]);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Empty(alerts);
        Assert.Equal(1000, buffer.LineCount);
        Assert.Equal(0, allocated);
    }
}
