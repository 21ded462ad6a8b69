using Microsoft.Extensions.Time.Testing;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Alerts;

/// <summary>
/// Every row forecasts mu=0, sigma=1 for the next step, and observes z, so a row's surprise is -log10 P(|Z| ≥ z):
/// z=4 → 4.2 (above enter 3), z=2.5 → 1.9 (between exit 1.5 and enter), z=0 → 0, z=7 → 11.6 (critical ≥ 6).
/// Window 1, MinDuration 2 s and Cooldown 10 s of event time.
/// </summary>
public class AlertStateMachineTests
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly AnomalyDetector _detector;
    private readonly List<AlertEvent> _events = [];

    public AlertStateMachineTests()
    {
        _detector = new AnomalyDetector(Options(), _clock);
    }

    private static AnomalyOptions Options(double vitalsSigmaScale = 1.0, int window = 1) => new()
    {
        Window = window,
        WarmupEvents = 0,
        Default = new SourceCalibration { EnterThreshold = 3, ExitThreshold = 1.5, CriticalThreshold = 6, MinDuration = TimeSpan.FromSeconds(2), Cooldown = TimeSpan.FromSeconds(10) },
        Sources = { ["vitals"] = new SourceCalibration { SigmaScale = vitalsSigmaScale, EnterThreshold = 3, ExitThreshold = 1.5, CriticalThreshold = 6, MinDuration = TimeSpan.FromSeconds(2), Cooldown = TimeSpan.FromSeconds(10) } },
    };

    private List<AlertEvent> Feed(long tMs, double z, string key = "p1", SourceKind source = SourceKind.Tick, AnomalyDetector? detector = null)
    {
        var found = new List<AlertEvent>();
        var scores = new RowScore[1];
        (detector ?? _detector).Process(Batches.Row(source, key, tMs, z, 0f, 1f), scores, found);
        _events.AddRange(found);
        return found;
    }

    [Fact]
    public void NewKey_RaisesNothingDuringWarmup_ThenRaisesAsUsual()
    {
        var options = Options();
        options.WarmupEvents = 4;
        var detector = new AnomalyDetector(options, _clock);
        var scores = new RowScore[1];
        var found = new List<AlertEvent>();
        // Rows 1..4 are scored (surprise 4.2 > enter) but inside the warm-up: no pending state, no alert.
        for (var t = 0; t <= 4000; t += 1000)
        {
            detector.Process(Batches.Row(SourceKind.Tick, "new", t, 4, 0f, 1f), scores, found);
        }

        Assert.True(scores[0].HasScore);
        Assert.Empty(found);
        // From the 5th scored row on, the usual rule applies: above enter for MinDuration (2 s) → raised.
        for (var t = 5000; t <= 7000; t += 1000)
        {
            detector.Process(Batches.Row(SourceKind.Tick, "new", t, 4, 0f, 1f), scores, found);
        }

        var raised = Assert.Single(found);
        Assert.Equal(5000, raised.StartMs);
        Assert.Equal(7000, raised.EventMs);
    }

    [Fact]
    public void Raises_OnlyAfterTheScoreStaysAboveEnterForMinDuration()
    {
        Assert.Empty(Feed(0, 0));
        Assert.Empty(Feed(1000, 4));
        Assert.Empty(Feed(2000, 4));
        Assert.False(_detector.IsOpen(SourceKind.Tick, "p1"));
        var raised = Assert.Single(Feed(3000, 4));
        Assert.Equal(AlertEventKind.Raised, raised.Kind);
        Assert.Equal(AlertSeverity.Warning, raised.Severity);
        Assert.Equal(1000, raised.StartMs);
        Assert.Equal(3000, raised.EventMs);
        Assert.Equal("tick/p1/1000", raised.AlertId);
        Assert.Equal("p1", raised.Key);
        Assert.Equal(SourceKind.Tick, raised.Source);
        Assert.Equal("m-1", raised.Model);
        Assert.Equal(GaussianTail.Surprise(GaussianTail.LogTwoSidedP(4)), raised.PeakScore, 12);
        Assert.Equal(_clock.GetUtcNow(), raised.EmittedAt);

        // The violated forecast is the one made one step before the first peak row (t=0: mu 0, sigma 1), observed 4.
        Assert.Equal(4, raised.Observed);
        Assert.Equal(0, raised.ForecastMu);
        Assert.Equal(1, raised.ForecastSigma);
        Assert.Equal(0, raised.ForecastMadeAtMs);
        Assert.True(_detector.IsOpen(SourceKind.Tick, "p1"));
    }

    [Fact]
    public void ShortBurst_DoesNotRaise_AndTheMinDurationRestarts()
    {
        Feed(0, 0);
        Feed(1000, 4);
        Feed(2000, 4);
        Assert.Empty(Feed(2500, 0));
        Assert.Empty(Feed(4000, 4));
        Assert.Empty(Feed(5000, 4));
        var raised = Assert.Single(Feed(6000, 4));
        Assert.Equal(4000, raised.StartMs);
    }

    [Fact]
    public void Hysteresis_KeepsTheAlertOpenBetweenExitAndEnter_ThenResolvesBelowExit()
    {
        Feed(0, 0);
        Feed(1000, 4);
        Feed(3000, 4);
        Assert.Empty(Feed(4000, 2.5));
        Assert.Empty(Feed(5000, 2.5));
        Assert.True(_detector.IsOpen(SourceKind.Tick, "p1"));
        var resolved = Assert.Single(Feed(6000, 0));
        Assert.Equal(AlertEventKind.Resolved, resolved.Kind);
        Assert.Equal("tick/p1/1000", resolved.AlertId);
        Assert.Equal(1000, resolved.StartMs);
        Assert.Equal(6000, resolved.EventMs);
        Assert.False(_detector.IsOpen(SourceKind.Tick, "p1"));
    }

    [Fact]
    public void OpenAlert_IsNeverRaisedTwice_AndEscalationIsAnUpdate()
    {
        Feed(0, 0);
        Feed(1000, 4);
        Assert.Single(Feed(3000, 4));
        for (var t = 4000; t < 20_000; t += 1000)
        {
            Assert.Empty(Feed(t, 4));
        }

        var updated = Assert.Single(Feed(20_000, 7));
        Assert.Equal(AlertEventKind.Updated, updated.Kind);
        Assert.Equal(AlertSeverity.Critical, updated.Severity);
        Assert.Equal(7, updated.Observed);
        Assert.Equal(19_000, updated.ForecastMadeAtMs);
        Assert.Empty(Feed(21_000, 7));
        Assert.Equal(1, _events.Count(e => e.Kind == AlertEventKind.Raised));
    }

    [Fact]
    public void Cooldown_BlocksNewRaisesForItsEventTime_ThenANewAlertStarts()
    {
        Feed(0, 0);
        Feed(1000, 4);
        Feed(3000, 4);
        Assert.Equal(AlertEventKind.Resolved, Assert.Single(Feed(4000, 0)).Kind);

        // Cooldown until 14000: a sustained excursion inside it raises nothing.
        for (var t = 5000; t < 14_000; t += 1000)
        {
            Assert.Empty(Feed(t, 4));
        }

        Assert.Empty(Feed(14_000, 4));
        Assert.Empty(Feed(15_000, 4));
        var again = Assert.Single(Feed(16_000, 4));
        Assert.Equal(AlertEventKind.Raised, again.Kind);
        Assert.Equal("tick/p1/14000", again.AlertId);
    }

    [Fact]
    public void Keys_HaveIndependentStateMachines()
    {
        Feed(0, 0, "a");
        Feed(0, 0, "b");
        Feed(1000, 4, "a");
        Feed(1000, 0, "b");
        Assert.Single(Feed(3000, 4, "a"));
        Assert.Empty(Feed(3000, 0, "b"));
        Assert.True(_detector.IsOpen(SourceKind.Tick, "a"));
        Assert.False(_detector.IsOpen(SourceKind.Tick, "b"));
    }

    [Fact]
    public void PerSourceCalibration_ScalesSigmaBeforeScoring()
    {
        var detector = new AnomalyDetector(Options(vitalsSigmaScale: 2.0), _clock);
        foreach (var source in new[] { SourceKind.Tick, SourceKind.Vitals })
        {
            Feed(0, 0, "x", source, detector);
            Feed(1000, 4, "x", source, detector);
            Feed(3000, 4, "x", source, detector);
        }

        // z=4 with sigma doubled is z=2 (surprise 1.3): only the tick key alerts.
        Assert.True(detector.IsOpen(SourceKind.Tick, "x"));
        Assert.False(detector.IsOpen(SourceKind.Vitals, "x"));
    }

    [Fact]
    public void Scores_AreNllTailAndWindowMeanOfSurprise()
    {
        var detector = new AnomalyDetector(Options(window: 3), _clock);
        var zs = new[] { 0.0, 1.0, 2.0, 3.0, 0.5 };
        var surprises = new List<double>();
        var scores = new RowScore[1];
        for (var i = 0; i < zs.Length; i++)
        {
            detector.Process(Batches.Row(SourceKind.Audio, "s", i * 10, zs[i], 0f, 1f), scores, []);
            if (i == 0)
            {
                Assert.False(scores[0].HasScore, "the first row of a key has no earlier forecast");
                continue;
            }

            surprises.Add(GaussianTail.Surprise(GaussianTail.LogTwoSidedP(zs[i])));
            var window = surprises.TakeLast(3).ToList();
            Assert.True(scores[0].HasScore);
            Assert.Equal(window.Sum() / window.Count, scores[0].Score, 12);
            Assert.Equal(GaussianTail.Nll(zs[i], 0, 1), scores[0].Nll, 12);
            Assert.Equal(1 - scores[0].TailP, scores[0].PAnomaly, 15);
        }
    }

    [Fact]
    public void TwoDetectors_GiveIdenticalAlerts_ForTheSameRows()
    {
        var other = new AnomalyDetector(Options(), _clock);
        var a = new List<AlertEvent>();
        var b = new List<AlertEvent>();
        var zs = new[] { 0, 4, 4, 4, 7, 2, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 0 };
        for (var i = 0; i < zs.Length; i++)
        {
            a.AddRange(Feed(i * 1000, zs[i]));
            b.AddRange(Feed(i * 1000, zs[i], detector: other));
        }

        Assert.NotEmpty(a);
        Assert.Equal(a, b);
    }
}
