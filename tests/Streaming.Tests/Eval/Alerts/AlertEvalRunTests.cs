using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Eval.Alerts;

namespace StreamLstm.Streaming.Tests.Eval.Alerts;

/// <summary><c>eval alerts</c> end to end: generated ticks with injected price jumps through the pipeline and alert scoring.</summary>
public class AlertEvalRunTests
{
    private static AlertEvalSettings Small() => new()
    {
        Events = 20_000, Keys = (10, 1, 1), Kinds = [SourceKind.Tick], Hidden = 16, Epochs = 3, TrainEventsPerKey = 300, AnomalyRate = 4, Partitions = 4,
    };

    [Fact]
    public async Task SmallTickRun_DetectsInjectedPriceJumps_ThroughThePipeline()
    {
        var results = await AlertEvalCommand.RunAsync(Small(), OnlineRuns.Off, [], TextWriter.Null, TestContext.Current.CancellationToken);

        var r = Assert.Single(results);
        Assert.Equal(20_000, r.Forecasts);
        Assert.False(r.OnlineRequested);
        var tick = Assert.Single(r.Kinds);
        var jumps = Assert.Single(tick.Labels, l => l.Label == AnomalyKind.PriceJump);
        Assert.True(jumps.Episodes > 5, $"expected several injected price jumps, got {jumps.Episodes}");
        Assert.True(jumps.Detected > 0, "no injected price jump raised an alert");
        Assert.True(tick.TrueAlerts > 0 && tick.Precision > 0.5, $"precision {tick.Precision} ({tick.TrueAlerts}/{tick.Alerts})");
        Assert.True(tick.KeyHours > 0.5, $"key-hours {tick.KeyHours}");
    }

    [Fact]
    public async Task BothRuns_PassTheOnlineFlagAndSinkSettingsThrough()
    {
        // An enter threshold no smoothed score reaches: if the setting reaches the pipeline's alert scoring, nothing alerts.
        // Online:EveryEvents low enough that the trainer started for the "on" run fine-tunes within it.
        string[] config = ["--Sink:Anomaly:Sources:tick:EnterThreshold=1000", "--Sink:Anomaly:Sources:tick:CriticalThreshold=2000", "--Online:EveryEvents=1000", "--Online:MinGap=00:00:00"];
        var results = await AlertEvalCommand.RunAsync(Small() with { Events = 5_000 }, OnlineRuns.Both, config, TextWriter.Null, TestContext.Current.CancellationToken);

        Assert.Equal([false, true], results.Select(r => r.OnlineRequested));
        Assert.Equal([false, true], results.Select(r => r.OnlineActive));
        Assert.All(results, r => Assert.Equal(0, r.Kinds[0].Alerts));
        Assert.All(results, r => Assert.True(r.Kinds[0].Episodes > 0));
    }
}
