using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Streaming.Web.Live;

namespace StreamLstm.Web.Tests.Live;

public sealed class LiveFeedTests
{
    [Fact]
    public void Keys_are_searchable_prefix_first_with_their_latest_score()
    {
        var feed = new LiveFeed(new AlertLog());
        feed.OnScored(Batch("AAPL", "XAAP", "MSFT"), [Score(1), Score(2), Score(3)], []);
        var found = feed.Search(SourceKind.Tick, "aap", 10, out var total);
        Assert.Equal(2, total);
        Assert.Equal(["AAPL", "XAAP"], found.Select(k => k.Key));
        Assert.Equal(1, found[0].Score);
        Assert.Equal(3, feed.Search(SourceKind.Tick, "", 10, out _).Count);
        Assert.Empty(feed.Search(SourceKind.Vitals, "", 10, out _));
    }

    [Fact]
    public void Only_watched_keys_are_copied_and_only_while_watched()
    {
        var feed = new LiveFeed(new AlertLog());
        feed.OnScored(Batch("A", "B"), [Score(1), Score(1)], []);
        Assert.Null(feed.Points(SourceKind.Tick, "never-seen"));
        var seen = new List<KeyPoint>();
        var watch = feed.Points(SourceKind.Tick, "A")!.Subscribe(seen.Add);
        Assert.Equal(1, feed.Watches);
        feed.OnScored(Batch("A", "B"), [Score(5), Score(1)], []);
        var point = Assert.Single(seen);
        Assert.Equal("A", point.Key);
        Assert.Equal(5, point.Score);
        Assert.Equal([10f, 11f], point.Mu);
        watch.Dispose();
        Assert.Equal(0, feed.Watches);
        feed.OnScored(Batch("A"), [Score(1)], []);
        Assert.Single(seen);
    }

    [Fact]
    public void Alerts_go_to_the_log_which_tracks_open_ones_and_counts_by_state()
    {
        var log = new AlertLog();
        var feed = new LiveFeed(log);
        var published = new List<AlertEvent>();
        using var _ = log.Events.Subscribe(published.Add);
        feed.OnScored(Batch("A"), [Score(9)], [LiveStreamsTests.Alert("A", AlertEventKind.Raised, 5)]);
        Assert.True(log.IsOpen(SourceKind.Tick, "A"));
        Assert.True(feed.Find(SourceKind.Tick, "A")!.AlertOpen);
        feed.OnScored(Batch("A"), [Score(0)], [LiveStreamsTests.Alert("A", AlertEventKind.Resolved, 5)]);
        Assert.False(log.IsOpen(SourceKind.Tick, "A"));
        Assert.Equal(1, log.Count(AlertEventKind.Raised));
        Assert.Equal(1, log.Count(AlertEventKind.Resolved));
        Assert.Equal(2, published.Count);
        Assert.Equal(2, log.Recent(SourceKind.Tick, "A").Count);
    }

    private static RowScore Score(double s) => new() { HasScore = true, Score = s, PAnomaly = 0.5 };

    private static ForecastBatch Batch(params string[] keys)
    {
        var b = new ForecastBatch(SourceKind.Tick, 2, 8) { ModelVersion = "m1", Count = keys.Length };
        for (var r = 0; r < keys.Length; r++)
        {
            b.Keys[r] = keys[r];
            b.TimestampsMs[r] = 1000 + r;
            b.Observed[r] = 10;
            b.Mu[r * 2] = 10;
            b.Mu[r * 2 + 1] = 11;
            b.Sigma[r * 2] = 1;
            b.Sigma[r * 2 + 1] = 2;
        }

        return b;
    }
}
