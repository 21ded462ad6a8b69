using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Outputs;
using StreamLstm.Sink.Spool;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Influx;

/// <summary>Each test runs its own influxd because it stops and restarts it.</summary>
public sealed class InfluxOutageTests : IDisposable
{
    private static readonly string[] Keys = ["k0", "k 1", "k,2"];
    private readonly string _dir = Directory.CreateTempSubdirectory("sink-outage-").FullName;

    private SpoolOptions Spool => new() { Directory = Path.Combine(_dir, "spool"), Fsync = true };

    private string Dlq => Path.Combine(_dir, "dlq");

    private static InfluxForecastOutput Output(IPointSink sink, string dlq) =>
        new(sink, new DeadLetterFile(dlq, TimeProvider.System), TimeProvider.System, NullLogger<InfluxForecastOutput>.Instance);

    [Fact]
    public async Task InfluxdStoppedMidStreamAndRestarted_EndsWithExactlyNPoints()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60));
        await server.CreateDatabaseAsync("outage");
        using var http = new HttpClient();
        var options = InfluxRoundTripTests.Options(server.Url, "outage");
        options.BatchMaxPoints = 200;
        const int n = 6000;
        var writer = new InfluxWriter(http, options, Spool, Dlq, TimeProvider.System, NullLogger.Instance);
        await using var output = Output(writer, Dlq);
        var next = 0;
        async Task WriteUpTo(int end)
        {
            for (; next < end; next += 100)
            {
                await output.WriteAsync(Batches.Make(SourceKind.Tick, Keys, 100, next, 1_700_000_000_000), ct);
            }
        }

        await WriteUpTo(2000);
        await output.FlushAsync(ct);
        await Wait.UntilAsync(async () => await InfluxQuery.CountAsync(server, "outage", "forecast") == 2000, TimeSpan.FromSeconds(30), "first 2000 points visible before the outage");

        server.Stop();
        await WriteUpTo(4000);
        await output.FlushAsync(ct);
        Assert.True(writer.Spool.PendingPoints > 0, "with influxd down, batches must be in the spool");
        var spooledDuringOutage = writer.Spool.PendingPoints;

        await server.StartAsync(TimeSpan.FromSeconds(60));
        await WriteUpTo(n);
        await output.FlushAsync(ct);
        await Wait.ForAsync(writer.WaitForSpoolDrainedAsync(ct), TimeSpan.FromSeconds(60), "spool replayed after influxd restarted");
        await output.FlushAsync(ct);

        await Wait.UntilAsync(async () => await InfluxQuery.CountAsync(server, "outage", "forecast") >= n, TimeSpan.FromSeconds(30), "all points visible after the restart");
        Assert.Equal(n, await InfluxQuery.CountAsync(server, "outage", "forecast"));
        var times = await InfluxQuery.RowsAsync(server, "outage", "SELECT \"value\" FROM forecast");
        Assert.Equal(n, times.Select(r => (r["time"].GetInt64(), r["value"].GetDouble())).Distinct().Count());
        Assert.True(spooledDuringOutage >= 2000, $"the outage's points went through the spool ({spooledDuringOutage})");
        Assert.Equal(0, writer.Counters.PointsDeadLettered);
    }

    [Fact]
    public async Task WriterKilledWithASpoolOnDisk_NextWriterDeliversTheSpooledPoints()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60));
        await server.CreateDatabaseAsync("killed");
        server.Stop();
        using var http = new HttpClient();
        var options = InfluxRoundTripTests.Options(server.Url, "killed");
        const int n = 1500;

        var first = new InfluxWriter(http, options, Spool, Dlq, TimeProvider.System, NullLogger.Instance);
        var output = Output(first, Dlq);
        for (var i = 0; i < n; i += 150)
        {
            await output.WriteAsync(Batches.Make(SourceKind.Audio, Keys, 150, i, 1_600_000_000_000), ct);
        }

        await first.FlushAsync(ct);
        Assert.Equal(n, first.Spool.PendingPoints);

        // "Kill": abandon the writer without flushing or draining; only the files stay behind.
        await first.KillAsync();
        Assert.NotEmpty(Directory.GetFiles(first.Spool.Directory, "seg-*.spool"));

        await server.StartAsync(TimeSpan.FromSeconds(60));
        await using var second = new InfluxWriter(http, options, Spool, Dlq, TimeProvider.System, NullLogger.Instance);
        Assert.Equal(n, second.Spool.PendingPoints);
        await Wait.ForAsync(second.WaitForSpoolDrainedAsync(ct), TimeSpan.FromSeconds(60), "new writer replays the spool left by the killed one");
        await Wait.UntilAsync(async () => await InfluxQuery.CountAsync(server, "killed", "forecast") == n, TimeSpan.FromSeconds(30), "spooled points visible in influxd");
        Assert.Empty(Directory.GetFiles(second.Spool.Directory, "seg-*.spool"));
    }

    [Fact]
    public async Task TornSpoolTail_IsReported_AndEverythingBeforeItIsDelivered()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60));
        await server.CreateDatabaseAsync("torn");
        server.Stop();
        using var http = new HttpClient();
        var options = InfluxRoundTripTests.Options(server.Url, "torn");
        var first = new InfluxWriter(http, options, Spool, Dlq, TimeProvider.System, NullLogger.Instance);
        await using (var output = Output(first, Dlq))
        {
            for (var i = 0; i < 1000; i += 100)
            {
                await output.WriteAsync(Batches.Make(SourceKind.Tick, Keys, 100, i, 1_600_000_000_000), ct);
                await first.FlushAsync(ct);
            }

            await first.KillAsync();
        }

        // A torn append: the last segment gains half a record.
        var last = Directory.GetFiles(first.Spool.Directory, "seg-*.spool").Order(StringComparer.Ordinal).Last();
        await File.AppendAllTextAsync(last, "\u0040\0\0\0\u0007\0\0\0garbage-after-kill", Encoding.Latin1, ct);

        await server.StartAsync(TimeSpan.FromSeconds(60));
        await using var second = new InfluxWriter(http, options, Spool, Dlq, TimeProvider.System, NullLogger.Instance);
        var corruption = Assert.Single(second.Spool.Corruptions);
        Assert.Equal(Path.GetFileName(last), corruption.Segment);
        await Wait.ForAsync(second.WaitForSpoolDrainedAsync(ct), TimeSpan.FromSeconds(60), "new writer replays the spool left by the killed one");
        await Wait.UntilAsync(async () => await InfluxQuery.CountAsync(server, "torn", "forecast") == 1000, TimeSpan.FromSeconds(30), "the 1000 points before the torn tail visible");
    }

    [Fact]
    public async Task PartialWrite_FieldTypeConflict_DeadLettersOnlyTheRejectedPoint_WithTheServerMessage()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60));
        await server.CreateDatabaseAsync("partial");
        using var http = new HttpClient();
        await using var writer = new InfluxWriter(http, InfluxRoundTripTests.Options(server.Url, "partial"), Spool, Dlq, TimeProvider.System, NullLogger.Instance);
        using var lines = new LineProtocolBuffer();
        lines.BeginLine("conflict");
        lines.Tag("key", "a");
        lines.Field("v", 1.5);
        lines.EndLine(1000);
        await writer.WriteAsync(lines, ct);
        await writer.FlushAsync(ct);

        lines.Clear();
        for (var i = 0; i < 20; i++)
        {
            lines.BeginLine("conflict");
            lines.Tag("key", "k" + i);
            if (i == 13)
            {
                lines.Field("v", "not a number");
            }
            else
            {
                lines.Field("v", i + 0.5);
            }

            lines.EndLine(2000 + i);
        }

        await writer.WriteAsync(lines, ct);
        await writer.FlushAsync(ct);

        Assert.Equal(1, writer.Counters.PointsDeadLettered);
        Assert.True(writer.Spool.IsEmpty, "a rejected point is not retried or spooled");
        var dead = Assert.Single(await File.ReadAllLinesAsync(writer.DeadLetters.Path, ct));
        Assert.Contains("\"status\":400", dead);
        Assert.Contains("field type conflict", dead);
        Assert.Contains("conflict,key=k13 v=\\u0022not a number\\u0022 2013", dead);
        Assert.Equal(20, await InfluxQuery.CountAsync(server, "partial", "conflict", "v"));
    }

    [Fact]
    public async Task DisposeWhileInfluxdIsDown_SpoolsEverythingAccepted_ForTheNextStart()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60));
        await server.CreateDatabaseAsync("shutdown");
        server.Stop();
        using var http = new HttpClient();
        var options = InfluxRoundTripTests.Options(server.Url, "shutdown");
        options.ShutdownTimeout = TimeSpan.FromSeconds(5);
        const int n = 777;
        await using (var output = Output(new InfluxWriter(http, options, Spool, Dlq, TimeProvider.System, NullLogger.Instance), Dlq))
        {
            // No FlushAsync: disposing must flush and spool.
            await output.WriteAsync(Batches.Make(SourceKind.Tick, Keys, n, 0, 1_650_000_000_000), ct);
        }

        await server.StartAsync(TimeSpan.FromSeconds(60));
        await using var next = new InfluxWriter(http, options, Spool, Dlq, TimeProvider.System, NullLogger.Instance);
        Assert.Equal(n, next.Spool.PendingPoints);
        await Wait.ForAsync(next.WaitForSpoolDrainedAsync(ct), TimeSpan.FromSeconds(60), "replay of the points spooled at shutdown");
        await Wait.UntilAsync(async () => await InfluxQuery.CountAsync(server, "shutdown", "forecast") == n, TimeSpan.FromSeconds(30), "points spooled at shutdown visible in influxd");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
