using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Outputs;
using StreamLstm.Sink.Spool;
using StreamLstm.Streaming.Cli;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// <c>sink</c>: forecast points/s into a private influxd for batch sizes 1K/5K/10K, gzip off/on. To tell which side limits,
/// it also measures our encoder alone (scoring + line protocol, and gzip) and reads influxd's CPU time from /proc: when the
/// encoder alone is many times faster than end-to-end and influxd burns most of the CPU, InfluxDB is the limit.
/// Then the v2 write path: InfluxDB.Client (the default v2 transport) against our own HTTP request to <c>/api/v2/write</c>,
/// both against the same local HTTP listener answering 204 (there is no InfluxDB 2.x server here), so the rows compare
/// the transports' own cost and nothing else.
/// </summary>
public static class SinkBench
{
    private static readonly int[] BatchSizes = [1000, 5000, 10000];

    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var points = new Option<int>("--points") { Description = "Points written per configuration.", DefaultValueFactory = _ => 200_000 };
        points.Check(v => v < 1 ? "--points must be 1 or more." : null);
        var keys = new Option<int>("--keys") { Description = "Distinct keys (series).", DefaultValueFactory = _ => 500 };
        keys.Check(v => v < 1 ? "--keys must be 1 or more." : null);
        var horizons = new Option<int>("--horizons") { Description = "Forecast horizons K per point (2K+4 fields).", DefaultValueFactory = _ => 3 };
        horizons.Check(v => v < 1 ? "--horizons must be 1 or more." : null);
        var output = new Option<string>("--out") { Description = "JSON result file.", DefaultValueFactory = _ => Path.Combine("artifacts", "bench", "sink.json") };
        var skipV1 = new Option<bool>("--skip-v1") { Description = "Only the v2 transport comparison (no influxd needed)." };
        var command = new Command("sink", "InfluxDB writer points/s into a local influxd (batch 1K/5K/10K, gzip off/on); writes artifacts/bench/sink.json.");
        command.Options.Add(points);
        command.Options.Add(keys);
        command.Options.Add(horizons);
        command.Options.Add(output);
        command.Options.Add(skipV1);
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(points), parse.GetValue(keys), parse.GetValue(horizons), parse.GetValue(output)!, parse.GetValue(skipV1), ct));
        return command;
    }

    private static async Task<int> RunAsync(int points, int keyCount, int horizons, string outPath, bool skipV1, CancellationToken ct)
    {
        if (!skipV1 && LocalInfluxd.FindBinary() is null)
        {
            await Console.Error.WriteLineAsync("sink bench: influxd not found; install the 'influxdb' package (InfluxDB 1.x) or set INFLUXD.").ConfigureAwait(false);
            return 2;
        }

        var batches = MakeBatches(points, keyCount, horizons);
        var encode = MeasureEncoding(batches, points, horizons);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"encoder alone (score + line protocol): {encode.PointsPerSecond:N0} points/s, {encode.BytesPerPoint:F0} bytes/point; + gzip: {encode.GzipPointsPerSecond:N0} points/s ({encode.GzipRatio:F2}x smaller)"));

        var results = new List<Result>();
        var v2 = new List<TransportResult>();
        var work = Directory.CreateTempSubdirectory("streamlstm-sinkbench-").FullName;
        var verdict = string.Empty;
        try
        {
            using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            if (!skipV1)
            {
                await using var server = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                foreach (var gzip in new[] { false, true })
                {
                    foreach (var size in BatchSizes)
                    {
                        ct.ThrowIfCancellationRequested();
                        var db = string.Create(CultureInfo.InvariantCulture, $"bench_{size}_{(gzip ? "gz" : "plain")}");
                        await server.CreateDatabaseAsync(db).ConfigureAwait(false);
                        results.Add(await RunOneAsync(server, http, db, size, gzip, batches, points, Path.Combine(work, db), ct).ConfigureAwait(false));
                    }
                }

                PrintTable(results, encode);
                verdict = Verdict(results, encode);
                Console.WriteLine(verdict);
            }

            v2.AddRange(await SinkBenchV2.RunAsync(http, batches, points, Path.Combine(work, "v2"), ct).ConfigureAwait(false));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }

        var v2Verdict = SinkBenchV2.PrintAndJudge(v2);
        Console.WriteLine(v2Verdict);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        var json = JsonSerializer.Serialize(
            new
            {
                machine = new { Environment.ProcessorCount, os = Environment.OSVersion.ToString(), influxd = LocalInfluxd.FindBinary() },
                points,
                keys = keyCount,
                horizons,
                encoder = encode,
                runs = results,
                verdict,
                v2Transports = v2,
                v2Verdict,
            },
            new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase });
        await File.WriteAllTextAsync(outPath, json, ct).ConfigureAwait(false);
        Console.WriteLine("wrote " + Path.GetFullPath(outPath));
        return 0;
    }

    private static List<ForecastBatch> MakeBatches(int points, int keyCount, int horizons)
    {
        var keys = Enumerable.Range(0, keyCount).Select(i => "sym-" + i.ToString("D4", CultureInfo.InvariantCulture)).ToArray();
        var rnd = new Random(42);
        var list = new List<ForecastBatch>();
        for (var start = 0; start < points; start += 1000)
        {
            var n = Math.Min(1000, points - start);
            var b = new ForecastBatch(SourceKind.Tick, horizons, n) { ModelVersion = "bench" };
            for (var r = 0; r < n; r++)
            {
                var i = start + r;
                b.Keys[r] = keys[i % keyCount];
                b.TimestampsMs[r] = 1_700_000_000_000 + i;
                b.Observed[r] = 100 + rnd.NextDouble();
                for (var h = 0; h < horizons; h++)
                {
                    b.Mu[(r * horizons) + h] = (float)(100 + rnd.NextDouble());
                    b.Sigma[(r * horizons) + h] = (float)(0.5 + rnd.NextDouble());
                }
            }

            b.Count = n;
            list.Add(b);
        }

        return list;
    }

    private static EncodeResult MeasureEncoding(List<ForecastBatch> batches, int points, int horizons)
    {
        _ = horizons;
        var detector = new AnomalyDetector(new AnomalyOptions(), TimeProvider.System);
        var scores = new RowScore[1000];
        var alerts = new List<AlertEvent>();
        using var buffer = new LineProtocolBuffer();
        using var gz = new MemoryStream();
        long bytes = 0, gzBytes = 0;
        double plainSeconds = 0, gzipSeconds = 0;

        // Two passes: the first warms up the JIT, the second is measured.
        for (var pass = 0; pass < 2; pass++)
        {
            bytes = 0;
            gzBytes = 0;
            plainSeconds = 0;
            gzipSeconds = 0;
            foreach (var b in batches)
            {
                var t0 = Stopwatch.GetTimestamp();
                buffer.Clear();
                alerts.Clear();
                detector.Process(b, scores, alerts);
                for (var r = 0; r < b.Count; r++)
                {
                    SinkSchema.WriteForecast(buffer, b, r, scores[r]);
                }

                plainSeconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
                bytes += buffer.Length;
                var t1 = Stopwatch.GetTimestamp();
                gz.SetLength(0);
                using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
                {
                    z.Write(buffer.WrittenSpan);
                }

                gzipSeconds += Stopwatch.GetElapsedTime(t1).TotalSeconds;
                gzBytes += gz.Length;
            }
        }

        return new EncodeResult(points / plainSeconds, points / (plainSeconds + gzipSeconds), (double)bytes / points, (double)bytes / gzBytes);
    }

    private static async Task<Result> RunOneAsync(LocalInfluxd server, HttpClient http, string db, int batchSize, bool gzip, List<ForecastBatch> batches, int points, string dir, CancellationToken ct)
    {
        var options = new InfluxOptions
        {
            Url = server.Url,
            Database = db,
            BatchMaxPoints = batchSize,
            BatchMaxBytes = 64 << 20,
            FlushInterval = TimeSpan.FromSeconds(30),
            MaxQueuedBatches = 4,
            Gzip = gzip,
            RequestTimeout = TimeSpan.FromSeconds(60),
        };
        var writer = new InfluxWriter(http, options, new SpoolOptions { Directory = Path.Combine(dir, "spool") }, Path.Combine(dir, "dlq"), TimeProvider.System, NullLogger.Instance);
        // The pipeline scores rows before the outputs see them; score once here so the points carry their score fields.
        var scorer = new AnomalyDetector(new AnomalyOptions(), TimeProvider.System);
        foreach (var b in batches) scorer.Process(b);
        var output = new InfluxForecastOutput(writer, new DeadLetterFile(Path.Combine(dir, "dlq"), TimeProvider.System), TimeProvider.System, NullLogger<InfluxForecastOutput>.Instance);
        await using (output.ConfigureAwait(false))
        {
            var me = Process.GetCurrentProcess();
            var influxCpu0 = server.CpuSeconds();
            me.Refresh();
            var ourCpu0 = me.TotalProcessorTime.TotalSeconds;
            var t0 = Stopwatch.GetTimestamp();
            foreach (var b in batches)
            {
                await output.WriteAsync(b, ct).ConfigureAwait(false);
            }

            await output.FlushAsync(ct).ConfigureAwait(false);
            var wall = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            me.Refresh();
            var ourCpu = me.TotalProcessorTime.TotalSeconds - ourCpu0;
            var influxCpu = server.CpuSeconds() - influxCpu0;
            if (writer.Counters.PointsDelivered != points || !writer.Spool.IsEmpty)
            {
                throw new InvalidOperationException($"bench run {db}: {writer.Counters.PointsDelivered} of {points} points delivered, {writer.Spool.PendingPoints} spooled; see influxd log in {server.Root}");
            }

            return new Result(batchSize, gzip, points, wall, points / wall, influxCpu, ourCpu, influxCpu / wall, ourCpu / wall);
        }
    }

    private static void PrintTable(List<Result> results, EncodeResult encode)
    {
        Console.WriteLine();
        Console.WriteLine("| batch | gzip | points/s | wall s | influxd CPU s | our CPU s | influxd cores | our cores |");
        Console.WriteLine("|------:|:----:|---------:|-------:|--------------:|----------:|--------------:|----------:|");
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {r.BatchSize,5} | {(r.Gzip ? "on" : "off"),4} | {r.PointsPerSecond,8:N0} | {r.WallSeconds,6:F2} | {r.InfluxdCpuSeconds,13:F2} | {r.WriterCpuSeconds,9:F2} | {r.InfluxdCores,13:F2} | {r.WriterCores,9:F2} |"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| encoder only | off | {encode.PointsPerSecond:N0} | | | | | 1.00 |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| encoder only | on | {encode.GzipPointsPerSecond:N0} | | | | | 1.00 |"));
        Console.WriteLine();
    }

    private static string Verdict(List<Result> results, EncodeResult encode)
    {
        var best = results.MaxBy(r => r.PointsPerSecond)!;
        var points = results.Sum(r => (double)r.Points);
        var influxUsPerPoint = results.Sum(r => r.InfluxdCpuSeconds) / points * 1e6;
        var ourUsPerPoint = results.Sum(r => r.WriterCpuSeconds) / points * 1e6;
        var headroom = encode.PointsPerSecond / best.PointsPerSecond;
        var limit = influxUsPerPoint > 2 * ourUsPerPoint && headroom > 3 ? "InfluxDB is the limit"
            : ourUsPerPoint > 2 * influxUsPerPoint ? "our writer is the limit" : "neither side clearly dominates";
        return string.Create(CultureInfo.InvariantCulture,
            $"{limit}: influxd spends {influxUsPerPoint:F1} µs of CPU per point, our whole process (scoring, encoding, gzip, HTTP) {ourUsPerPoint:F1} µs; our encoder alone runs {headroom:F1}x faster ({encode.PointsPerSecond:N0} points/s on one thread) than the best end-to-end run ({best.PointsPerSecond:N0} points/s, batch {best.BatchSize}, gzip {(best.Gzip ? "on" : "off")}). Load average during the run: {LoadAverage()} on {Environment.ProcessorCount} cores (other work on the machine slows both sides alike).");
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    private sealed record EncodeResult(double PointsPerSecond, double GzipPointsPerSecond, double BytesPerPoint, double GzipRatio);

    private sealed record Result(int BatchSize, bool Gzip, int Points, double WallSeconds, double PointsPerSecond, double InfluxdCpuSeconds, double WriterCpuSeconds, double InfluxdCores, double WriterCores);
}
