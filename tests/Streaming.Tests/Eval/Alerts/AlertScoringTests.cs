using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Eval.Alerts;

namespace StreamLstm.Streaming.Tests.Eval.Alerts;

/// <summary>Episode-level alert scoring on hand-built cases.</summary>
public class AlertScoringTests
{
    [Fact]
    public void Score_HandBuiltCase_PrecisionRecallDelayAndFalseAlertsPerKeyHour()
    {
        var v = SourceKind.Vitals;
        var episodes = new[]
        {
            new LabelledEpisode(v, "p1", AnomalyKind.Tachycardia, 10_000, 70_000),   // detected: alert starts inside, raised at 25 s
            new LabelledEpisode(v, "p1", AnomalyKind.Desaturation, 200_000, 260_000), // detected within the grace after its end, raised at 275 s
            new LabelledEpisode(v, "p2", AnomalyKind.Tachycardia, 50_000, 90_000),   // missed: p2's only alert starts before it
            new LabelledEpisode(SourceKind.Tick, "p1", AnomalyKind.PriceJump, 10_000, 10_000), // another kind: not counted here
        };
        var alerts = new[]
        {
            new RaisedAlert(v, "p1", 20_000, 25_000),
            new RaisedAlert(v, "p1", 30_000, 35_000),   // a second alert in the same episode: true, the delay stays the first one's
            new RaisedAlert(v, "p1", 265_000, 275_000), // 5 s after the end, grace 10 s
            new RaisedAlert(v, "p1", 400_000, 405_000), // nothing there: false
            new RaisedAlert(v, "p2", 40_000, 45_000),   // before p2's episode: false
            new RaisedAlert(v, "p3", 40_000, 45_000),   // a key without episodes: false
        };

        var q = AlertScoring.Score(v, episodes, alerts, graceMs: 10_000, keyHours: 1.5);

        Assert.Equal(6, q.Alerts);
        Assert.Equal(3, q.TrueAlerts);
        Assert.Equal(0.5, q.Precision, 12);
        Assert.Equal(3, q.Episodes);
        Assert.Equal(2, q.Detected);
        Assert.Equal(2.0 / 3, q.Recall, 12);
        Assert.Equal((15_000 + 75_000) / 2.0, q.MedianDelayMs, 9); // delays 25-10 = 15 s and 275-200 = 75 s
        Assert.Equal(2.0, q.FalseAlertsPerKeyHour, 12);             // 3 false alerts over 1.5 key-hours
        var tachy = Assert.Single(q.Labels, l => l.Label == AnomalyKind.Tachycardia);
        Assert.Equal((2, 1, 15_000.0), (tachy.Episodes, tachy.Detected, tachy.MedianDelayMs));
        var desat = Assert.Single(q.Labels, l => l.Label == AnomalyKind.Desaturation);
        Assert.Equal((1, 1, 75_000.0), (desat.Episodes, desat.Detected, desat.MedianDelayMs));
    }

    [Fact]
    public void Score_AnAlertPastTheGrace_IsFalse_AndNoAlertsGiveNaNPrecision()
    {
        var e = new[] { new LabelledEpisode(SourceKind.Tick, "s", AnomalyKind.PriceJump, 1_000, 1_000) };
        var late = AlertScoring.Score(SourceKind.Tick, e, [new RaisedAlert(SourceKind.Tick, "s", 2_001, 2_001)], graceMs: 1_000, keyHours: 1);
        Assert.Equal((0, 1, 0), (late.TrueAlerts, late.FalseAlerts, late.Detected));
        var none = AlertScoring.Score(SourceKind.Tick, e, [], graceMs: 1_000, keyHours: 1);
        Assert.True(double.IsNaN(none.Precision));
        Assert.Equal(0, none.Recall);
        Assert.True(double.IsNaN(none.MedianDelayMs));
    }

    [Fact]
    public void Tracker_TurnsLabelRunsIntoEpisodes_PerKey_AndMeasuresKeyHours()
    {
        var t = new EpisodeTracker(SourceKind.Vitals, k => "p" + k);
        var labels = new[] { AnomalyKind.None, AnomalyKind.Tachycardia, AnomalyKind.Tachycardia, AnomalyKind.Desaturation, AnomalyKind.None, AnomalyKind.Tachycardia };
        for (var i = 0; i < labels.Length; i++)
        {
            t.Add(new GeneratedEvent(0, i * 1000L, labels[i]));
            t.Add(new GeneratedEvent(1, (i * 1000L) + 500, AnomalyKind.None));
        }

        t.Close();
        Assert.Equal(
            [
                new LabelledEpisode(SourceKind.Vitals, "p0", AnomalyKind.Tachycardia, 1000, 2000),
                new LabelledEpisode(SourceKind.Vitals, "p0", AnomalyKind.Desaturation, 3000, 3000),
                new LabelledEpisode(SourceKind.Vitals, "p0", AnomalyKind.Tachycardia, 5000, 5000),
            ],
            t.Episodes);
        Assert.Equal(10_000 / 3_600_000.0, t.KeyHours, 12);
    }
}
