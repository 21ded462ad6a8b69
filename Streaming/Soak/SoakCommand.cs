using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using StreamLstm.Ingest.Generators;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Streaming.Cli;

namespace StreamLstm.Streaming.Soak;

/// <summary>
/// <c>soak</c>: overload. Three processes, so each is measured on its own: <c>streamlstm broker</c> (the embedded Kafka),
/// the service (<c>streamlstm run</c>, forecasts topic + alerts + line-protocol sink) and this one, which produces the
/// demo's streams at a multiple of their rate (10× by default) for a fixed time. Every second it samples the service's
/// resident memory (<c>/proc/PID/status</c>) and the group's lag (end offsets minus committed offsets, read through the
/// admin API). When the generators stop it measures how long the service takes to commit everything, then stops it with
/// SIGTERM (graceful). Reports peak RSS, maximum lag, catch-up time and the loss check — every produced message read by the
/// service and committed by the group, nothing undelivered — in a table and <c>artifacts/bench/soak.json</c>; exits 1 on a loss.
/// </summary>
public static partial class SoakCommand
{
    private static readonly string[] InputTopics = ["ticks", "vitals", "audio-features"];

    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("soak", "Overload: the demo's streams at N× their rate through a broker process into a service process; peak RSS, max lag, catch-up time and losses.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        var duration = new Option<double>("--seconds") { Description = "How long the generators run", DefaultValueFactory = _ => 60 };
        duration.Check(v => !(v > 0) || double.IsInfinity(v) ? "--seconds must be a number > 0." : null);
        var multiplier = new Option<double>("--multiplier") { Description = "Multiplier on the demo's rates (ticks 500×10/s, vitals 100×1/s, audio 50×100/s)", DefaultValueFactory = _ => 10 };
        multiplier.Check(v => !(v > 0) || double.IsInfinity(v) ? "--multiplier must be a number > 0." : null);
        var partitions = new Option<int>("--partitions") { Description = "Partitions per topic; the embedded broker keeps only ~5 MB per partition, so the backlog must spread", DefaultValueFactory = _ => 512 };
        partitions.Check(v => v is < 1 or > 1000 ? "--partitions must be 1..1000." : null);
        var catchUp = new Option<double>("--catch-up-limit") { Description = "Give up waiting for the catch-up after this many seconds", DefaultValueFactory = _ => 900 };
        catchUp.Check(v => !(v > 0) || double.IsInfinity(v) ? "--catch-up-limit must be a number > 0." : null);
        foreach (var o in new Option[] { duration, multiplier, partitions, catchUp }) command.Options.Add(o);
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(duration), parse.GetValue(multiplier), parse.GetValue(partitions), parse.GetValue(catchUp), [.. parse.UnmatchedTokens], ct));
        return command;
    }

    private static async Task<int> RunAsync(double seconds, double multiplier, int partitions, double catchUpLimit, string[] extraArgs, CancellationToken cancel)
    {
        KafkaNative.EnsureLoaded();
        // SIGTERM (not only Ctrl+C) ends the run early but still through the finally blocks, so no child process outlives it.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        var ct = stop.Token;
        var sinkDir = Directory.CreateTempSubdirectory("streamlstm-soak-");
        using var broker = Child.Start(["broker", "--partitions", partitions.ToString(CultureInfo.InvariantCulture)]);
        try
        {
            var bootstrap = (await broker.FirstLineAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false)).Split('=', 2)[1];
            Console.WriteLine($"bootstrap.servers={bootstrap}");
            var streams = Streams(multiplier);
            var target = streams.Sum(s => s.Rate);
            Console.WriteLine($"soak: {multiplier:0.#}× the demo's rate = {target:N0} events/s for {seconds:0} s, {partitions} partitions per topic (broker pid {broker.Id})");

            using var generating = CancellationTokenSource.CreateLinkedTokenSource(ct);
            generating.CancelAfter(TimeSpan.FromSeconds(seconds));
            var producers = streams.Select(s => Task.Run(() => Produce(bootstrap, s, generating.Token), CancellationToken.None)).ToList();
            using var service = Child.Start([
                "run", "--bootstrap-servers", bootstrap, "--Kafka:GroupId=streamlstm-soak", "--Kafka:AutoOffsetReset=earliest",
                "--urls", "http://127.0.0.1:0", "--Sink:FilePath=" + Path.Combine(sinkDir.FullName, "forecasts.lp"),
                "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:StreamLstm.Sink=Error",
                "--Logging:LogLevel:StreamLstm.Streaming.Hosting.PipelineHostedService=Information", .. extraArgs]);
            using var lag = new GroupLag(bootstrap, "streamlstm-soak", partitions);
            long peakRss = 0, maxLag = 0;
            var clock = Stopwatch.StartNew();
            while (!generating.IsCancellationRequested && !service.HasExited)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
                var (rss, hwm) = Memory(service.Id);
                peakRss = Math.Max(peakRss, hwm);
                var l = await lag.ReadAsync().ConfigureAwait(false);
                maxLag = Math.Max(maxLag, l.Lag);
                Console.WriteLine($"[{clock.Elapsed:mm\\:ss}] service rss {rss / 1048576.0,6:N0} MB | lag {l.Lag,10:N0} | committed {l.Committed,12:N0}");
            }

            var produced = (await Task.WhenAll(producers).ConfigureAwait(false)).Sum();
            var generatedFor = clock.Elapsed;

            // Catch-up: from the generators' stop until the group has committed every produced message.
            var catchUpClock = Stopwatch.StartNew();
            var last = await lag.ReadAsync().ConfigureAwait(false);
            while (last.Lag > 0 && catchUpClock.Elapsed.TotalSeconds < catchUpLimit && !service.HasExited && !ct.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
                peakRss = Math.Max(peakRss, Memory(service.Id).Hwm);
                last = await lag.ReadAsync().ConfigureAwait(false);
                maxLag = Math.Max(maxLag, last.Lag);
            }

            var caughtUp = catchUpClock.Elapsed;
            peakRss = Math.Max(peakRss, Memory(service.Id).Hwm);
            var exit = await service.StopAsync(TimeSpan.FromSeconds(120)).ConfigureAwait(false);
            var stopped = StoppedLine().Match(service.Output);
            // Every produced message must have been read by the service (events) and committed by the group; the embedded
            // broker's retention (~5 MB per partition) can drop messages nobody read yet, so those are shown apart.
            long? serviceEvents = stopped.Success ? long.Parse(stopped.Groups["events"].Value, CultureInfo.InvariantCulture) : null;
            long? undelivered = stopped.Success ? long.Parse(stopped.Groups["undelivered"].Value, CultureInfo.InvariantCulture) : null;
            var lost = Math.Max(0, produced - last.Committed) + Math.Max(0, produced - (serviceEvents ?? 0)) + (undelivered ?? 0);
            var report = new JsonObject
            {
                ["multiplier"] = multiplier,
                ["target_events_per_s"] = target,
                ["seconds"] = generatedFor.TotalSeconds,
                ["produced"] = produced,
                ["produced_per_s"] = produced / generatedFor.TotalSeconds,
                ["committed"] = last.Committed,
                ["service_events"] = serviceEvents,
                ["service_forecasts"] = stopped.Success ? long.Parse(stopped.Groups["forecasts"].Value, CultureInfo.InvariantCulture) : null,
                ["service_undelivered"] = undelivered,
                ["broker_evicted"] = last.Evicted,
                ["lost"] = lost,
                ["peak_rss_bytes"] = peakRss,
                ["max_lag"] = maxLag,
                ["catch_up_s"] = caughtUp.TotalSeconds,
                ["caught_up"] = last.Lag == 0,
                ["service_exit_code"] = exit,
            };
            Print(report);
            Directory.CreateDirectory(Path.Combine("artifacts", "bench"));
            var path = Path.Combine("artifacts", "bench", "soak.json");
            await File.WriteAllTextAsync(path, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), CancellationToken.None).ConfigureAwait(false);
            Console.WriteLine($"wrote {path}");
            if (lost > 0 && last.Evicted > 0)
            {
                Console.WriteLine($"the embedded broker dropped {last.Evicted:N0} messages under its retention; run with more --partitions to tell its losses from the service's");
            }

            return lost == 0 && last.Lag == 0 && exit == 0 ? 0 : 1;
        }
        catch (KafkaException ex)
        {
            // The broker child is gone (or unreachable): nothing more can be measured.
            await Console.Error.WriteLineAsync($"soak: lost the broker ({ex.Message}); broker exited: {broker.HasExited}").ConfigureAwait(false);
            return 1;
        }
        finally
        {
            await broker.StopAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            sinkDir.Delete(recursive: true);
        }
    }

    [GeneratedRegex(@"Pipeline stopped after (?<events>\d+) events: (?<forecasts>\d+) forecasts, \d+ dead letters, \d+ late, (?<undelivered>\d+) undelivered")]
    private static partial Regex StoppedLine();

    /// <summary>Resident and peak resident memory of a process (Linux <c>/proc</c>).</summary>
    private static (long Rss, long Hwm) Memory(int pid)
    {
        long rss = 0, hwm = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb(line);
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = Kb(line);
            }
        }
        catch (IOException)
        {
            // The process has exited.
        }

        return (rss, hwm);

        static long Kb(string line) => long.Parse(line.Split(':', StringSplitOptions.TrimEntries)[1].Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    private static void Print(JsonObject r)
    {
        Console.WriteLine();
        Console.WriteLine("| metric | value |");
        Console.WriteLine("|---|---|");
        foreach (var (k, v) in r)
        {
            var text = v is JsonValue jv && jv.TryGetValue(out double d) ? d.ToString(d == Math.Floor(d) ? "N0" : "N2", CultureInfo.InvariantCulture) : v?.ToJsonString() ?? "";
            Console.WriteLine($"| {k} | {text} |");
        }
    }

    private sealed record Stream(string Topic, IEventGenerator Generator, double Rate);

    private static List<Stream> Streams(double multiplier)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // The demo's defaults: 500 symbols × 10/s, 100 patients × 1/s, 50 audio streams × 100/s.
        return
        [
            new("ticks", new TickGenerator(new TickGeneratorOptions { Keys = 500, Seed = 42, StartUnixMs = now, EventsPerKeyPerSecond = 10 * multiplier }), 500 * 10 * multiplier),
            new("vitals", new VitalsGenerator(new VitalsGeneratorOptions { Keys = 100, Seed = 43, StartUnixMs = now, EventsPerKeyPerSecond = 1 * multiplier }), 100 * 1 * multiplier),
            new("audio-features", new AudioFrameGenerator(new AudioGeneratorOptions { Keys = 50, Seed = 44, StartUnixMs = now, EventsPerKeyPerSecond = 100 * multiplier }), 50 * 100 * multiplier),
        ];
    }

    private static async Task<long> Produce(string bootstrap, Stream s, CancellationToken ct)
    {
        using var producer = new KafkaEventProducer(bootstrap);
        try
        {
            await producer.ProduceAsync(s.Generator, s.Topic, long.MaxValue, s.Rate, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        producer.Flush(CancellationToken.None);
        return producer.Delivered;
    }

    /// <summary>The group's progress over the input topics, read through the admin API (two requests per sample).</summary>
    private sealed class GroupLag(string bootstrap, string group, int partitions) : IDisposable
    {
        private readonly IAdminClient _admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        private readonly TopicPartition[] _parts = [.. InputTopics.SelectMany(t => Enumerable.Range(0, partitions).Select(p => new TopicPartition(t, p)))];

        public async Task<(long Lag, long Committed, long Evicted)> ReadAsync()
        {
            var ends = await Offsets(OffsetSpec.Latest()).ConfigureAwait(false);
            var starts = await Offsets(OffsetSpec.Earliest()).ConfigureAwait(false);
            var committed = new Dictionary<TopicPartition, long>();
            try
            {
                var r = await _admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, [.. _parts])]).ConfigureAwait(false);
                foreach (var p in r.SelectMany(g => g.Partitions)) committed[p.TopicPartition] = Math.Max(0, p.Offset.Value);
            }
            catch (KafkaException)
            {
                // The group has not committed yet.
            }

            long lag = 0, done = 0, evicted = 0;
            // Log start offsets above 0: messages the embedded broker dropped (its ~5 MB per partition), read or not.
            foreach (var tp in _parts)
            {
                var c = committed.GetValueOrDefault(tp);
                lag += Math.Max(0, ends.GetValueOrDefault(tp) - c);
                done += c;
                evicted += Math.Max(0, starts.GetValueOrDefault(tp));
            }

            return (lag, done, evicted);
        }

        public void Dispose() => _admin.Dispose();

        private async Task<Dictionary<TopicPartition, long>> Offsets(OffsetSpec spec)
        {
            var r = await _admin.ListOffsetsAsync(_parts.Select(p => new TopicPartitionOffsetSpec { TopicPartition = p, OffsetSpec = spec })).ConfigureAwait(false);
            return r.ResultInfos.ToDictionary(i => i.TopicPartitionOffsetError.TopicPartition, i => i.TopicPartitionOffsetError.Offset.Value);
        }
    }

    /// <summary>A <c>streamlstm</c> child process (this executable), its output collected.</summary>
    private sealed partial class Child : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _output = new();
        private readonly TaskCompletionSource<string> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private Child(Process process) => _process = process;

        public int Id => _process.Id;

        public bool HasExited => _process.HasExited;

        public string Output
        {
            get
            {
                lock (_output) return _output.ToString();
            }
        }

        public static Child Start(string[] args)
        {
            var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            // Run as `dotnet streamlstm.dll ...` or as the apphost, whichever started this process.
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(SoakCommand).Assembly.Location);
            foreach (var a in args) psi.ArgumentList.Add(a);
            var child = new Child(Process.Start(psi)!);
            child._process.OutputDataReceived += (_, e) => child.Collect(e.Data);
            child._process.ErrorDataReceived += (_, e) => child.Collect(e.Data);
            child._process.BeginOutputReadLine();
            child._process.BeginErrorReadLine();
            return child;
        }

        public async Task<string> FirstLineAsync(TimeSpan timeout) => await _first.Task.WaitAsync(timeout).ConfigureAwait(false);

        /// <summary>SIGTERM (a graceful stop), then waits; SIGKILL if it does not exit in time. Returns the exit code.</summary>
        public async Task<int> StopAsync(TimeSpan timeout)
        {
            if (!_process.HasExited) _ = Kill(_process.Id, 15);
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }

            return _process.ExitCode;
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }

        private void Collect(string? line)
        {
            if (line is null) return;
            if (line.StartsWith("bootstrap.servers=", StringComparison.Ordinal)) _first.TrySetResult(line);
            lock (_output) _output.AppendLine(line);
        }

        [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static partial int Kill(int pid, int signal);
    }
}
