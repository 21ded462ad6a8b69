using Microsoft.Extensions.Time.Testing;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Anomaly;

namespace StreamLstm.Sink.Tests.Anomaly;

/// <summary>A slot's scoring state exported and imported into another slab (a restart, a hibernated key) resumes exactly.</summary>
public class ScoringSlabTests
{
    private static readonly AnomalyOptions Options = new()
    {
        Window = 4,
        WarmupEvents = 3,
        Default = new SourceCalibration { EnterThreshold = 2, ExitThreshold = 1, CriticalThreshold = 5, MinDuration = TimeSpan.FromSeconds(2), Cooldown = TimeSpan.FromSeconds(5) },
    };

    private static (double Observed, double Mu, double Sigma) Row(int i) => (Math.Sin(i * 0.7) * (i % 17 < 6 ? 9 : 1), Math.Cos(i * 0.3), 0.5 + ((i % 5) * 0.2));

    [Fact]
    public void ExportThenImportMidStream_GivesTheSameScoresAndAlertsAsAnUnbrokenRun()
    {
        var clock = new FakeTimeProvider();
        var whole = new ScoringSlab(SourceKind.Vitals, Options, clock, 4);
        var expectedScores = new List<RowScore>();
        var expectedAlerts = new List<AlertEvent>();
        for (var i = 0; i < 200; i++)
        {
            var (o, m, s) = Row(i);
            expectedScores.Add(whole.Score(2, "bed", 1000L * i, o, m, s, "v1", expectedAlerts));
        }

        Assert.Contains(expectedAlerts, a => a.Kind == AlertEventKind.Raised);
        Assert.Contains(expectedAlerts, a => a.Kind == AlertEventKind.Resolved);

        var gotScores = new List<RowScore>();
        var gotAlerts = new List<AlertEvent>();
        var slab = new ScoringSlab(SourceKind.Vitals, Options, clock, 4);
        var slot = 1;
        var saved = new byte[slab.StateBytes];
        for (var i = 0; i < 200; i++)
        {
            if (i % 23 == 22)
            {
                // Hibernate: export, forget, restore into a different slot of a fresh slab.
                slab.Export(slot, saved);
                slab = new ScoringSlab(SourceKind.Vitals, Options, clock, 8);
                slot = (slot + 3) % 8;
                Assert.True(slab.TryImport(slot, saved));
            }

            var (o, m, s) = Row(i);
            gotScores.Add(slab.Score(slot, "bed", 1000L * i, o, m, s, "v1", gotAlerts));
        }

        Assert.Equal(expectedScores, gotScores);
        Assert.Equal(expectedAlerts.Select(a => (a.AlertId, a.Kind, a.EventMs, a.Severity, a.PeakScore)), gotAlerts.Select(a => (a.AlertId, a.Kind, a.EventMs, a.Severity, a.PeakScore)));
    }

    [Fact]
    public void ImportOfEmptyOrForeignState_StartsTheKeyFresh()
    {
        var slab = new ScoringSlab(SourceKind.Tick, Options, TimeProvider.System, 2);
        var alerts = new List<AlertEvent>();
        slab.Score(0, "k", 1, 1, 0, 1, "v", alerts);
        var state = new byte[slab.StateBytes];
        slab.Export(0, state);

        Assert.False(slab.TryImport(1, []), "a record without scoring state (format 1)");
        Assert.False(slab.Score(1, "k", 2, 1, 0, 1, "v", alerts).HasScore);

        var otherWindow = new ScoringSlab(SourceKind.Tick, new AnomalyOptions { Window = 7 }, TimeProvider.System, 2);
        Assert.False(otherWindow.TryImport(0, state), "another smoothing window");
        Assert.True(slab.TryImport(1, state));
        Assert.True(slab.Score(1, "k", 2, 1, 0, 1, "v", alerts).HasScore);
    }

    [Fact]
    public void AWatchedFeaturesSurprise_RaisesAnAlertThatTheForecastAloneDoesNot()
    {
        var clock = new FakeTimeProvider();
        var plain = new ScoringSlab(SourceKind.Vitals, Options, clock, 1);
        var watched = new ScoringSlab(SourceKind.Vitals, Options, clock, 1);
        var plainAlerts = new List<AlertEvent>();
        var watchedAlerts = new List<AlertEvent>();
        for (var i = 0; i < 40; i++)
        {
            // The forecast is always right (surprise 0); from row 20 a watched feature is far off (surprise 4 > enter 2).
            var feature = i >= 20 ? 4.0 : 0.0;
            var a = plain.Score(0, "bed", 1000L * i, 1.0, 1.0, 1.0, "v1", plainAlerts);
            var b = watched.Score(0, "bed", 1000L * i, 1.0, 1.0, 1.0, "v1", watchedAlerts, feature);
            // The forecast's own figures are the same either way; only the smoothed score takes the feature's surprise.
            Assert.Equal((a.Nll, a.TailP), (b.Nll, b.TailP));
        }

        Assert.Empty(plainAlerts);
        var raised = Assert.Single(watchedAlerts, e => e.Kind == AlertEventKind.Raised);
        Assert.True(raised.EventMs >= 20_000, $"raised at {raised.EventMs}");
    }
}
