using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.Outputs;
using StreamLstm.Sink.Spool;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Influx;

public sealed class InfluxRoundTripTests(InfluxdFixture influx) : IClassFixture<InfluxdFixture>, IDisposable
{
    private static readonly string[] Keys = ["AAPL", "key with spaces", "a,b=c", "quote\"d", "Zürich 株 🚀", "back\\slash mid", "=lead", "tab\there"];
    private readonly string _dir = Directory.CreateTempSubdirectory("sink-roundtrip-").FullName;

    internal static InfluxOptions Options(string url, string db) => new()
    {
        Url = url,
        Database = db,
        BatchMaxPoints = 1000,
        FlushInterval = TimeSpan.FromMilliseconds(100),
        MaxRetries = 1,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        ReplayProbeInterval = TimeSpan.FromMilliseconds(100),
        BreakerBreakDuration = TimeSpan.FromMilliseconds(500),
        RequestTimeout = TimeSpan.FromSeconds(10),
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ForecastsWrittenThroughTheOutput_ReadBackExactly_IncludingKeysThatNeedEscaping(bool gzip)
    {
        var db = "rt" + (gzip ? "gz" : "plain");
        await influx.Server.CreateDatabaseAsync(db);
        const int n = 4000;
        using var http = new HttpClient();
        var options = Options(influx.Server.Url, db);
        options.Gzip = gzip;
        var writer = new InfluxWriter(http, options, new SpoolOptions { Directory = Path.Combine(_dir, db, "spool"), Fsync = false }, Path.Combine(_dir, db, "dlq"), TimeProvider.System, NullLogger.Instance);
        var dlq = new DeadLetterFile(Path.Combine(_dir, db, "dlq-rows"), TimeProvider.System);
        var detector = new AnomalyDetector(new AnomalyOptions(), TimeProvider.System);
        await using (var output = new InfluxForecastOutput(writer, dlq, TimeProvider.System, NullLogger<InfluxForecastOutput>.Instance))
        {
            for (var start = 0; start < n; start += 250)
            {
                await output.WriteAsync(Batches.Make(SourceKind.Vitals, Keys, 250, start, 1_700_000_000_000).ScoredBy(detector), TestContext.Current.CancellationToken);
            }

            await output.FlushAsync(TestContext.Current.CancellationToken);
            Assert.Equal(n, writer.Counters.PointsDelivered);
        }

        var rows = await InfluxQuery.RowsAsync(influx.Server, db, "SELECT * FROM forecast");
        Assert.Equal(n, rows.Count);
        var byKeyTime = rows.ToDictionary(r => (r["key"].GetString()!, r["time"].GetInt64()));
        for (var i = 0; i < n; i++)
        {
            var k = i % Keys.Length;
            var row = byKeyTime[(Keys[k], 1_700_000_000_000 + i)];
            Assert.Equal("vitals", row["source"].GetString());
            Assert.Equal("m-1", row["model"].GetString());
            Assert.Equal(Batches.Observed(i, k), row["value"].GetDouble());
            for (var h = 1; h <= 3; h++)
            {
                Assert.Equal((float)(Batches.Observed(i, k) + (h * 0.125)), (float)row[SinkSchema.MuField(h)].GetDouble());
                Assert.Equal(0.5f + (h / 8f), (float)row[SinkSchema.SigmaField(h)].GetDouble());
            }

            // Every row after a key's first has scores; the first has none (no earlier forecast).
            Assert.Equal(i >= Keys.Length, row["score"].ValueKind == JsonValueKind.Number);
        }

        var keys = (await InfluxQuery.RowsAsync(influx.Server, db, "SHOW TAG VALUES FROM forecast WITH KEY = \"key\"")).Select(r => r["value"].GetString()).Order(StringComparer.Ordinal);
        Assert.Equal(Keys.Order(StringComparer.Ordinal), keys);
    }

    [Fact]
    public async Task RowsLineProtocolCannotCarry_GoToTheDeadLetterFile_TheRestArrive()
    {
        const string db = "badrows";
        await influx.Server.CreateDatabaseAsync(db);
        using var http = new HttpClient();
        var writer = new InfluxWriter(http, Options(influx.Server.Url, db), new SpoolOptions { Directory = Path.Combine(_dir, db, "spool"), Fsync = false }, Path.Combine(_dir, db, "dlq"), TimeProvider.System, NullLogger.Instance);
        var dlq = new DeadLetterFile(Path.Combine(_dir, db, "dlq"), TimeProvider.System);
        var detector = new AnomalyDetector(new AnomalyOptions(), TimeProvider.System);
        await using (var output = new InfluxForecastOutput(writer, dlq, TimeProvider.System, NullLogger<InfluxForecastOutput>.Instance))
        {
            await output.WriteAsync(Batches.Make(SourceKind.Tick, ["ok", "new\nline", "trailing\\"], 9, 0, 1000).ScoredBy(detector), TestContext.Current.CancellationToken);
            await output.FlushAsync(TestContext.Current.CancellationToken);
        }

        Assert.Equal(3, await InfluxQuery.CountAsync(influx.Server, db, "forecast"));
        var lines = await File.ReadAllLinesAsync(dlq.Path, TestContext.Current.CancellationToken);
        Assert.Equal(6, lines.Length);
        Assert.All(lines, l => Assert.Contains("\"status\":0", l));
        Assert.Contains(lines, l => l.Contains("cannot contain newlines"));
        Assert.Contains(lines, l => l.Contains("cannot end with a backslash"));
    }

    [Fact]
    public async Task AlertEvents_AreWrittenToTheAlertMeasurement()
    {
        const string db = "alerts";
        await influx.Server.CreateDatabaseAsync(db);
        using var http = new HttpClient();
        var writer = new InfluxWriter(http, Options(influx.Server.Url, db), new SpoolOptions { Directory = Path.Combine(_dir, db, "spool"), Fsync = false }, Path.Combine(_dir, db, "dlq"), TimeProvider.System, NullLogger.Instance);
        var anomaly = new AnomalyOptions
        {
            Window = 1,
            WarmupEvents = 0,
            Default = new SourceCalibration { EnterThreshold = 3, ExitThreshold = 1.5, CriticalThreshold = 6, MinDuration = TimeSpan.FromSeconds(1), Cooldown = TimeSpan.Zero },
        };
        var detector = new AnomalyDetector(anomaly, TimeProvider.System);
        await using (var output = new InfluxForecastOutput(writer, new DeadLetterFile(Path.Combine(_dir, db, "dlq"), TimeProvider.System), TimeProvider.System, NullLogger<InfluxForecastOutput>.Instance))
        {
            double[] zs = [0, 4, 4, 0];
            for (var i = 0; i < zs.Length; i++)
            {
                await output.WriteAsync(Batches.Row(SourceKind.Vitals, "bed 7", 5000 + (i * 1000), zs[i], 0f, 1f).ScoredBy(detector), TestContext.Current.CancellationToken);
            }

            await output.FlushAsync(TestContext.Current.CancellationToken);
            Assert.Equal(2, output.AlertEvents);
        }

        var rows = await InfluxQuery.RowsAsync(influx.Server, db, "SELECT * FROM alert");
        Assert.Equal(2, rows.Count);
        Assert.Equal(["raised", "resolved"], rows.Select(r => r["event"].GetString()));
        Assert.Equal([7000L, 8000L], rows.Select(r => r["time"].GetInt64()));
        Assert.All(rows, r =>
        {
            Assert.Equal("vitals/bed 7/6000", r["alert_id"].GetString());
            Assert.Equal("bed 7", r["key"].GetString());
            Assert.Equal("vitals", r["source"].GetString());
            Assert.Equal("warning", r["severity"].GetString());
            Assert.Equal(6000, r["start_ms"].GetInt64());
            Assert.Equal(4, r["observed"].GetDouble());
            Assert.Equal(0, r["forecast_mu"].GetDouble());
            Assert.Equal(1, r["forecast_sigma"].GetDouble());
            Assert.Equal(GaussianTail.Surprise(GaussianTail.LogTwoSidedP(4)), r["peak_score"].GetDouble());
        });
        Assert.Equal(2000, rows[1]["duration_ms"].GetInt64());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
