using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.Spool;
using StreamLstm.Sink.Tests.Influx;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Spool;

/// <summary>Issue 7, deliver 6: the spool is bound to its destination; list, replay and drop.</summary>
public sealed class SpoolDestinationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sink-spooldest-").FullName;
    private readonly RecordingServer _server = new();

    private string Root => Path.Combine(_dir, "spool");

    private string Dlq => Path.Combine(_dir, "dlq");

    private SpoolOptions Spool => new() { Directory = Root, Fsync = false };

    /// <summary>Spools <paramref name="points"/> points for a destination whose server refuses connections.</summary>
    private async Task<InfluxOptions> SpoolForUnreachableAsync(string database, int points)
    {
        var options = new InfluxOptions { Url = $"http://127.0.0.1:{RecordingServer.ClosedPort()}", Database = database, MaxRetries = 0 };
        await using var writer = new InfluxWriter(new HttpClient(), options, Spool, Dlq, TimeProvider.System, NullLogger.Instance);
        using var lines = InfluxWriterReliabilityTests.Lines(points);
        await writer.WriteAsync(lines, TestContext.Current.CancellationToken);
        await writer.FlushAsync(TestContext.Current.CancellationToken);
        Assert.Equal(points, writer.Spool.PendingPoints);
        return options;
    }

    [Fact]
    public async Task SpoolOfAnotherDestination_IsNeverSentHere_ItIsKeptAndReportedAtStartup()
    {
        var ct = TestContext.Current.CancellationToken;
        var other = await SpoolForUnreachableAsync("elsewhere", 190);

        // Segments from a version that did not record destinations, lying in the root.
        using (var legacy = SegmentSpool.Open(new SpoolOptions { Directory = Root, Fsync = false }, Dlq, NullLogger.Instance))
        {
            using var lines = InfluxWriterReliabilityTests.Lines(40);
            legacy.TryAppend(lines.WrittenSpan, 40);
        }

        var log = new TestLogger();
        await using (var writer = new InfluxWriter(new HttpClient(), new InfluxOptions { Url = _server.Url, Database = "here" }, Spool, Dlq, TimeProvider.System, log))
        {
            Assert.True(writer.Spool.IsEmpty);
            using var lines = InfluxWriterReliabilityTests.Lines(5, 1000);
            await writer.WriteAsync(lines, ct);
            await writer.FlushAsync(ct);
        }

        // Only this writer's own 5 points reached the server.
        var write = Assert.Single(_server.Writes);
        Assert.Equal(5, write.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains(log.Lines, l => l.Contains("190 points", StringComparison.Ordinal) && l.Contains("db=elsewhere", StringComparison.Ordinal) && l.Contains("never sent here", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Contains("40 points", StringComparison.Ordinal) && l.Contains("written before spools recorded their destination", StringComparison.Ordinal));

        var entries = SpoolCatalog.List(Root);
        var kept = Assert.Single(entries, e => e.Destination?.Database == "elsewhere");
        Assert.Equal(190, kept.Stats.Points);
        Assert.Equal(other.GetDestination(), kept.Destination);
        Assert.Equal(40, Assert.Single(entries, e => e.Key == SpoolCatalog.UnboundKey).Stats.Points);
    }

    [Fact]
    public async Task List_ShowsDestinationSegmentsPointsBytesAndOldest_PerDestination()
    {
        await SpoolForUnreachableAsync("a", 30);
        await SpoolForUnreachableAsync("b", 70);
        var entries = SpoolCatalog.List(Root);
        Assert.Equal(2, entries.Count);
        foreach (var (db, points) in new[] { ("a", 30L), ("b", 70L) })
        {
            var e = Assert.Single(entries, x => x.Destination!.Database == db);
            Assert.Equal(points, e.Stats.Points);
            Assert.Equal(1, e.Stats.Segments);
            Assert.True(e.Stats.Bytes > points * 20);
            Assert.NotNull(e.Stats.Oldest);
            Assert.StartsWith("v1-127.0.0.1-", e.Key);
            Assert.Equal(e.Key, e.Destination!.Key);
        }
    }

    [Fact]
    public async Task Replay_SendsASpoolToItsOwnDestination_AndEmptiesIt()
    {
        var ct = TestContext.Current.CancellationToken;
        _server.Handler = _ => new Answer(503);
        var options = new InfluxOptions { Url = _server.Url, Database = "own", MaxRetries = 0 };
        await using (var writer = new InfluxWriter(new HttpClient(), options, Spool, Dlq, TimeProvider.System, NullLogger.Instance))
        {
            using var lines = InfluxWriterReliabilityTests.Lines(25);
            await writer.WriteAsync(lines, ct);
            await writer.FlushAsync(ct);
        }

        _server.Handler = _ => new Answer(204);
        var entry = Assert.Single(SpoolCatalog.List(Root));
        var sent = _server.Writes.Count;
        var result = await SpoolReplayer.ReplayAsync(new HttpClient(), Root, entry, SpoolReplayer.OptionsFor(entry.Destination!, new InfluxOptions()), false, Dlq, TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger.Instance, ct);
        Assert.Equal(25, result.PointsBefore);
        Assert.Equal(25, result.PointsDelivered);
        Assert.Equal(0, result.PointsLeft);
        Assert.Contains("/write?db=own", _server.Writes.Skip(sent).Single().PathAndQuery, StringComparison.Ordinal);
        Assert.Equal(0, SpoolCatalog.List(Root).Sum(e => e.Stats.Points));
    }

    [Fact]
    public async Task Replay_ToAnotherDestination_NeedsConfirmation_ThenMovesEveryBatchThere()
    {
        var ct = TestContext.Current.CancellationToken;
        await SpoolForUnreachableAsync("lost", 60);
        var entry = Assert.Single(SpoolCatalog.List(Root));
        var target = new InfluxOptions { Url = _server.Url, Database = "rescue" };

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => SpoolReplayer.ReplayAsync(new HttpClient(), Root, entry, target, false, Dlq, TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger.Instance, ct));
        Assert.Contains("confirmation", refused.Message);
        Assert.Empty(_server.Writes);
        Assert.Equal(60, SpoolCatalog.Find(Root, entry.Key).Stats.Points);

        var result = await SpoolReplayer.ReplayAsync(new HttpClient(), Root, entry, target, true, Dlq, TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger.Instance, ct);
        Assert.Equal(60, result.PointsDelivered);
        Assert.Equal(60, _server.Writes.Sum(w => w.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length));
        Assert.All(_server.Writes, w => Assert.StartsWith("/write?db=rescue", w.PathAndQuery, StringComparison.Ordinal));
        Assert.Equal(0, SpoolCatalog.List(Root).Sum(e => e.Stats.Points));
    }

    [Fact]
    public async Task Drop_DeletesOneDestinationsSegments_RefusesWhileAWriterHoldsIt()
    {
        var ct = TestContext.Current.CancellationToken;
        await SpoolForUnreachableAsync("drop-me", 10);
        var keep = await SpoolForUnreachableAsync("keep-me", 20);
        var dropped = SpoolCatalog.List(Root).Single(e => e.Destination!.Database == "drop-me");

        await using (var holder = new InfluxWriter(new HttpClient(), SpoolReplayer.OptionsFor(dropped.Destination!, new InfluxOptions()), Spool, Dlq, TimeProvider.System, NullLogger.Instance))
        {
            var e = Assert.Throws<IOException>(() => SpoolCatalog.Drop(Root, dropped));
            Assert.Contains("in use", e.Message);
            await holder.FlushAsync(ct);
        }

        Assert.Equal(1, SpoolCatalog.Drop(Root, SpoolCatalog.Find(Root, dropped.Key)));
        var left = Assert.Single(SpoolCatalog.List(Root));
        Assert.Equal(keep.GetDestination(), left.Destination);
        Assert.Equal(20, left.Stats.Points);
        Assert.False(Directory.Exists(dropped.Directory));
    }

    [Fact]
    public void Destination_IgnoresCredentialsAndTrailingSlash_ButSeparatesDatabasesRetentionPoliciesAndBuckets()
    {
        static SpoolDestination D(string url, string? db = null, string? rp = null, string? bucket = null) =>
            new InfluxOptions { Url = url, Database = db, RetentionPolicy = rp, Bucket = bucket, Org = bucket is null ? null : "o", Token = "t" }.GetDestination();

        Assert.Equal(D("http://u:p@Host:8086/", "x").Key, D("http://host:8086", "x").Key);
        Assert.DoesNotContain("p@", D("http://u:p@host:8086", "x").Url, StringComparison.Ordinal);
        Assert.NotEqual(D("http://host:8086", "x").Key, D("http://host:8086", "y").Key);
        Assert.NotEqual(D("http://host:8086", "x").Key, D("http://host:8086", "x", "rp1").Key);
        Assert.NotEqual(D("http://host:8086", "x").Key, D("http://other:8086", "x").Key);
        Assert.NotEqual(D("http://host:8086", "x").Key, D("http://host:8086", bucket: "x").Key);
    }

    public void Dispose()
    {
        _server.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
