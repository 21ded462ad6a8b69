using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Hosting;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Outputs;
using StreamLstm.Sink.Spool;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Influx;

/// <summary>Issue 7, item 10: credentials in the URL never leak; data files are owner-only.</summary>
public sealed class SecretsAndFileModeTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PrivateDir = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly string _dir = Directory.CreateTempSubdirectory("sink-secrets-").FullName;
    private readonly RecordingServer _server = new();

    [Fact]
    public async Task CredentialsInTheUrl_TravelInABasicHeader_AndAppearInNoLogMessageOrString()
    {
        var ct = TestContext.Current.CancellationToken;
        var log = new TestLogger();
        var url = $"http://writer:s3cr%40t-pw@127.0.0.1:{_server.Port}/";
        var options = new InfluxOptions { Url = url, Database = "db" };
        Assert.Empty(options.Validate());
        await using (var writer = new InfluxWriter(new HttpClient(), options, new SpoolOptions { Directory = Path.Combine(_dir, "spool") }, Path.Combine(_dir, "dlq"), TimeProvider.System, log))
        {
            using var lines = InfluxWriterReliabilityTests.Lines(3);
            await writer.WriteAsync(lines, ct);
            await writer.FlushAsync(ct);
            Assert.DoesNotContain("s3cr", writer.Endpoint.ToString());
            Assert.DoesNotContain("s3cr", writer.Destination.ToString());
            Assert.DoesNotContain("writer", writer.Destination.Url);
        }

        var write = Assert.Single(_server.Writes);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("writer:s3cr@t-pw")), write.Authorization);
        Assert.Equal("/write?db=db&precision=ms", write.PathAndQuery);
        Assert.NotEmpty(log.Lines);
        Assert.DoesNotContain(log.Lines, l => l.Contains("s3cr", StringComparison.Ordinal));
        Assert.DoesNotContain("s3cr", options.ToString());

        // Unreachable server: the exception text and the warning name the host, never the password.
        log.Lines.Clear();
        var down = new InfluxOptions { Url = $"http://writer:s3cr%40t-pw@127.0.0.1:{RecordingServer.ClosedPort()}", Database = "db", MaxRetries = 0 };
        await using (var writer = new InfluxWriter(new HttpClient(), down, new SpoolOptions { Directory = Path.Combine(_dir, "spool") }, Path.Combine(_dir, "dlq"), TimeProvider.System, log))
        {
            using var lines = InfluxWriterReliabilityTests.Lines(3);
            await writer.WriteAsync(lines, ct);
            await writer.FlushAsync(ct);
            Assert.Equal(3, writer.Spool.PendingPoints);
        }

        Assert.Contains(log.Lines, l => l.Contains("unavailable", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Lines, l => l.Contains("s3cr", StringComparison.Ordinal));

        // A URL that does not parse is not echoed with its credentials either.
        var bad = new InfluxOptions { Url = "http//u:hunter2@host", Database = "db" };
        Assert.DoesNotContain(bad.Validate(), p => p.Contains("hunter2", StringComparison.Ordinal));
        Assert.Contains(bad.Validate(), p => p.Contains("not an absolute http(s) URL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ThroughDependencyInjection_UrlCredentialsMoveIntoUsernameAndPassword_BeforeAnythingReadsTheUrl()
    {
        var services = new ServiceCollection().AddSingleton<ILoggerFactory>(new TestLogger()).AddStreamLstmSink(o =>
        {
            o.Influx.Url = $"http://admin:pa55@127.0.0.1:{_server.Port}";
            o.Influx.Database = "db";
            o.Spool.Directory = Path.Combine(_dir, "spool");
            o.DeadLetterDirectory = Path.Combine(_dir, "dlq");
        });
        await using var sp = services.BuildServiceProvider();
        var o = sp.GetRequiredService<IOptions<SinkOptions>>().Value;
        Assert.Equal($"http://127.0.0.1:{_server.Port}/", o.Influx.Url);
        Assert.Equal("admin", o.Influx.Username);
        Assert.Equal("pa55", o.Influx.Password);
        Assert.DoesNotContain("pa55", o.ToString());
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task SpoolDeadLetterAndLineProtocolFiles_AreCreated0600_InDirectories0700()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes");
        var ct = TestContext.Current.CancellationToken;
        var spoolRoot = Path.Combine(_dir, "artifacts", "spool");
        var dlq = Path.Combine(_dir, "artifacts", "dlq");

        // An older, world-readable dead-letter directory is tightened too.
        Directory.CreateDirectory(dlq);
        File.SetUnixFileMode(dlq, PrivateDir | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        _server.Handler = r => r.Body.Contains("key1 ", StringComparison.Ordinal) ? new Answer(400, "{\"error\":\"bad\"}") : new Answer(503);
        var options = new InfluxOptions { Url = _server.Url, Database = "db", MaxRetries = 0 };
        string spoolDir;
        await using (var writer = new InfluxWriter(new HttpClient(), options, new SpoolOptions { Directory = spoolRoot, Fsync = false }, dlq, TimeProvider.System, new TestLogger()))
        {
            using var lines = InfluxWriterReliabilityTests.Lines(1, 1);
            await writer.WriteAsync(lines, ct);
            await writer.FlushAsync(ct);
            Assert.Equal(1, writer.Counters.PointsDeadLettered);
            using var more = InfluxWriterReliabilityTests.Lines(2, 5);
            await writer.WriteAsync(more, ct);
            await writer.FlushAsync(ct);
            Assert.Equal(2, writer.Spool.PendingPoints);
            spoolDir = writer.Spool.Directory;
        }

        // A torn tail found at the next open is quarantined into the dead-letter directory.
        var segment = Directory.GetFiles(spoolDir, "seg-*.spool").Single();
        await File.AppendAllTextAsync(segment, "torn", ct);
        await using (var reopened = new InfluxWriter(new HttpClient(), options, new SpoolOptions { Directory = spoolRoot, Fsync = false }, dlq, TimeProvider.System, new TestLogger()))
        {
            Assert.Single(reopened.Spool.Corruptions);
        }

        var lp = Path.Combine(_dir, "artifacts", "sink", "forecasts.lp");
        await using (var file = new LineProtocolFileSink(lp, WritePrecision.Milliseconds, new TestLogger()))
        {
            await using var output = new InfluxForecastOutput(file, new DeadLetterFile(dlq, TimeProvider.System), TimeProvider.System, new TestLogger<InfluxForecastOutput>(new TestLogger()));
            await output.WriteAsync(Batches.Make(SourceKind.Vitals, ["patient-1"], 3, 0, 1_700_000_000_000), ct);
        }

        foreach (var d in new[] { spoolRoot, spoolDir, dlq, Path.GetDirectoryName(lp)! })
        {
            Assert.True(File.GetUnixFileMode(d) == PrivateDir, $"{d} is {File.GetUnixFileMode(d)}, expected 0700");
        }

        var files = Directory.GetFiles(spoolDir).Concat(Directory.GetFiles(dlq)).Append(lp).ToList();
        Assert.Contains(files, f => Path.GetFileName(f) == "rejected.jsonl");
        Assert.Contains(files, f => Path.GetFileName(f).StartsWith("corrupt-", StringComparison.Ordinal));
        Assert.Contains(files, f => Path.GetFileName(f) == SpoolDestination.FileName);
        Assert.Contains(files, f => Path.GetFileName(f) == SegmentSpool.LockFileName);
        Assert.Contains(files, f => Path.GetFileName(f).StartsWith("seg-", StringComparison.Ordinal));
        foreach (var f in files)
        {
            Assert.True(File.GetUnixFileMode(f) == Private, $"{f} is {File.GetUnixFileMode(f)}, expected 0600");
        }
    }

    public void Dispose()
    {
        _server.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
