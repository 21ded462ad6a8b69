using StreamLstm.Ingest.Generators;
using static StreamLstm.Ingest.Tests.Generators.GeneratorTestKit;

namespace StreamLstm.Ingest.Tests.Generators;

public class GeneratorRateTests
{
    [Theory]
    [InlineData("tick", 25.0)]
    [InlineData("vitals", 0.5)]
    [InlineData("audio", 100.0)]
    public void PerKeyRate_MatchesTheConfiguredEventsPerSecond(string kind, double rate)
    {
        var g = GeneratorDeterminismTests.Create(kind, 1, keys: 10, o => o.EventsPerKeyPerSecond = rate);
        var items = Take(g, 50_000);
        foreach (var key in items.GroupBy(i => i.Info.KeyIndex))
        {
            var ts = key.Select(i => i.Info.TimestampMs).ToList();
            var observed = (ts.Count - 1) / ((ts[^1] - ts[0]) / 1000.0);
            Assert.InRange(observed, rate * 0.95, rate * 1.05);
        }
    }

    [Fact]
    public void AudioFrames_AreEvenlySpacedAtTheHop()
    {
        var items = Take(new AudioFrameGenerator(new AudioGeneratorOptions { Keys = 1 }), 1_000);
        for (var i = 1; i < items.Count; i++)
        {
            Assert.InRange(items[i].Info.TimestampMs - items[i - 1].Info.TimestampMs, 9, 11);
        }

        Assert.Equal(items[0].Info.TimestampMs + 9_990, items[^1].Info.TimestampMs, tolerance: 1);
    }
}
