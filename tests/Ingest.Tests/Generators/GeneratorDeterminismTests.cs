using StreamLstm.Ingest.Generators;
using static StreamLstm.Ingest.Tests.Generators.GeneratorTestKit;

namespace StreamLstm.Ingest.Tests.Generators;

public class GeneratorDeterminismTests
{
    public static TheoryData<string> Kinds => new() { "tick", "vitals", "audio" };

    internal static IEventGenerator Create(string kind, ulong seed, int keys = 20, Action<GeneratorOptions>? tweak = null)
    {
        switch (kind)
        {
            case "tick":
                var t = new TickGeneratorOptions { Seed = seed, Keys = keys };
                tweak?.Invoke(t);
                return new TickGenerator(t);
            case "vitals":
                var v = new VitalsGeneratorOptions { Seed = seed, Keys = keys };
                tweak?.Invoke(v);
                return new VitalsGenerator(v);
            default:
                var a = new AudioGeneratorOptions { Seed = seed, Keys = keys };
                tweak?.Invoke(a);
                return new AudioFrameGenerator(a);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SameSeed_GivesSameBytes_DifferentSeed_GivesDifferentBytes(string kind)
    {
        var a = AllBytes(Create(kind, 7), 20_000);
        var b = AllBytes(Create(kind, 7), 20_000);
        var c = AllBytes(Create(kind, 8), 20_000);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void KeyStream_DoesNotDependOnHowManyOtherKeysExist(string kind)
    {
        // Key 3's JSON sequence must be identical in a 5-key and a 40-key generator (per-key random streams).
        static List<string> KeyThree(IEventGenerator g, int n) =>
            [.. Take(g, n).Where(i => i.Info.KeyIndex == 3).Take(300).Select(i => System.Text.Encoding.UTF8.GetString(i.Json))];

        var small = KeyThree(Create(kind, 11, keys: 5), 3_000);
        var large = KeyThree(Create(kind, 11, keys: 40), 24_000);
        Assert.Equal(300, small.Count);
        Assert.Equal(small, large);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Events_AreInVirtualTimeOrder_AndKeysCoverAllEntities(string kind)
    {
        var items = Take(Create(kind, 3, keys: 50), 10_000);
        for (var i = 1; i < items.Count; i++)
        {
            Assert.True(items[i].Info.TimestampMs >= items[i - 1].Info.TimestampMs, $"event {i} goes back in time");
        }

        Assert.Equal(50, items.Select(i => i.Key).Distinct().Count());
    }

    [Fact]
    public void StartAt_TakesVirtualStartFromInjectedClock()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_234_567_890_000));
        var options = new TickGeneratorOptions { Keys = 3 };
        options.StartAt(clock);
        var first = Take(new TickGenerator(options), 1)[0];
        Assert.InRange(first.Info.TimestampMs, 1_234_567_890_000, 1_234_567_900_000);
    }

    [Fact]
    public void InvalidOptions_FailWithMessageNamingTheSetting()
    {
        var ex = Assert.Throws<ArgumentException>(() => new TickGenerator(new TickGeneratorOptions { Keys = 0 }));
        Assert.Contains("Keys", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => new VitalsGenerator(new VitalsGeneratorOptions { EventsPerKeyPerSecond = 0 }));
        Assert.Contains("EventsPerKeyPerSecond", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => new AudioFrameGenerator(new AudioGeneratorOptions { NoiseBurstProbability = 2 }));
        Assert.Contains("NoiseBurstProbability", ex.Message, StringComparison.Ordinal);
    }
}
