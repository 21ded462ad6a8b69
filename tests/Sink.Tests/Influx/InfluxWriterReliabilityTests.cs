using Microsoft.Extensions.Time.Testing;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Spool;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Influx;

/// <summary>Issue 7, items 6, 7 and 9: the sender never wedges, a corrupt spool never spins, bad answers are bounded.</summary>
public sealed class InfluxWriterReliabilityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sink-reliability-").FullName;
    private readonly RecordingServer _server = new();

    private SpoolOptions Spool => new() { Directory = Path.Combine(_dir, "spool"), Fsync = false, SegmentBytes = 4096 };

    private string Dlq => Path.Combine(_dir, "dlq");

    internal static LineProtocolBuffer Lines(int n, int first = 0)
    {
        var b = new LineProtocolBuffer();
        for (var i = first; i < first + n; i++)
        {
            b.BeginLine("m");
            b.Tag("k", "key" + i);
            b.FieldInteger("i", i);
            b.EndLine(1_700_000_000_000 + i);
        }

        return b;
    }

    [Fact]
    public async Task SenderLoopFault_FaultsTheWriter_FlushAndWritesThrow_TheFaultIsLogged_NothingHangs()
    {
        var ct = TestContext.Current.CancellationToken;
        var log = new TestLogger();

        // An exception no transport should ever raise: the sender loop cannot classify it and must stop cleanly.
        using var http = new HttpClient(new ThrowingHandler());
        var writer = new InfluxWriter(http, new InfluxOptions { Url = "http://127.0.0.1:9", Database = "d", BatchMaxPoints = 10, MaxQueuedBatches = 1 }, Spool, Dlq, TimeProvider.System, log);
        using var lines = Lines(10);
        await writer.WriteAsync(lines, ct);
        var flush = writer.FlushAsync(ct).AsTask();
        await Wait.UntilAsync(() => flush.IsCompleted, TimeSpan.FromSeconds(30), "FlushAsync completes (faulted) instead of hanging");
        var e = await Assert.ThrowsAsync<InfluxSinkFaultedException>(() => flush);
        Assert.IsType<InvalidOperationException>(e.InnerException);

        // Writers that come later are refused at once, even when the queue would block them.
        for (var i = 0; i < 5; i++)
        {
            var write = writer.WriteAsync(lines, ct).AsTask();
            await Wait.UntilAsync(() => write.IsCompleted, TimeSpan.FromSeconds(10), $"write {i} after the fault completes");
            await Assert.ThrowsAsync<InfluxSinkFaultedException>(() => write);
        }

        Assert.True(writer.Counters.Faulted);
        Assert.Contains("handler exploded", writer.Counters.Fault);
        Assert.Contains(log.Lines, l => l.StartsWith("Critical: InfluxDB sender loop", StringComparison.Ordinal));
        Assert.False(await writer.PingAsync(ct));

        // Dispose completes, and the batch the sender held is spooled for the next start.
        await Wait.ForAsync(writer.DisposeAsync().AsTask(), TimeSpan.FromSeconds(30), "dispose of a faulted writer");
        var nextLog = new TestLogger();
        await using var next = new InfluxWriter(new HttpClient(), new InfluxOptions { Url = "http://127.0.0.1:9", Database = "d" }, Spool, Dlq, TimeProvider.System, nextLog);
        Assert.Equal(10, next.Spool.PendingPoints);
    }

    [Fact]
    public async Task ChecksumErrorDuringReplay_QuarantinesTheSegment_FixesTheCounters_AndTheWriterDrainsInsteadOfSpinning()
    {
        var ct = TestContext.Current.CancellationToken;
        _server.Handler = _ => new Answer(503);
        var options = new InfluxOptions { Url = _server.Url, Database = "d", BatchMaxPoints = 20, MaxRetries = 0, ReplayProbeInterval = TimeSpan.FromMilliseconds(50) };
        var first = new InfluxWriter(new HttpClient(), options, Spool, Dlq, TimeProvider.System, new TestLogger());
        for (var i = 0; i < 400; i += 20)
        {
            using var lines = Lines(20, i);
            await first.WriteAsync(lines, ct);
            await first.FlushAsync(ct);
        }

        Assert.Equal(400, first.Spool.PendingPoints);
        var spoolDir = first.Spool.Directory;
        await first.KillAsync();
        var segments = Directory.GetFiles(spoolDir, "seg-*.spool").Order(StringComparer.Ordinal).ToArray();
        Assert.True(segments.Length >= 3, "the test needs several segments");

        // The next writer verifies the files at open; the disk then changes underneath (a flipped byte in the second segment).
        var second = new InfluxWriter(new HttpClient(), options, Spool, Dlq, TimeProvider.System, new TestLogger());
        await using var _ = second;
        Assert.Equal(400, second.Spool.PendingPoints);
        var victim = segments[1];
        var victimPoints = SegmentSpool.Inspect(spoolDir).Points - PointsWithout(spoolDir, victim);
        await using (var fs = new FileStream(victim, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete))
        {
            fs.Position = 8 + SegmentSpool.HeaderBytes + 3;
            var b = fs.ReadByte();
            fs.Position--;
            fs.WriteByte((byte)(b ^ 0x55));
        }

        _server.Handler = _ => new Answer(204);
        await Wait.ForAsync(second.WaitForSpoolDrainedAsync(ct), TimeSpan.FromSeconds(30), "the spool drains past the corrupt segment");

        var corruption = Assert.Single(second.Spool.Corruptions);
        Assert.Equal(Path.GetFileName(victim), corruption.Segment);
        Assert.Equal(victimPoints, corruption.LostPoints);
        Assert.True(File.Exists(corruption.QuarantinePath), "the unreadable bytes are kept aside");
        Assert.Equal(400 - victimPoints, second.Counters.PointsDelivered);
        Assert.Equal(victimPoints, second.Counters.PointsQuarantined);
        Assert.Equal(0, second.Spool.PendingRecords);
        Assert.Equal(0, second.Counters.SpoolPoints);

        // Back in live mode: a new batch goes straight out.
        var before = _server.Writes.Count;
        using (var lines = Lines(5, 1000))
        {
            await second.WriteAsync(lines, ct);
            await second.FlushAsync(ct);
        }

        Assert.Equal(before + 1, _server.Writes.Count);
    }

    [Fact]
    public async Task Unauthorized_StopsSending_KeepsTheDataSpooled_ReportsOnce_AndBacksOffLong()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(55));
        var log = new TestLogger();
        _server.Handler = _ => new Answer(401, "{\"error\":\"authorization failed\"}");
        var options = new InfluxOptions
        {
            Url = _server.Url,
            Database = "d",
            ReplayProbeInterval = TimeSpan.FromSeconds(1),
            ConfigurationErrorBackoff = TimeSpan.FromSeconds(30),
            ConfigurationErrorMaxBackoff = TimeSpan.FromMinutes(2),
        };
        await using var writer = new InfluxWriter(new HttpClient(), options, Spool, Dlq, time, log);
        using var lines = Lines(7);
        await writer.WriteAsync(lines, ct);
        await writer.FlushAsync(ct);

        Assert.Single(_server.Writes);
        Assert.Equal(7, writer.Spool.PendingPoints);
        Assert.Equal(401, writer.Counters.ConfigurationErrorStatus);
        Assert.Equal("authorization failed", writer.Counters.ConfigurationError);
        await Wait.UntilAsync(() => writer.NextReplayAttemptIn > TimeSpan.Zero, TimeSpan.FromSeconds(10), "the next attempt is scheduled");
        Assert.True(writer.NextReplayAttemptIn > TimeSpan.FromSeconds(25), $"a 401 is retried after the long backoff, not the 1 s probe ({writer.NextReplayAttemptIn})");

        // Each further 401 doubles the pause, up to the cap; still one error log in all.
        for (var attempt = 2; attempt <= 4; attempt++)
        {
            time.Advance(TimeSpan.FromMinutes(2));
            await Wait.UntilAsync(() => _server.Writes.Count == attempt, TimeSpan.FromSeconds(10), $"replay attempt {attempt} after the backoff");
            var expected = TimeSpan.FromSeconds(Math.Min(30 << (attempt - 1), 120));
            await Wait.UntilAsync(() => writer.NextReplayAttemptIn > expected - TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), $"backoff after attempt {attempt} is {expected}");
            Assert.True(writer.NextReplayAttemptIn <= expected);
        }

        Assert.Single(log.Lines, l => l.StartsWith("Error: InfluxDB refused the write with HTTP 401", StringComparison.Ordinal));
        Assert.Equal(7, writer.Spool.PendingPoints);

        // Credentials fixed: the next attempt delivers, the flag clears and the spool drains.
        _server.Handler = _ => new Answer(204);
        time.Advance(TimeSpan.FromMinutes(2));
        await Wait.UntilAsync(() => writer.Spool.IsEmpty, TimeSpan.FromSeconds(10), "spool drained once InfluxDB accepts the credentials");
        Assert.Equal(0, writer.Counters.ConfigurationErrorStatus);
        Assert.Null(writer.Counters.ConfigurationError);
        Assert.Equal(7, writer.Counters.PointsDelivered);
        Assert.Contains(log.Lines, l => l.Contains("accepts writes again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BisectionOfARejectedBatch_StopsAtMaxBisectRequests_AndDeadLettersTheRestLineByLine()
    {
        var ct = TestContext.Current.CancellationToken;
        _server.Handler = _ => new Answer(400, "{\"error\":\"unable to parse\"}");
        await using var writer = new InfluxWriter(new HttpClient(), new InfluxOptions { Url = _server.Url, Database = "d", MaxBisectRequests = 8 }, Spool, Dlq, TimeProvider.System, new TestLogger());
        using var lines = Lines(64);
        await writer.WriteAsync(lines, ct);
        await writer.FlushAsync(ct);

        // Unbounded, 64 bad lines cost 1 + 126 requests; the cap allows 1 + 8.
        Assert.Equal(9, _server.Writes.Count);
        Assert.Equal(64, writer.Counters.PointsDeadLettered);
        var dead = await File.ReadAllLinesAsync(writer.DeadLetters.Path, ct);
        Assert.Equal(64, dead.Length);
        Assert.Contains(dead, d => d.Contains("bisection stopped after 8 requests", StringComparison.Ordinal));
        Assert.True(writer.Spool.IsEmpty);
    }

    [Fact]
    public async Task ABatchWhoseRetriesOutlastItsTimeBudget_IsSpooled_AndTheFlushReturns()
    {
        var ct = TestContext.Current.CancellationToken;

        // 503 with Retry-After: 30 on every attempt: three retries would hold the batch for 90 s.
        _server.Handler = _ => new Answer(503, RetryAfterSeconds: 30);
        var options = new InfluxOptions { Url = _server.Url, Database = "d", MaxRetries = 3, MaxRetryAfter = TimeSpan.FromSeconds(30), BatchTimeout = TimeSpan.FromSeconds(1), BreakerMinimumThroughput = 100 };
        var log = new TestLogger();
        await using var writer = new InfluxWriter(new HttpClient(), options, Spool, Dlq, TimeProvider.System, log);
        using var lines = Lines(12);
        await writer.WriteAsync(lines, ct);
        await Wait.ForAsync(writer.FlushAsync(ct).AsTask(), TimeSpan.FromSeconds(20), "flush returns once the batch's 1 s budget is spent");
        Assert.Equal(12, writer.Spool.PendingPoints);
        Assert.Single(_server.Writes);
        Assert.Contains(log.Lines, l => l.Contains("did not complete within its 1 s budget", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PingAsync_SaysWhetherTheServerAnswers()
    {
        var ct = TestContext.Current.CancellationToken;
        await using (var up = new InfluxWriter(new HttpClient(), new InfluxOptions { Url = _server.Url, Database = "d" }, Spool, Dlq, TimeProvider.System, new TestLogger()))
        {
            Assert.True(await up.PingAsync(ct));
        }

        Assert.Contains(_server.Requests, r => r.Method == "GET" && r.Path == "/ping");
        await using var down = new InfluxWriter(new HttpClient(), new InfluxOptions { Url = $"http://127.0.0.1:{RecordingServer.ClosedPort()}", Bucket = "b", Org = "o", Token = "t", RequestTimeout = TimeSpan.FromSeconds(2) }, Spool, Dlq, TimeProvider.System, new TestLogger());
        Assert.Equal("v2 InfluxDB.Client", down.TransportName);
        Assert.False(await down.PingAsync(ct));
    }

    private static long PointsWithout(string dir, string excluded)
    {
        var copy = Directory.CreateTempSubdirectory("spool-inspect-").FullName;
        try
        {
            foreach (var f in Directory.GetFiles(dir, "seg-*.spool").Where(f => f != excluded))
            {
                File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
            }

            return SegmentSpool.Inspect(copy).Points;
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    public void Dispose()
    {
        _server.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private sealed class ThrowingHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("handler exploded");
    }
}
