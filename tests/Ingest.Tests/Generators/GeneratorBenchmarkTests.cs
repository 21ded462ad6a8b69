using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Generators;

public class GeneratorBenchmarkTests
{
    [Theory]
    [InlineData(SourceKind.Tick)]
    [InlineData(SourceKind.Vitals)]
    [InlineData(SourceKind.Audio)]
    public void Measure_ReportsSizesAndAllocatesNothingPerEvent(SourceKind kind)
    {
        // No speed threshold: only that the measurement is well-formed and the hot path is allocation-free.
        var json = GeneratorBenchmark.Measure(kind, keys: 50, events: 20_000);
        Assert.Equal(20_000, json.Events);
        Assert.True(json.EventsPerSecond > 0);
        Assert.InRange(json.BytesPerEvent, 50, 400);
        Assert.Equal(0, json.AllocatedBytes);
        Assert.Equal(0, GeneratorBenchmark.Measure(kind, keys: 50, events: 20_000, json: false).AllocatedBytes);
    }
}
