using System.IO.Compression;
using System.Net;
using System.Text;
using System.Threading.Channels;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Spool;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Influx;

/// <summary>Checks what goes over the wire against an in-test HTTP listener.</summary>
public sealed class InfluxRequestShapeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sink-shape-").FullName;
    private readonly HttpListener _listener = new();
    private readonly Channel<Captured> _requests = Channel.CreateUnbounded<Captured>();
    private readonly Queue<Action<HttpListenerResponse>> _replies = new();
    private readonly Task _serve;

    public InfluxRequestShapeTests()
    {
        Port = RecordingServer.StartOnFreePort(_listener);
        _serve = Task.Run(ServeAsync);
    }

    private int Port { get; }

    private string Url => $"http://127.0.0.1:{Port}";

    private sealed record Captured(string Method, string PathAndQuery, string? Authorization, string? ContentEncoding, string? ContentType, string Body, DateTime At);

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            var req = ctx.Request;
            Stream body = req.InputStream;
            if (req.Headers["Content-Encoding"] == "gzip")
            {
                body = new GZipStream(body, CompressionMode.Decompress);
            }

            var text = await new StreamReader(body, Encoding.UTF8).ReadToEndAsync();
            await _requests.Writer.WriteAsync(new Captured(req.HttpMethod, req.Url!.PathAndQuery, req.Headers["Authorization"], req.Headers["Content-Encoding"], req.ContentType, text, DateTime.UtcNow));
            Action<HttpListenerResponse> reply;
            lock (_replies)
            {
                reply = _replies.Count > 0 ? _replies.Dequeue() : r => r.StatusCode = 204;
            }

            reply(ctx.Response);
            ctx.Response.Close();
        }
    }

    private async Task<Captured> NextAsync(string phase)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            return await _requests.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("timed out waiting for request: " + phase);
            throw;
        }
    }

    private static LineProtocolBuffer ThreeLines(WritePrecision precision)
    {
        var b = new LineProtocolBuffer(precision);
        for (var i = 0; i < 3; i++)
        {
            b.BeginLine("forecast");
            b.Tag("key", "k " + i);
            b.Field("value", i + 0.25);
            b.EndLine(1_700_000_000_000 + i);
        }

        return b;
    }

    private InfluxWriter Writer(InfluxOptions o, TestLogger log) =>
        new(new HttpClient(), o, new SpoolOptions { Directory = Path.Combine(_dir, "spool"), Fsync = false }, Path.Combine(_dir, "dlq"), TimeProvider.System, log);

    [Theory]
    [InlineData(InfluxV2Transport.Client)]
    [InlineData(InfluxV2Transport.Http)]
    public async Task V2_PostsToApiV2Write_WithOrgBucketPrecision_TokenHeader_AndGzippedLineProtocol(InfluxV2Transport transport)
    {
        var ct = TestContext.Current.CancellationToken;
        var log = new TestLogger();
        var options = new InfluxOptions { Url = Url + "/", Org = "my org", Bucket = "b/1", Token = "s3cr3t-token", Precision = WritePrecision.Nanoseconds, Gzip = true, V2Transport = transport };
        Assert.Empty(options.Validate());
        await using (var writer = Writer(options, log))
        {
            using var lines = ThreeLines(WritePrecision.Nanoseconds);
            await writer.WriteAsync(lines, ct);
            await writer.FlushAsync(ct);
            Assert.DoesNotContain("s3cr3t", writer.Endpoint.ToString());
        }

        var r = await NextAsync("v2 write");
        Assert.Equal("POST", r.Method);
        // Same request either way (InfluxDB.Client escapes in lower-case hex, which servers decode alike).
        Assert.Equal("/api/v2/write?org=my%20org&bucket=b%2F1&precision=ns", r.PathAndQuery.Replace("%2f", "%2F", StringComparison.Ordinal));
        Assert.Equal("Token s3cr3t-token", r.Authorization);
        Assert.Equal("gzip", r.ContentEncoding);
        Assert.Equal("text/plain; charset=utf-8", r.ContentType);
        Assert.Equal(
            "forecast,key=k\\ 0 value=0.25 1700000000000000000\nforecast,key=k\\ 1 value=1.25 1700000000001000000\nforecast,key=k\\ 2 value=2.25 1700000000002000000\n",
            r.Body);
        Assert.DoesNotContain(log.Lines, l => l.Contains("s3cr3t"));
        Assert.Contains(log.Lines, l => l.Contains("token=***"));
        Assert.DoesNotContain("s3cr3t", options.ToString());
    }

    [Fact]
    public async Task V1_PutsCredentialsInABasicHeader_NeverInTheQuery()
    {
        var ct = TestContext.Current.CancellationToken;
        var log = new TestLogger();
        var options = new InfluxOptions { Url = Url, Database = "db one", RetentionPolicy = "autogen", Username = "writer", Password = "pa55word", Precision = WritePrecision.Seconds };
        await using (var writer = Writer(options, log))
        {
            using var lines = ThreeLines(WritePrecision.Seconds);
            await writer.WriteAsync(lines, ct);
            await writer.FlushAsync(ct);
        }

        var r = await NextAsync("v1 write");
        Assert.Equal("/write?db=db%20one&rp=autogen&precision=s", r.PathAndQuery);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("writer:pa55word")), r.Authorization);
        Assert.Null(r.ContentEncoding);
        Assert.EndsWith(" 1700000000\n", r.Body);
        Assert.DoesNotContain(log.Lines, l => l.Contains("pa55word"));
        Assert.DoesNotContain("pa55word", options.ToString());
    }

    [Fact]
    public async Task Status503WithRetryAfter_IsRetriedAfterTheServersDelay_NotTheBackoff()
    {
        var ct = TestContext.Current.CancellationToken;
        var log = new TestLogger();
        lock (_replies)
        {
            _replies.Enqueue(r =>
            {
                r.StatusCode = 503;
                r.Headers["Retry-After"] = "1";
            });
            _replies.Enqueue(r => r.StatusCode = 429);
        }

        var options = new InfluxOptions { Url = Url, Database = "d", MaxRetries = 3, RetryBaseDelay = TimeSpan.FromMilliseconds(10) };
        await using var writer = Writer(options, log);
        using var lines = ThreeLines(WritePrecision.Milliseconds);
        await writer.WriteAsync(lines, ct);
        await writer.FlushAsync(ct);

        var first = await NextAsync("first attempt");
        var second = await NextAsync("retry after 503");
        var third = await NextAsync("retry after 429");
        Assert.Equal(first.Body, third.Body);
        Assert.True(second.At - first.At >= TimeSpan.FromMilliseconds(900), $"Retry-After: 1 was not honoured ({(second.At - first.At).TotalMilliseconds} ms)");
        Assert.Contains(log.Lines, l => l.Contains("retry 1 in 1000 ms"));
        Assert.Equal(3, writer.Counters.PointsDelivered);
        Assert.True(writer.Spool.IsEmpty);
    }

    [Fact]
    public async Task Status400_IsNotRetried_TheBatchIsBisectedToTheRejectedLine()
    {
        var ct = TestContext.Current.CancellationToken;
        lock (_replies)
        {
            // Whole batch, then halves: [0] ok, [1,2] rejected, then [1] ok and [2] rejected.
            _replies.Enqueue(r => Reply(r, 400, "{\"error\":\"partial write: unable to parse 'x': bad dropped=1\"}"));
            _replies.Enqueue(r => r.StatusCode = 204);
            _replies.Enqueue(r => Reply(r, 400, "{\"error\":\"unable to parse\"}"));
            _replies.Enqueue(r => r.StatusCode = 204);
            _replies.Enqueue(r => Reply(r, 400, "{\"error\":\"unable to parse line 3\"}"));
        }

        await using var writer = Writer(new InfluxOptions { Url = Url, Database = "d" }, new TestLogger());
        using var lines = ThreeLines(WritePrecision.Milliseconds);
        await writer.WriteAsync(lines, ct);
        await writer.FlushAsync(ct);
        for (var i = 0; i < 5; i++)
        {
            await NextAsync("bisection request " + i);
        }

        Assert.Equal(1, writer.Counters.PointsDeadLettered);
        Assert.Equal(2, writer.Counters.PointsDelivered);
        var dead = Assert.Single(await File.ReadAllLinesAsync(writer.DeadLetters.Path, ct));
        Assert.Contains("unable to parse line 3", dead);
        Assert.Contains("key=k\\\\ 2", dead);
    }

    [Fact]
    public async Task Batches_AreCutByPoints_ByBytes_AndByTime()
    {
        var ct = TestContext.Current.CancellationToken;
        var options = new InfluxOptions { Url = Url, Database = "d", BatchMaxPoints = 10, BatchMaxBytes = 1024, FlushInterval = TimeSpan.FromMilliseconds(100), MaxInFlightRequests = 1 };
        await using var writer = Writer(options, new TestLogger());
        using var lines = new LineProtocolBuffer();
        for (var i = 0; i < 25; i++)
        {
            lines.BeginLine("m");
            lines.Tag("k", "key" + i);
            lines.FieldInteger("i", i);
            lines.EndLine(i);
        }

        // By points: 10 + 10, and the last 5 are sent by the flush timer without any FlushAsync.
        await writer.WriteAsync(lines, ct);
        var bodies = new List<string>();
        for (var r = 0; r < 3; r++)
        {
            bodies.Add((await NextAsync("points/time batch " + r)).Body);
        }

        Assert.Equal([10, 10, 5], bodies.Select(b => b.Count(c => c == '\n')));
        Assert.Equal(string.Concat(bodies), System.Text.Encoding.UTF8.GetString(lines.WrittenSpan));

        // By bytes: 60 lines of ~100 bytes with a 1 KiB limit.
        lines.Clear();
        for (var i = 0; i < 60; i++)
        {
            lines.BeginLine("m");
            lines.Field("s", new string('x', 80));
            lines.EndLine(i);
        }

        await writer.WriteAsync(lines, ct);
        await writer.FlushAsync(ct);
        var total = 0;
        while (total < 60)
        {
            var body = (await NextAsync("bytes batch")).Body;
            Assert.True(System.Text.Encoding.UTF8.GetByteCount(body) <= 1024, $"batch of {body.Length} bytes exceeds BatchMaxBytes");
            Assert.True(body.Count(c => c == '\n') <= 10);
            total += body.Count(c => c == '\n');
        }

        Assert.Equal(60, total);
    }

    private static void Reply(HttpListenerResponse r, int status, string json)
    {
        r.StatusCode = status;
        var bytes = Encoding.UTF8.GetBytes(json);
        r.ContentType = "application/json";
        r.OutputStream.Write(bytes);
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _serve.Wait(TimeSpan.FromSeconds(5));
        Directory.Delete(_dir, recursive: true);
    }
}
