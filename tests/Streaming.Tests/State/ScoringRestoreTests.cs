using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Storage.Memory;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>
/// The one scoring state per key travels in the key's record: after a restart an open alert is not raised again and its
/// resolution carries the original id, and a hibernated key scores exactly as one that stayed in memory.
/// </summary>
public class ScoringRestoreTests
{
    // Low thresholds, no warm-up and no minimum duration, so the untrained test models raise and resolve alerts often.
    private static PipelineOptions Options(int maxResident = 0) => new()
    {
        Workers = 2, MaxBatch = 8, ChunkSize = 7, ChannelCapacity = 64, MaxWait = TimeSpan.Zero, MaxResidentKeys = maxResident,
        Anomaly = new AnomalyOptions
        {
            Window = 3,
            WarmupEvents = 2,
            Default = new SourceCalibration { EnterThreshold = 1.2, ExitThreshold = 0.6, CriticalThreshold = 3, MinDuration = TimeSpan.FromMilliseconds(50), Cooldown = TimeSpan.Zero },
        },
    };

    private static List<InputMessage> Input() =>
        StateHarness.Place(Events.Mixed(2500, ticksKeys: 12, vitalsKeys: 6, audioKeys: 3, seed: 11), partitions: 2);

    private static List<(string Id, AlertEventKind Kind, long EventMs, AlertSeverity Severity)> Distinct(IEnumerable<AlertEvent> alerts) =>
        [.. alerts.Select(a => (a.AlertId, a.Kind, a.EventMs, a.Severity)).Distinct().Order()];

    [Fact]
    public async Task RestartWithAnOpenAlert_DoesNotRaiseItAgain_AndResolvesItUnderTheOriginalId()
    {
        var input = Input();
        List<AlertEvent> expected;
        await using (var whole = new StateHarness(PipelineInvariantTests.Models(), Options(), store: null))
        {
            await whole.SendAsync(input);
            await whole.DrainAsync();
            expected = [.. whole.Output.Alerts];
        }

        // An alert that opens and later resolves; the process stops (after a checkpoint) while it is open.
        var raised = expected.FirstOrDefault(a => a.Kind == AlertEventKind.Raised && expected.Any(r => r.AlertId == a.AlertId && r.Kind == AlertEventKind.Resolved));
        Assert.True(raised is not null, $"setup: the uninterrupted run raised no alert that resolved ({expected.Count} events)");
        var raisedAt = input.FindIndex(m => m.Key == raised.Key && m.Kind == raised.Source && TimestampOf(m) == raised.EventMs);
        Assert.True(raisedAt >= 0, "setup: the raising message is in the input");
        var cut = raisedAt + 1;

        using var store = new MemoryStateStore();
        var events = new List<AlertEvent>();
        await using (var first = new StateHarness(PipelineInvariantTests.Models(), Options(), store))
        {
            await first.SendAsync(input.Take(cut));
            await first.CheckpointAsync();
            // Work after the checkpoint is lost by the "crash" (no checkpoint) and read again by the next process.
            await first.SendAsync(input.Skip(cut).Take(40));
            await first.DrainAsync();
            events.AddRange(first.Output.Alerts);
        }

        await using (var second = new StateHarness(PipelineInvariantTests.Models(), Options(), store))
        {
            var resume = input.Select(m => (m.Kind, m.Partition)).Distinct().ToDictionary(p => p, p => second.ResumeAt(p.Kind, p.Partition));
            await second.SendAsync(input.Where(m => m.Offset >= resume[(m.Kind, m.Partition)]));
            await second.DrainAsync();
            Assert.DoesNotContain(second.Output.Alerts, a => a.AlertId == raised.AlertId && a.Kind == AlertEventKind.Raised);
            Assert.Contains(second.Output.Alerts, a => a.AlertId == raised.AlertId && a.Kind == AlertEventKind.Resolved);
            events.AddRange(second.Output.Alerts);
        }

        Assert.Equal(Distinct(expected), Distinct(events));
        Assert.Single(events, a => a.Kind == AlertEventKind.Raised && a.AlertId == raised.AlertId);
    }

    [Fact]
    public async Task HibernatedKeys_ScoreIdentically_AndRaiseTheSameAlerts()
    {
        var input = Input();
        Dictionary<(SourceKind, string, int, long), RowScore> expected;
        List<AlertEvent> expectedAlerts;
        await using (var whole = new StateHarness(PipelineInvariantTests.Models(), Options(), store: null))
        {
            await whole.SendAsync(input);
            await whole.DrainAsync();
            expected = whole.Output.Scores.ToDictionary(s => (s.Source, s.Key, s.Partition, s.Offset), s => s.Score);
            expectedAlerts = [.. whole.Output.Alerts];
        }

        using var store = new MemoryStateStore();
        await using var run = new StateHarness(PipelineInvariantTests.Models(), Options(maxResident: 2), store);
        for (var i = 0; i < input.Count; i += 15)
        {
            await run.SendAsync(input.Skip(i).Take(15));
            await run.CheckpointAsync();
        }

        await run.DrainAsync();
        Assert.True(run.Pipeline.Totals().Evicted > 100, $"only {run.Pipeline.Totals().Evicted} keys were hibernated");
        var got = run.Output.Scores.ToList();
        Assert.Equal(expected.Count, got.Count);
        Assert.True(got.Count(s => s.Score.HasScore) > input.Count / 2, "most rows are scored");
        foreach (var (source, key, partition, offset, score) in got)
        {
            var want = expected[(source, key, partition, offset)];
            Assert.True(want.HasScore == score.HasScore && Bits(want.Score) == Bits(score.Score) && Bits(want.Nll) == Bits(score.Nll), $"{source}/{key}@{partition}:{offset}: score {score.Score} vs {want.Score}");
        }

        Assert.NotEmpty(expectedAlerts);
        Assert.Equal(Distinct(expectedAlerts), Distinct(run.Output.Alerts));
    }

    private static long Bits(double d) => BitConverter.DoubleToInt64Bits(d);

    private static long TimestampOf(InputMessage m)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(m.Value);
        return doc.RootElement.GetProperty("ts").GetInt64();
    }
}
