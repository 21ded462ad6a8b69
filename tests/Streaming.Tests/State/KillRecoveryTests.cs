using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Sink.Influx;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>
/// kill -9 recovery, end to end: the pipeline runs as a child process (<c>streamlstm run --State:Directory=…</c>) against
/// an embedded Kafka cluster hosted here, is SIGKILLed at random moments and restarted each time; the forecasts topic,
/// deduplicated by (source, key, input partition, offset), must equal an uninterrupted run's: nothing missing, nothing
/// different (bit for bit: the JSON carries every float in round-trip form). The killed lives also write to a real
/// influxd (sharing one spool directory, as one service's restarts do), which must end up holding exactly one forecast
/// point per event: the same barrier that orders the Kafka output before the checkpoint orders InfluxDB's.
/// <para>
/// Each life joins a fresh consumer group: the state store, not the group's committed offset, says where each partition
/// resumes (and a fresh group avoids waiting for the killed member's session to expire).
/// </para>
/// </summary>
public class KillRecoveryTests
{
    private const int EventCount = 100_000;
    private const int Kills = 6;

    [Fact]
    public async Task SigkillAtRandomMoments_ThenRestart_ForecastsEqualAnUninterruptedRun()
    {
        var ct = TestContext.Current.CancellationToken;
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("ticks", 4);
        kafka.CreateTopic("vitals", 3);
        kafka.CreateTopic("audio-features", 3);
        kafka.CreateTopic("streamlstm.dlq", 1);
        kafka.CreateTopic("late", 1);
        // The mock broker keeps ~5 MB per partition: forecasts get room for duplicates.
        kafka.CreateTopic("forecasts-ref", 16);
        kafka.CreateTopic("forecasts-kill", 16);
        var events = Events.Mixed(EventCount, ticksKeys: 400, vitalsKeys: 250, audioKeys: 120, seed: 42);
        KafkaTestKit.Produce(kafka.BootstrapServers, KafkaTestKit.AsMessages(events));

        // The uninterrupted run.
        using var reference = new TopicReader(kafka.BootstrapServers, "forecasts-ref");
        using (var run = Child.Start(kafka.BootstrapServers, "ref", "forecasts-ref", stateDir: null))
        {
            await reference.WaitFor(EventCount, TimeSpan.FromMinutes(4), "uninterrupted run", run);
            run.Kill();
        }

        var expected = Dedup(reference.Messages, out var refDuplicates);
        Assert.Equal(0, refDuplicates);
        Assert.Equal(EventCount, expected.Count);

        var state = Directory.CreateTempSubdirectory("streamlstm-kill-");
        await using var influx = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60));
        await influx.CreateDatabaseAsync("kill");
        var sink = new SinkTarget(influx.Url, "kill", Path.Combine(state.FullName, "sink"));
        try
        {
            using var killed = new TopicReader(kafka.BootstrapServers, "forecasts-kill");
            var rng = new Random(2024);
            var kills = new List<string>();
            var finalLife = 0;
            for (var life = 0; life <= Kills; life++)
            {
                // The previous life's last forecasts are read first, so that this life's own output times its kill.
                await killed.WaitCaughtUp(kafka.BootstrapServers, TimeSpan.FromMinutes(1), $"before life {life}");
                using var run = Child.Start(kafka.BootstrapServers, $"kill-{life}", "forecasts-kill", Path.Combine(state.FullName, "state"), sink, untilCaughtUp: life == Kills);
                if (life == Kills)
                {
                    var before = killed.Count;
                    await killed.WaitForUnique(EventCount, TimeSpan.FromMinutes(4), "final life", run);
                    // The last life ends gracefully (--until-caught-up): its InfluxDB points are flushed, as a stopped service's are.
                    await run.WaitForExit(TimeSpan.FromMinutes(1), "final life: --until-caught-up exit");
                    // From scratch it would forecast every event again: resuming at the stored offsets forecasts fewer.
                    finalLife = killed.Count - before;
                    kills.Add($"last life: {finalLife} forecasts; stored offsets {StoredOffsets(Path.Combine(state.FullName, "state"))}");
                    break;
                }

                // A random moment: right at start-up once (nothing checkpointed yet), otherwise after a random amount of new output.
                var target = life == 1 ? killed.Count + 1 : killed.Count + rng.Next(1, EventCount / (Kills + 1));
                await killed.WaitFor(target, TimeSpan.FromMinutes(3), $"life {life}", run);
                if (life > 1)
                {
                    // With InfluxDB in the barrier a checkpoint takes longer than a short life: make sure this life wrote
                    // one (the group commits its offsets right after the checkpoint), so the lives make progress.
                    using var offsets = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = $"kill-{life}" }).Build();
                    await killed.WaitUntil(() => Committed(offsets) > 0, TimeSpan.FromMinutes(2), $"life {life}: a checkpoint", run);
                }

                run.Kill();
                kills.Add($"life {life}: killed at {killed.Count} forecasts ({killed.UniqueCount} unique); stored offsets {StoredOffsets(Path.Combine(state.FullName, "state"))}");
            }

            var points = await InfluxQuery.CountForecastsAsync(influx, "kill");
            kills.Add($"InfluxDB: {points} forecast points for {EventCount} events");
            var got = Dedup(killed.Messages, out var duplicates);
            var missing = expected.Keys.Count(k => !got.ContainsKey(k));
            var divergent = expected.Count(e => got.TryGetValue(e.Key, out var v) && v != e.Value);
            var report = $"kill test: {EventCount} events, {Kills} SIGKILLs; {got.Count} unique forecasts, {missing} missing, {divergent} divergent, {duplicates} duplicates; the last life forecast {finalLife}\n  " + string.Join("\n  ", kills);
            TestContext.Current.SendDiagnosticMessage(report);
            Console.WriteLine(report);
            Assert.True(missing == 0 && divergent == 0 && got.Count == expected.Count, report);
            Assert.True(finalLife < EventCount, "the last life did not resume from the stored state: " + report);
            Assert.True(points == EventCount, "InfluxDB must hold exactly one forecast point per event: " + report);
        }
        finally
        {
            state.Delete(true);
        }
    }

    private static readonly TopicPartition[] Inputs =
    [
        .. Enumerable.Range(0, 4).Select(p => new TopicPartition("ticks", p)),
        .. Enumerable.Range(0, 3).Select(p => new TopicPartition("vitals", p)),
        .. Enumerable.Range(0, 3).Select(p => new TopicPartition("audio-features", p)),
    ];

    /// <summary>Input partitions with an offset committed by the consumer's group.</summary>
    private static int Committed(IConsumer<byte[], byte[]> group) => group.Committed(Inputs, TimeSpan.FromSeconds(10)).Count(o => o.Offset.Value >= 0);

    private static string StoredOffsets(string dir)
    {
        using var store = new StreamLstm.Streaming.Storage.RocksDb.RocksDbStateStore(new() { Directory = dir });
        var parts = new List<string>();
        foreach (var (kind, n) in new[] { (StreamLstm.Model.Forecasting.SourceKind.Tick, 4), (StreamLstm.Model.Forecasting.SourceKind.Vitals, 3), (StreamLstm.Model.Forecasting.SourceKind.Audio, 3) })
        {
            for (var p = 0; p < n; p++) parts.Add(store.ReadOffset(kind, p).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return string.Join(",", parts);
    }

    /// <summary>Forecast JSON by (source, key, input partition, offset); duplicates must be identical to the first.</summary>
    private static Dictionary<(string, string, int, long), string> Dedup(IEnumerable<string> messages, out int duplicates)
    {
        var d = new Dictionary<(string, string, int, long), string>();
        duplicates = 0;
        foreach (var json in messages)
        {
            using var doc = JsonDocument.Parse(json);
            var r = doc.RootElement;
            var id = (r.GetProperty("source").GetString()!, r.GetProperty("key").GetString()!, r.GetProperty("partition").GetInt32(), r.GetProperty("offset").GetInt64());
            if (d.TryGetValue(id, out var first))
            {
                duplicates++;
                Assert.True(first == json, $"duplicate of {id} differs:\n{first}\n{json}");
                continue;
            }

            d[id] = json;
        }

        return d;
    }

    /// <summary>Consumes a topic from the beginning on its own thread, keeping every message.</summary>
    private sealed class TopicReader : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Thread _thread;
        private readonly ConcurrentQueue<string> _messages = new();
        private readonly ConcurrentDictionary<(string, int, long), byte> _ids = new();
        private readonly SemaphoreSlim _arrived = new(0);
        private volatile int _count;

        private readonly string _topic;

        public TopicReader(string bootstrap, string topic)
        {
            _topic = topic;
            _thread = new Thread(() =>
            {
                using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
                {
                    BootstrapServers = bootstrap,
                    GroupId = "reader-" + Guid.NewGuid().ToString("N"),
                    AutoOffsetReset = AutoOffsetReset.Earliest,
                    EnableAutoCommit = false,
                }).Build();
                consumer.Subscribe(topic);
                while (!_stop.IsCancellationRequested)
                {
                    var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
                    if (r?.Message?.Value is not { } v) continue;
                    var json = Encoding.UTF8.GetString(v);
                    _messages.Enqueue(json);
                    // Unique by the forecast's input position (source kind, input partition, offset).
                    using (var doc = JsonDocument.Parse(json))
                    {
                        var e = doc.RootElement;
                        _ids.TryAdd((e.GetProperty("source").GetString()!, e.GetProperty("partition").GetInt32(), e.GetProperty("offset").GetInt64()), 0);
                    }

                    _count++;
                    if (_arrived.CurrentCount == 0) _arrived.Release();
                }

                consumer.Close();
            }) { IsBackground = true, Name = "forecast-reader-" + topic };
            _thread.Start();
        }

        public int Count => _count;

        /// <summary>Waits until every message the topic holds now has been read.</summary>
        public async Task WaitCaughtUp(string bootstrap, TimeSpan timeout, string phase)
        {
            long end;
            using (var c = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "watermarks" }).Build())
            {
                end = Enumerable.Range(0, 16).Sum(p => c.QueryWatermarkOffsets(new TopicPartition(_topic, p), TimeSpan.FromSeconds(30)).High.Value);
            }

            var sw = Stopwatch.StartNew();
            while (Count < end)
            {
                Assert.True(sw.Elapsed < timeout, $"{phase}: read {Count} of the {end} forecasts the topic holds within {timeout.TotalSeconds:0}s");
                await _arrived.WaitAsync(TimeSpan.FromMilliseconds(250));
            }
        }

        public int UniqueCount => _ids.Count;

        public IReadOnlyCollection<string> Messages => _messages;

        public Task WaitFor(int count, TimeSpan timeout, string phase, Child run) => Until(() => Count >= count, timeout, $"{phase}: {Count} of {count} forecasts", run);

        public Task WaitUntil(Func<bool> done, TimeSpan timeout, string what, Child run) => Until(done, timeout, what, run);

        public Task WaitForUnique(int count, TimeSpan timeout, string phase, Child run) => Until(() => UniqueCount >= count, timeout, $"{phase}: {UniqueCount} of {count} unique forecasts", run);

        private async Task Until(Func<bool> done, TimeSpan timeout, string what, Child run)
        {
            var sw = Stopwatch.StartNew();
            while (!done())
            {
                Assert.True(!run.HasExited, $"{what}: the pipeline exited early ({run.ExitCode}):\n{run.Log}");
                Assert.True(sw.Elapsed < timeout, $"{what} after {timeout.TotalSeconds:0}s\n{run.Log}");
                // Woken by the next message; the bound only lets the exit and timeout checks run while nothing arrives.
                await _arrived.WaitAsync(TimeSpan.FromMilliseconds(250));
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _thread.Join();
            _stop.Dispose();
            _arrived.Dispose();
        }
    }

    /// <summary>The pipeline as a child process: <c>dotnet Streaming/bin/Release/net10.0/streamlstm.dll run …</c>.</summary>
    private sealed class Child : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _log = new();

        private Child(Process process) => _process = process;

        public bool HasExited => _process.HasExited;

        public int ExitCode => _process.HasExited ? _process.ExitCode : 0;

        public string Log
        {
            get
            {
                lock (_log) return _log.ToString();
            }
        }

        /// <summary>Waits for a graceful exit with code 0.</summary>
        public async Task WaitForExit(TimeSpan timeout, string phase)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"{phase}: still running after {timeout.TotalSeconds:0}s\n{Log}");
            }

            Assert.True(_process.ExitCode == 0, $"{phase}: exit code {_process.ExitCode}\n{Log}");
        }

        public static Child Start(string bootstrap, string group, string topic, string? stateDir, SinkTarget? sink = null, bool untilCaughtUp = false)
        {
            var dll = Path.Combine(RepoRoot(), "Streaming", "bin", "Release", "net10.0", "streamlstm.dll");
            Assert.True(File.Exists(dll), $"build the service first: {dll} is missing");
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[]
            {
                dll, "run", "--bootstrap-servers", bootstrap, $"--Kafka:GroupId={group}", $"--Kafka:ForecastsTopic={topic}",
                "--Kafka:CommitInterval=00:00:00.300", "--Pipeline:Workers=2", "--Web:Enabled=false",
                "--Logging:LogLevel:Default=Warning",
            })
            {
                psi.ArgumentList.Add(a);
            }

            foreach (var a in sink is null
                ? ["--Sink:Enabled=false"]
                : new[]
                {
                    "--Sink:Enabled=true", $"--Sink:Influx:Url={sink.Url}", $"--Sink:Influx:Database={sink.Database}", "--Sink:Influx:FlushInterval=00:00:00.200",
                    $"--Sink:Spool:Directory={Path.Combine(sink.Directory, "spool")}", $"--Sink:DeadLetterDirectory={Path.Combine(sink.Directory, "dlq")}",
                })
            {
                psi.ArgumentList.Add(a);
            }

            if (untilCaughtUp)
            {
                psi.ArgumentList.Add("--until-caught-up");
                psi.ArgumentList.Add("--caught-up-for");
                psi.ArgumentList.Add("2s");
            }

            if (stateDir is not null) psi.ArgumentList.Add($"--State:Directory={stateDir}");
            var p = new Process { StartInfo = psi };
            var child = new Child(p);
            p.OutputDataReceived += (_, e) => child.Append(e.Data);
            p.ErrorDataReceived += (_, e) => child.Append(e.Data);
            p.Start();
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            return child;
        }

        /// <summary>SIGKILL (Process.Kill on Unix), then reap.</summary>
        public void Kill()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: false);
            _process.WaitForExit();
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is null) return;
            lock (_log)
            {
                // The last lines are what explains a failure.
                if (_log.Length > 20_000) _log.Remove(0, _log.Length - 10_000);
                _log.AppendLine(line);
            }
        }

        private static string RepoRoot()
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "StreamLstm.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repository root (StreamLstm.sln) not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Where the killed lives write InfluxDB points (one spool and dead-letter directory for all lives).</summary>
    private sealed record SinkTarget(string Url, string Database, string Directory);

    private static class InfluxQuery
    {
        /// <summary>Forecast points in <paramref name="db"/> (every forecast point has <c>mu_h1</c>).</summary>
        public static async Task<long> CountForecastsAsync(LocalInfluxd server, string db)
        {
            using var doc = await server.QueryAsync("SELECT count(\"mu_h1\") FROM \"forecast\"", db);
            var result = doc.RootElement.GetProperty("results")[0];
            return result.TryGetProperty("series", out var series) ? series[0].GetProperty("values")[0][1].GetInt64() : 0;
        }
    }
}
