using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>Consumes a topic from the beginning on its own thread, keeping every message.</summary>
internal sealed class ForecastReader : IDisposable
{
    /// <summary>Forecast JSON by (source, key, input partition, offset); duplicates must be identical to the first.</summary>
    public static Dictionary<(string, string, int, long), string> Dedup(IEnumerable<string> messages, out int duplicates)
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


    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly ConcurrentQueue<string> _messages = new();
    private readonly ConcurrentQueue<Arrival> _arrivals = new();
    private readonly ConcurrentDictionary<(string, int, long), byte> _ids = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private volatile int _count;

    private readonly string _topic;

    public ForecastReader(string bootstrap, string topic)
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
                    var id = (e.GetProperty("source").GetString()!, e.GetProperty("partition").GetInt32(), e.GetProperty("offset").GetInt64());
                    _ids.TryAdd(id, 0);
                    _arrivals.Enqueue(new Arrival(Stopwatch.GetTimestamp(), id.Item1, id.Item2, id.Item3));
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

    /// <summary>Waits for the next forecast read, at most <paramref name="max"/>.</summary>
    /// <param name="max">Bound.</param>
    /// <returns>The wait.</returns>
    public Task WaitArrived(TimeSpan max) => _arrived.WaitAsync(max);

    /// <summary>When each forecast was read (Stopwatch timestamp) and its input position.</summary>
    public IReadOnlyCollection<Arrival> Arrivals => _arrivals;

    /// <summary>A forecast read: when, and its (source, input partition, offset).</summary>
    public readonly record struct Arrival(long At, string Source, int Partition, long Offset);

    public Task WaitFor(int count, TimeSpan timeout, string phase, PipelineChild run) => Until(() => Count >= count, timeout, $"{phase}: {Count} of {count} forecasts", run);

    public Task WaitUntil(Func<bool> done, TimeSpan timeout, string what, PipelineChild run) => Until(done, timeout, what, run);

    public Task WaitForUnique(int count, TimeSpan timeout, string phase, PipelineChild run) => Until(() => UniqueCount >= count, timeout, $"{phase}: {UniqueCount} of {count} unique forecasts", run);

    private async Task Until(Func<bool> done, TimeSpan timeout, string what, PipelineChild run)
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
internal sealed class PipelineChild : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly SemaphoreSlim _output = new(0);

    private PipelineChild(Process process) => _process = process;

    public bool HasExited => _process.HasExited;

    /// <summary>Waits for the child's next output line, at most <paramref name="max"/>.</summary>
    /// <param name="max">Bound.</param>
    /// <returns>The wait.</returns>
    public Task WaitOutput(TimeSpan max) => _output.WaitAsync(max);

    public int ExitCode => _process.HasExited ? _process.ExitCode : 0;

    public string Log
    {
        get
        {
            lock (_log) return _log.ToString();
        }
    }

    public static PipelineChild Start(string bootstrap, string group, string topic, string? stateDir, params string[] extra)
    {
        var dll = Path.Combine(RepoRoot(), "Streaming", "bin", "Release", "net10.0", "streamlstm.dll");
        Assert.True(File.Exists(dll), $"build the service first: {dll} is missing");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[]
        {
            dll, "run", "--bootstrap-servers", bootstrap, $"--Kafka:GroupId={group}", $"--Kafka:ForecastsTopic={topic}",
            "--Kafka:CommitInterval=00:00:00.300", "--Pipeline:Workers=2", "--Web:Enabled=false", "--Sink:Enabled=false",
            "--Logging:LogLevel:Default=Warning",
        })
        {
            psi.ArgumentList.Add(a);
        }

        if (stateDir is not null) psi.ArgumentList.Add($"--State:Directory={stateDir}");
        foreach (var a in extra) psi.ArgumentList.Add(a);
        var p = new Process { StartInfo = psi };
        var child = new PipelineChild(p);
        p.OutputDataReceived += (_, e) => child.Append(e.Data);
        p.ErrorDataReceived += (_, e) => child.Append(e.Data);
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return child;
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
        _output.Dispose();
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

        if (_output.CurrentCount == 0) _output.Release();
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "StreamLstm.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (StreamLstm.sln) not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>The child-process tests' cluster: the service's topics (inputs 4/3/3 partitions, changelogs, DLQ, late) and forecast topics.</summary>
internal static class ChildCluster
{
    /// <summary>Starts a one-broker embedded cluster with the pipeline's topics and the given forecast topics (16 partitions each).</summary>
    /// <param name="forecastTopics">Forecast topics to create.</param>
    /// <returns>The cluster.</returns>
    public static EmbeddedKafka Start(params string[] forecastTopics)
    {
        var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("ticks", 4);
        kafka.CreateTopic("vitals", 3);
        kafka.CreateTopic("audio-features", 3);
        foreach (var (kind, n) in new[] { ("tick", 4), ("vitals", 3), ("audio", 3) }) kafka.CreateTopic("streamlstm.changelog." + kind, n);
        kafka.CreateTopic("streamlstm.dlq", 1);
        kafka.CreateTopic("late", 1);
        // The mock broker keeps ~5 MB per partition: forecasts get room for duplicates.
        foreach (var topic in forecastTopics) kafka.CreateTopic(topic, 16);
        return kafka;
    }
}
