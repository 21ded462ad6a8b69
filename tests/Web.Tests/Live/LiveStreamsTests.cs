using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;
using StreamLstm.Streaming.Web.Live;

namespace StreamLstm.Web.Tests.Live;

/// <summary>The dashboard's Rx compositions on virtual time (System.Reactive's <see cref="HistoricalScheduler"/>).</summary>
public sealed class LiveStreamsTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Per_key_sampling_sends_at_most_one_point_per_period_and_the_latest_of_each()
    {
        var scheduler = new HistoricalScheduler(T0);
        var points = new Subject<KeyPoint>();
        var seen = new List<KeyPoint>();
        using var _ = LiveStreams.SamplePerKey(points, TimeSpan.FromMilliseconds(100), scheduler).Subscribe(seen.Add);
        // A 100 events/s key for one virtual second.
        for (var i = 0; i < 100; i++)
        {
            scheduler.AdvanceBy(TimeSpan.FromMilliseconds(10));
            points.OnNext(Point(i));
        }

        scheduler.AdvanceBy(TimeSpan.FromMilliseconds(100));
        Assert.InRange(seen.Count, 10, 11);
        // Each sent point is the last that arrived in its period, so the final one is always the newest.
        Assert.Equal(99, seen[^1].TimestampMs);
        Assert.All(seen.Zip(seen.Skip(1)), p => Assert.True(p.Second.TimestampMs > p.First.TimestampMs));
    }

    [Fact]
    public void Quiet_key_points_all_pass()
    {
        var scheduler = new HistoricalScheduler(T0);
        var points = new Subject<KeyPoint>();
        var seen = new List<KeyPoint>();
        using var _ = LiveStreams.SamplePerKey(points, TimeSpan.FromMilliseconds(100), scheduler).Subscribe(seen.Add);
        for (var i = 0; i < 5; i++)
        {
            points.OnNext(Point(i));
            scheduler.AdvanceBy(TimeSpan.FromSeconds(1));
        }

        Assert.Equal([0L, 1, 2, 3, 4], seen.Select(p => p.TimestampMs));
    }

    [Fact]
    public void Alerts_are_batched_per_window_without_empty_batches()
    {
        var scheduler = new HistoricalScheduler(T0);
        var alerts = new Subject<AlertEvent>();
        var batches = new List<IList<AlertEvent>>();
        using var _ = LiveStreams.Batched(alerts, TimeSpan.FromMilliseconds(250), 100, scheduler).Subscribe(batches.Add);
        scheduler.ScheduleAbsolute(T0.AddMilliseconds(10), () => alerts.OnNext(Alert("a")));
        scheduler.ScheduleAbsolute(T0.AddMilliseconds(20), () => alerts.OnNext(Alert("b")));
        scheduler.ScheduleAbsolute(T0.AddMilliseconds(30), () => alerts.OnNext(Alert("c")));
        scheduler.ScheduleAbsolute(T0.AddMilliseconds(1600), () => alerts.OnNext(Alert("d")));
        scheduler.AdvanceTo(T0.AddSeconds(3));
        Assert.Equal(2, batches.Count);
        Assert.Equal(["a", "b", "c"], batches[0].Select(a => a.Key));
        Assert.Equal(["d"], batches[1].Select(a => a.Key));
    }

    [Fact]
    public void Alert_storm_is_cut_into_batches_of_at_most_the_limit()
    {
        var scheduler = new HistoricalScheduler(T0);
        var alerts = new Subject<AlertEvent>();
        var batches = new List<IList<AlertEvent>>();
        using var _ = LiveStreams.Batched(alerts, TimeSpan.FromMilliseconds(250), 100, scheduler).Subscribe(batches.Add);
        for (var i = 0; i < 250; i++) alerts.OnNext(Alert("k" + i));
        scheduler.AdvanceBy(TimeSpan.FromSeconds(1));
        Assert.Equal([100, 100, 50], batches.Select(b => b.Count));
    }

    internal static KeyPoint Point(long ts) => new(SourceKind.Tick, "K", ts, 1, [1f], [0.1f], 0, 0, "m");

    internal static AlertEvent Alert(string key, AlertEventKind kind = AlertEventKind.Raised, long start = 0) => new()
    {
        AlertId = $"tick/{key}/{start}",
        Kind = kind,
        Severity = AlertSeverity.Warning,
        Source = SourceKind.Tick,
        Key = key,
        Model = "m",
        StartMs = start,
        EventMs = start,
        PeakScore = 4,
        Score = 4,
        Observed = 1,
        ForecastMu = 0,
        ForecastSigma = 0.1,
        ForecastMadeAtMs = start,
        EmittedAt = T0,
    };
}
