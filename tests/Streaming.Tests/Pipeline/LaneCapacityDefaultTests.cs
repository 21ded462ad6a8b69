using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Tests.Pipeline;

/// <summary>
/// The lane capacity must stay large enough that half a lane outlasts a paused partition's refetch: at 16 chunks a Kafka
/// backlog ran at a third of the rate with the workers starved after every pause (docs/benchmarks.md, "Kafka path: where
/// the wall time went").
/// </summary>
public sealed class LaneCapacityDefaultTests
{
    [Fact]
    public void Default_lane_holds_at_least_128_full_chunks()
    {
        var options = new PipelineOptions();
        Assert.True(options.ChannelCapacity >= 128, $"ChannelCapacity default {options.ChannelCapacity}");
        Assert.True(options.LaneCapacityMessages >= 128 * 1024, $"lane capacity {options.LaneCapacityMessages} messages");
    }

    [Fact]
    public void Shipped_appsettings_do_not_lower_the_lane_capacity()
    {
        var path = FindAppSettings();
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        var pipeline = doc.RootElement.GetProperty("Pipeline");
        if (pipeline.TryGetProperty("ChannelCapacity", out var capacity))
        {
            Assert.True(capacity.GetInt32() >= PipelineOptions.DefaultChannelCapacity, $"{path}: Pipeline:ChannelCapacity {capacity.GetInt32()}");
        }
    }

    private static string FindAppSettings()
    {
        // The repository's Streaming/appsettings.json, found upwards from the test's output folder.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "Streaming", "appsettings.json");
            if (File.Exists(candidate)) return candidate;
        }

        throw new FileNotFoundException("Streaming/appsettings.json not found above " + AppContext.BaseDirectory);
    }
}
