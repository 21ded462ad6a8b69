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
        // A per-event allocation shows in every measurement; a one-off by the runtime (a few KB while a method tiers up
        // during the timed loop) does not repeat, so the least of three measurements must be exactly zero.
        Assert.Equal(0, Math.Min(json.AllocatedBytes, LeastOfTwo(kind, json: true)));
        Assert.Equal(0, Math.Min(GeneratorBenchmark.Measure(kind, keys: 50, events: 20_000, json: false).AllocatedBytes, LeastOfTwo(kind, json: false)));
    }

    private static long LeastOfTwo(SourceKind kind, bool json) =>
        Math.Min(GeneratorBenchmark.Measure(kind, keys: 50, events: 20_000, json: json).AllocatedBytes,
            GeneratorBenchmark.Measure(kind, keys: 50, events: 20_000, json: json).AllocatedBytes);
}
