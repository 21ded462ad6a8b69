using StreamLstm.Ingest.Generators;
using static StreamLstm.Ingest.Tests.Generators.GeneratorTestKit;

namespace StreamLstm.Ingest.Tests.Generators;

public class GeneratorOptionsTests
{
    [Fact]
    public void IsoTimestamps_WriteTheSameInstantAsIso8601()
    {
        var epoch = Take(new TickGenerator(new TickGeneratorOptions { Keys = 3, Seed = 1 }), 50);
        var iso = Take(new TickGenerator(new TickGeneratorOptions { Keys = 3, Seed = 1, IsoTimestamps = true }), 50);
        for (var i = 0; i < epoch.Count; i++)
        {
            var text = Parse(iso[i].Json).GetProperty("ts").GetString()!;
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", text);
            Assert.Equal(Parse(epoch[i].Json).GetProperty("ts").GetInt64(), DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds());
        }
    }

    [Theory]
    [InlineData(StreamLstm.Model.Forecasting.SourceKind.Tick, "ticks", 10.0)]
    [InlineData(StreamLstm.Model.Forecasting.SourceKind.Vitals, "vitals", 1.0)]
    [InlineData(StreamLstm.Model.Forecasting.SourceKind.Audio, "audio-features", 100.0)]
    public void Factory_BuildsEachKindWithItsDefaults(StreamLstm.Model.Forecasting.SourceKind kind, string topic, double rate)
    {
        var g = EventGenerators.Create(kind, keys: 4, seed: 9);
        Assert.Equal(kind, g.Kind);
        Assert.Equal(4, g.KeyCount);
        Assert.Equal(topic, EventGenerators.DefaultTopic(kind));
        var items = Take(g, 4_000);
        var span = (items[^1].Info.TimestampMs - items[0].Info.TimestampMs) / 1000.0;
        Assert.InRange(items.Count / 4.0 / span, rate * 0.9, rate * 1.1);
        Assert.Equal(AllBytes(EventGenerators.Create(kind, keys: 4, seed: 9), 500), AllBytes(EventGenerators.Create(kind, keys: 4, seed: 9), 500));
    }
}
