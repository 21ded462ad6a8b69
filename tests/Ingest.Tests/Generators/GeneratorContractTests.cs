using System.Text.Json;
using StreamLstm.Ingest.Generators;
using static StreamLstm.Ingest.Tests.Generators.GeneratorTestKit;

namespace StreamLstm.Ingest.Tests.Generators;

public class GeneratorContractTests
{
    private static readonly HashSet<string> TickFields = ["symbol", "ts", "price", "size", "bid", "ask"];
    private static readonly HashSet<string> VitalsFields = ["patient_id", "ts", "hr", "spo2", "resp_rate", "sbp", "dbp", "map", "temp"];
    private static readonly HashSet<string> AudioFields = ["stream_id", "ts", "frame", "coeffs", "energy"];

    [Fact]
    public void Ticks_AreValidJson_WithContractFieldsAndTypes()
    {
        var items = Take(new TickGenerator(new TickGeneratorOptions { Keys = 30, Seed = 5 }), 20_000);
        var withQuotes = 0;
        foreach (var item in items)
        {
            var e = Parse(item.Json);
            AssertOnlyFields(e, TickFields);
            Assert.Equal(item.Key, e.GetProperty("symbol").GetString());
            Assert.Equal(item.Info.TimestampMs, e.GetProperty("ts").GetInt64());
            var price = e.GetProperty("price").GetDouble();
            Assert.True(price > 0, "price must be positive");
            Assert.True(e.GetProperty("size").GetDouble() >= 1);
            var bid = Opt(e, "bid");
            var ask = Opt(e, "ask");
            Assert.Equal(bid is null, ask is null);
            if (bid is not null)
            {
                withQuotes++;
                Assert.True(bid < ask, $"bid {bid} must be below ask {ask}");
            }
        }

        // Both shapes of the optional quote occur.
        Assert.InRange(withQuotes, items.Count / 2, items.Count - 100);
    }

    [Fact]
    public void Vitals_AreValidJson_WithPlausibleRangesAndRealisticMissingness()
    {
        var items = Take(new VitalsGenerator(new VitalsGeneratorOptions { Keys = 40, Seed = 5 }), 40_000);
        var present = new Dictionary<string, int>();
        foreach (var item in items)
        {
            var e = Parse(item.Json);
            AssertOnlyFields(e, VitalsFields);
            Assert.Equal(item.Key, e.GetProperty("patient_id").GetString());
            Assert.Equal(item.Info.TimestampMs, e.GetProperty("ts").GetInt64());
            var count = 0;
            foreach (var p in e.EnumerateObject())
            {
                if (p.Name is "patient_id" or "ts")
                {
                    continue;
                }

                count++;
                present[p.Name] = present.GetValueOrDefault(p.Name) + 1;
                Assert.Equal(JsonValueKind.Number, p.Value.ValueKind);
            }

            Assert.True(count > 0, "a vitals event carries at least one vital");
            Assert.InRange(Opt(e, "spo2") ?? 90, 60, 100);
            Assert.InRange(Opt(e, "hr") ?? 80, 25, 230);
            Assert.InRange(Opt(e, "temp") ?? 37, 35, 39);
            if (Opt(e, "sbp") is { } sbp && Opt(e, "dbp") is { } dbp)
            {
                Assert.True(sbp > dbp);
                Assert.Equal(Math.Round(dbp + ((sbp - dbp) / 3), 1), Opt(e, "map"));
            }
        }

        // Monitor-like missingness: HR nearly always there, cuff pressure in about a quarter, temperature rarely.
        double Frac(string f) => present.GetValueOrDefault(f) / (double)items.Count;
        Assert.InRange(Frac("hr"), 0.95, 0.995);
        Assert.InRange(Frac("spo2"), 0.85, 0.99);
        Assert.InRange(Frac("sbp"), 0.18, 0.32);
        Assert.InRange(Frac("temp"), 0.02, 0.09);
    }

    [Fact]
    public void Vitals_WithMissingnessOff_CarryEveryVital()
    {
        var items = Take(new VitalsGenerator(new VitalsGeneratorOptions { Keys = 5, MissingnessScale = 0 }), 2_000);
        Assert.All(items, i => Assert.Equal(VitalsFields.Count, Parse(i.Json).EnumerateObject().Count()));
    }

    [Fact]
    public void AudioFrames_AreValidJson_With13CoefficientsAndConsecutiveFrameNumbers()
    {
        var items = Take(new AudioFrameGenerator(new AudioGeneratorOptions { Keys = 10, Seed = 5 }), 20_000);
        var nextFrame = new Dictionary<string, long>();
        foreach (var item in items)
        {
            var e = Parse(item.Json);
            AssertOnlyFields(e, AudioFields);
            Assert.Equal(item.Key, e.GetProperty("stream_id").GetString());
            Assert.Equal(13, e.GetProperty("coeffs").GetArrayLength());
            Assert.All(e.GetProperty("coeffs").EnumerateArray(), c => Assert.True(double.IsFinite(c.GetDouble())));
            Assert.True(double.IsFinite(e.GetProperty("energy").GetDouble()));
            var frame = e.GetProperty("frame").GetInt64();
            Assert.Equal(nextFrame.GetValueOrDefault(item.Key), frame);
            nextFrame[item.Key] = frame + 1;
        }
    }

    [Fact]
    public void LabelField_IsWrittenOnlyForAnomalies_AndOnlyWhenAskedFor()
    {
        var without = Take(new VitalsGenerator(new VitalsGeneratorOptions { Keys = 5, TachycardiaPerHour = 30 }), 5_000);
        Assert.Contains(without, i => i.Info.IsAnomaly);
        Assert.All(without, i => Assert.False(Parse(i.Json).TryGetProperty("label", out _)));

        var with = Take(new VitalsGenerator(new VitalsGeneratorOptions { Keys = 5, TachycardiaPerHour = 30, IncludeLabelInJson = true }), 5_000);
        foreach (var i in with)
        {
            var has = Parse(i.Json).TryGetProperty("label", out var label);
            Assert.Equal(i.Info.IsAnomaly, has);
            if (has)
            {
                Assert.Equal(i.Info.Anomaly.ToLabel(), label.GetString());
            }
        }
    }

    [Fact]
    public void EventJson_EscapesKeysAndOmitsAbsentQuotes()
    {
        var buffer = new byte[EventJson.MaxEventBytes];
        var n = EventJson.WriteTick(buffer, EventJson.EncodeKey("A\"B"), 5, 1.5, 2, double.NaN, double.NaN);
        var e = Parse(buffer[..n]);
        Assert.Equal("A\"B", e.GetProperty("symbol").GetString());
        Assert.False(e.TryGetProperty("bid", out _));
        Assert.Throws<ArgumentException>(() => EventJson.WriteTick(buffer, "X"u8, 5, double.PositiveInfinity, 1, double.NaN, double.NaN));
        Assert.Throws<ArgumentException>(() => EventJson.WriteTick(new byte[10], "X"u8, 5, 1, 1, double.NaN, double.NaN));
    }

    private static void AssertOnlyFields(JsonElement e, HashSet<string> allowed)
    {
        Assert.Equal(JsonValueKind.Object, e.ValueKind);
        foreach (var p in e.EnumerateObject())
        {
            Assert.True(allowed.Contains(p.Name), $"unexpected field '{p.Name}'");
        }
    }
}
