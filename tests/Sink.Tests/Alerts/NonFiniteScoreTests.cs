using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Alerts;

/// <summary>Issue 7, item 8: a NaN forecast never becomes a NaN score or alert, and AlertJson copes with non-finite numbers.</summary>
public class NonFiniteScoreTests
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    private static AnomalyOptions Options() => new()
    {
        Window = 1,
        WarmupEvents = 0,
        Default = new SourceCalibration { EnterThreshold = 3, ExitThreshold = 1.5, CriticalThreshold = 6, MinDuration = TimeSpan.FromSeconds(2), Cooldown = TimeSpan.FromSeconds(10) },
    };

    [Fact]
    public void NaNForecast_IsNotScored_IsCounted_AndNeverRaisesAnAlert()
    {
        var detector = new AnomalyDetector(Options(), _clock);
        var scores = new RowScore[1];
        var alerts = new List<AlertEvent>();
        void Feed(long t, double observed, float mu)
        {
            alerts.Clear();
            detector.Process(Batches.Row(SourceKind.Vitals, "p1", t, observed, mu, 1f), scores, alerts);
        }

        Feed(0, 0, 0f);
        Feed(1000, 4, 0f);
        Assert.True(scores[0].HasScore);
        Assert.Empty(alerts);

        // This row's own forecast is NaN (a diverged model): the next row has nothing finite to be scored against.
        Feed(2000, 4, float.NaN);
        Assert.Empty(alerts);
        Feed(3000, 0, 0f);
        Assert.False(scores[0].HasScore);
        Assert.Empty(alerts);
        Assert.Equal(1, detector.NonFiniteRows);

        // Real scores carry on where they were: the alert that opens has a finite score.
        Feed(4000, 4, 0f);
        var raised = Assert.Single(alerts);
        Assert.Equal(AlertEventKind.Raised, raised.Kind);
        Assert.True(double.IsFinite(raised.Score) && double.IsFinite(raised.PeakScore));
    }

    [Fact]
    public void AlertJson_WritesNonFiniteNumbersAsNull_InsteadOfThrowing()
    {
        var alert = new AlertEvent
        {
            AlertId = "vitals/p1/1000",
            Kind = AlertEventKind.Raised,
            Severity = AlertSeverity.Warning,
            Source = SourceKind.Vitals,
            Key = "p1",
            Model = "m",
            StartMs = 1000,
            EventMs = 3000,
            PeakScore = double.PositiveInfinity,
            Score = double.NaN,
            Observed = 4,
            ForecastMu = double.NaN,
            ForecastSigma = 1,
            ForecastMadeAtMs = 2000,
            EmittedAt = _clock.GetUtcNow(),
        };
        using var doc = JsonDocument.Parse(AlertJson.Serialize(alert));
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("score").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("peak_score").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("violated_forecast").GetProperty("mu").ValueKind);
        Assert.Equal(4, doc.RootElement.GetProperty("violated_forecast").GetProperty("observed").GetDouble());
    }
}
