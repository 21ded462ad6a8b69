using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Cli;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Online.Scheduling;
using StreamLstm.Streaming.Online.Triggers;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// <c>online</c>: pipeline throughput (source unpaced) and event→forecast latency (source paced at the demo's rate) with
/// online learning off, with only the replay buffer fed, with the trainer fine-tuning back to back on its own lowered-priority
/// thread and the gate rejecting every candidate, the same with every candidate promoted (hot swaps during the run), and that
/// again with the trainer thread at normal priority (the peer). Unpaced runs are interleaved over repeats; per mode it reports
/// the trainer's CPU share, GC collections and pause time and lock contentions.
/// </summary>
public static class OnlineBench
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("online", "Pipeline events/s and p99 latency with the online trainer off and on.");
        var events = new Option<int>("--events") { Description = "Events per unpaced run (long enough that a run is seconds, not a load swing)", DefaultValueFactory = _ => 1_000_000 };
        events.Check(v => v < 1 ? "--events must be 1 or more." : null);
        var keys = new Option<int>("--keys") { Description = "Keys (symbols)", DefaultValueFactory = _ => 500 };
        keys.Check(v => v < 1 ? "--keys must be 1 or more." : null);
        var hidden = new Option<int>("--hidden") { Description = "Hidden size H (the demo trains 32)", DefaultValueFactory = _ => 32 };
        hidden.Check(v => v is < 1 or > 4096 ? "--hidden must be 1..4096." : null);
        var rate = new Option<double>("--rate") { Description = "Paced rate, events/s (the demo's default load is about 10 K/s)", DefaultValueFactory = _ => 10_000 };
        rate.Check(v => !(v > 0) || double.IsInfinity(v) ? "--rate must be a number > 0." : null);
        var seconds = new Option<double>("--seconds") { Description = "Seconds per paced run", DefaultValueFactory = _ => 8 };
        seconds.Check(v => !(v > 0) || double.IsInfinity(v) ? "--seconds must be a number > 0." : null);
        var workers = new Option<int>("--workers") { Description = "Pipeline workers", DefaultValueFactory = _ => 1 };
        workers.Check(v => v < 0 ? "--workers must be 0 or more." : null);
        var duty = new Option<double>("--duty-cycle") { Description = "Online:DutyCycle of the trainer (the CPU cap when --max-cpu-share is not given; 1: no cap)", DefaultValueFactory = _ => 0.25 };
        duty.Check(v => !(v > 0 && v <= 1) ? "--duty-cycle must be in (0, 1]." : null);
        var share = new Option<double?>("--max-cpu-share") { Description = "Online:MaxCpuShare: the trainer's CPU cap as a fraction of the machine's cores (default: from --duty-cycle)" };
        share.Check(v => v is { } x && !(x > 0 && x <= 1) ? "--max-cpu-share must be in (0, 1]." : null);
        var priority = new Option<TrainerPriority>("--priority") { Description = "Online:TrainerPriority of the trainer threads: idle, low, normal", DefaultValueFactory = _ => TrainerPriority.Idle };
        var repeats = new Option<int>("--repeats") { Description = "Interleaved unpaced repeats (off and trainer side by side, their order alternating); the ratio is the median of the repeats' on/off ratios", DefaultValueFactory = _ => 5 };
        repeats.Check(v => v < 1 ? "--repeats must be 1 or more." : null);
        var swapKeys = new Option<int>("--swap-keys") { Description = "Resident keys of the hot-swap probe (what a promotion costs the serving path; 0: skip it)", DefaultValueFactory = _ => 20_000 };
        swapKeys.Check(v => v < 0 ? "--swap-keys must be 0 or more." : null);
        var output = new Option<string>("--out") { Description = "JSON output path", DefaultValueFactory = _ => "artifacts/bench/online.json" };
        foreach (var o in new Option[] { events, keys, hidden, rate, seconds, workers, duty, share, priority, repeats, swapKeys, output }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var trainer = new TrainerSettings(parse.GetValue(duty), parse.GetValue(share), parse.GetValue(priority));
            var result = await RunAsync(parse.GetValue(events), parse.GetValue(keys), parse.GetValue(hidden), parse.GetValue(rate), parse.GetValue(seconds), parse.GetValue(workers),
                trainer, Math.Max(1, parse.GetValue(repeats)), ct).ConfigureAwait(false);
            if (parse.GetValue(swapKeys) > 0) result["swap_stall"] = await SwapStallProbe.RunAsync(parse.GetValue(swapKeys), parse.GetValue(hidden), ct).ConfigureAwait(false);
            var path = parse.GetValue(output)!;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            await File.WriteAllTextAsync(path, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
            Console.WriteLine($"wrote {path}");
            return 0;
        });
        return command;
    }

    private enum Mode
    {
        Off,
        ReplayOnly,
        TrainerNoPromote,
        Trainer,
        TrainerNormalPriority,
    }

    private sealed record TrainerSettings(double DutyCycle, double? MaxCpuShare, TrainerPriority Priority);

    // One run's figures: throughput, latency, trainer work, the trainer's CPU time and what the GC did meanwhile.
    private sealed record RunResult(double Rate, double P50, double P99, long FineTunes, long Swaps, double Seconds, double TrainerCpuSeconds,
        double ProcessCpuSeconds, int Gen0, int Gen1, int Gen2, double GcPauseMs, long LockContentions, string Priority, double AllocatedMb)
    {
        public double TrainerCores => Seconds > 0 ? TrainerCpuSeconds / Seconds : 0;

        public double TrainerShare => TrainerCores / Environment.ProcessorCount;
    }

    private static string Name(Mode mode) => mode switch
    {
        Mode.TrainerNormalPriority => "trainer_normal_priority",
        _ => mode.ToString().ToLowerInvariant(),
    };

    private static JsonObject Row(Mode mode, string source, double? target, RunResult r) => new()
    {
        ["mode"] = Name(mode), ["source"] = source, ["target_events_per_s"] = target,
        ["events_per_s"] = Math.Round(r.Rate), ["p50_us"] = r.P50, ["p99_us"] = r.P99, ["fine_tunes"] = r.FineTunes, ["swaps"] = r.Swaps,
        ["seconds"] = Math.Round(r.Seconds, 3), ["trainer_cpu_s"] = Math.Round(r.TrainerCpuSeconds, 3), ["trainer_cores"] = Math.Round(r.TrainerCores, 3),
        ["trainer_cpu_share"] = Math.Round(r.TrainerShare, 4), ["process_cpu_s"] = Math.Round(r.ProcessCpuSeconds, 3),
        ["gc_gen0"] = r.Gen0, ["gc_gen1"] = r.Gen1, ["gc_gen2"] = r.Gen2, ["gc_pause_ms"] = Math.Round(r.GcPauseMs, 2),
        ["lock_contentions"] = r.LockContentions, ["trainer_priority"] = r.Priority, ["allocated_mb"] = Math.Round(r.AllocatedMb, 2),
    };

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    private static async Task<JsonObject> RunAsync(int events, int keys, int hidden, double rate, double seconds, int workers, TrainerSettings trainerSettings, int repeats, CancellationToken ct)
    {
        var gen = new TickGenerator(new TickGeneratorOptions { Keys = keys, Seed = 3, EventsPerKeyPerSecond = 10 });
        var keyBytes = Enumerable.Range(0, keys).Select(k => gen.GetKeyUtf8(k).ToArray()).ToArray();
        var count = Math.Max(events, (int)(rate * seconds));
        var messages = new byte[count][];
        var keyIndex = new int[count];
        var buffer = new byte[EventJson.MaxEventBytes];
        for (var i = 0; i < count; i++)
        {
            var info = gen.Next(buffer, out var n);
            messages[i] = buffer.AsSpan(0, n).ToArray();
            keyIndex[i] = info.KeyIndex;
        }

        var capOptions = new OnlineOptions { MaxCores = 1, DutyCycle = trainerSettings.DutyCycle, MaxCpuShare = trainerSettings.MaxCpuShare };
        var cap = capOptions.TrainerCores(Environment.ProcessorCount);
        Console.WriteLine($"online trainer off/on: {keys:N0} tick keys, H={hidden}, 2 layers, {workers} worker(s); trainer priority {trainerSettings.Priority.ToString().ToLowerInvariant()}, " +
            $"CPU cap {cap:F2} of {Environment.ProcessorCount} cores; unpaced {events:N0} events x {repeats} interleaved repeats; paced {rate:N0}/s for {seconds} s");
        var feedNs = FeedCost(keys, hidden);
        Console.WriteLine($"replay feed, single thread: {feedNs:N1} ns/event (lock per 512-event batch, inputs copy, surprise, snapshot every 32)");
        Console.WriteLine("{0,-24} {1,-8} {2,12} {3,9} {4,9} {5,6} {6,6} {7,8} {8,13} {9,9} {10,8} {11,9}", "mode", "source", "events/s", "p50 µs", "p99 µs", "fits", "swaps",
            "trainer", "GC 0/1/2", "GC ms", "locks", "alloc MB");
        // Off and trainer side by side, so each on/off ratio compares two runs a few seconds apart.
        var modes = new[] { Mode.Off, Mode.Trainer, Mode.TrainerNoPromote, Mode.ReplayOnly, Mode.TrainerNormalPriority };
        foreach (var mode in modes) await Run(mode, 0, Math.Min(events, 100_000)).ConfigureAwait(false); // warm-up: tiered JIT of every path

        void Print(Mode mode, string source, RunResult r) => Console.WriteLine("{0,-24} {1,-8} {2,12:N0} {3,9:N0} {4,9:N0} {5,6} {6,6} {7,8:P1} {8,13} {9,9:F1} {10,8} {11,9:F1}",
            Name(mode), source, r.Rate, r.P50, r.P99, r.FineTunes, r.Swaps, r.TrainerShare, $"{r.Gen0}/{r.Gen1}/{r.Gen2}", r.GcPauseMs, r.LockContentions, r.AllocatedMb);

        // Unpaced: the modes interleaved, repeat after repeat, so a load swing of the shared machine hits every mode alike.
        var runs = modes.ToDictionary(m => m, _ => new List<RunResult>());
        var repeatRows = new JsonArray();
        for (var rep = 0; rep < repeats; rep++)
        {
            // The order alternates (off first, then trainer first) so a drift within a repeat favours neither side.
            foreach (var mode in rep % 2 == 0 ? modes : modes.Reverse())
            {
                var r = await Run(mode, 0, events).ConfigureAwait(false);
                runs[mode].Add(r);
                Print(mode, $"unpaced{rep + 1}", r);
                var row = Row(mode, "unpaced", null, r);
                row["repeat"] = rep + 1;
                repeatRows.Add(row);
            }
        }

        var rows = new JsonArray();
        foreach (var mode in modes)
        {
            // The mode's median run (by events/s) stands for it.
            var median = runs[mode].OrderBy(r => r.Rate).ElementAt((runs[mode].Count - 1) / 2);
            rows.Add(Row(mode, "unpaced", null, median));
        }

        foreach (var mode in modes)
        {
            var r = await Run(mode, rate, (int)(rate * seconds)).ConfigureAwait(false);
            Print(mode, "paced", r);
            rows.Add(Row(mode, "paced", rate, r));
        }

        double[] Ratios(Mode on) => Enumerable.Range(0, repeats).Select(i => runs[on][i].Rate / runs[Mode.Off][i].Rate).ToArray();
        var ratios = Ratios(Mode.Trainer);
        var ratiosNoPromote = Ratios(Mode.TrainerNoPromote);
        var ratiosNormal = Ratios(Mode.TrainerNormalPriority);
        var ratio = Median(ratios);
        double P99(Mode mode) => rows.First(r => (string)r!["mode"]! == Name(mode) && (string)r!["source"]! == "paced")!["p99_us"]!.GetValue<double>();
        Console.WriteLine($"throughput with the trainer on (every candidate promoted): median {ratio:P1} of off over {repeats} interleaved pairs " +
            $"({string.Join(", ", ratios.Select(x => x.ToString("P1", System.Globalization.CultureInfo.InvariantCulture)))}; goal >= 90 %); gate rejecting: {Median(ratiosNoPromote):P1}; " +
            $"trainer at normal priority: {Median(ratiosNormal):P1}");
        Console.WriteLine($"paced p99: off {P99(Mode.Off):N0} µs, trainer {P99(Mode.Trainer):N0} µs, trainer at normal priority {P99(Mode.TrainerNormalPriority):N0} µs");
        var priorityApplied = runs[Mode.Trainer].Select(r => r.Priority).FirstOrDefault(p => p.Length > 0) ?? "";
        Console.WriteLine($"trainer thread priority: {priorityApplied}");
        return new JsonObject
        {
            ["machine"] = new JsonObject { ["cores"] = Environment.ProcessorCount, ["note"] = "shared CPU; other jobs may run at the same time" },
            ["keys"] = keys, ["hidden"] = hidden, ["layers"] = 2, ["workers"] = workers, ["trainer_max_cores"] = 1, ["trainer_duty_cycle"] = trainerSettings.DutyCycle,
            ["trainer_max_cpu_share"] = trainerSettings.MaxCpuShare, ["trainer_cap_cores"] = Math.Round(cap, 3),
            ["trainer_priority"] = trainerSettings.Priority.ToString().ToLowerInvariant(), ["trainer_priority_applied"] = priorityApplied,
            ["repeats"] = repeats, ["events_per_unpaced_run"] = events,
            ["replay_feed_ns_per_event"] = Math.Round(feedNs, 1),
            ["rows"] = rows,
            ["unpaced_runs"] = repeatRows,
            ["throughput_ratio_trainer_on_vs_off"] = Math.Round(ratio, 3),
            ["throughput_ratios_trainer_on_vs_off"] = new JsonArray(ratios.Select(x => (JsonNode?)Math.Round(x, 3)).ToArray()),
            ["throughput_ratio_gate_rejects_vs_off"] = Math.Round(Median(ratiosNoPromote), 3),
            ["throughput_ratio_normal_priority_vs_off"] = Math.Round(Median(ratiosNormal), 3),
        };

        async Task<RunResult> Run(Mode mode, double pacedRate, int n)
        {
            var model = LstmModel.CreateRandom(new LstmConfig(3, hidden, 2, 5), 7);
            model.Metadata = model.Metadata with { Version = "bench" };
            var models = new Dictionary<SourceKind, LstmModel> { [SourceKind.Tick] = model };
            var options = new PipelineOptions
            {
                Workers = workers, MaxBatch = 512, ChunkSize = 1024, ChannelCapacity = 16, InitialSlots = keys + 1024,
                MaxWait = pacedRate > 0 ? TimeSpan.FromMilliseconds(1) : TimeSpan.Zero,
            };
            var pipeline = new StreamPipeline(options, models, [new NullOutput()], new CountingDeadLetterSink());
            // Trainer: every candidate is promoted (margin 0), so hot swaps happen too; TrainerNoPromote: the gate rejects all;
            // TrainerNormalPriority: promoted, the trainer thread left at normal priority (the peer that shows what the priority buys).
            var onlineOptions = new OnlineOptions
            {
                Enabled = mode != Mode.Off, GateMargin = mode == Mode.TrainerNoPromote ? 100 : 0, RmseTolerance = 1, MaxCores = 1, Window = 256, SnapshotEvery = 32, WindowLength = 32,
                DutyCycle = trainerSettings.DutyCycle, MaxCpuShare = trainerSettings.MaxCpuShare,
                TrainerPriority = mode == Mode.TrainerNormalPriority ? TrainerPriority.Normal : trainerSettings.Priority,
            };
            OnlineLearning? online = null;
            if (mode != Mode.Off)
            {
                online = new OnlineLearning(models, onlineOptions);
                pipeline.AttachOnline(online);
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            long fineTunes = 0;
            Thread? trainer = null;
            OnlineTrainerService? service = null;
            var applied = "";
            if (mode is Mode.Trainer or Mode.TrainerNoPromote or Mode.TrainerNormalPriority)
            {
                // Back-to-back fine-tunes for the whole run, on the service's own lowered thread: the worst case for the serving path.
                service = new OnlineTrainerService(online!, TimeProvider.System, NullLogger<OnlineTrainerService>.Instance);
                trainer = service.Threads.Start(a =>
                {
                    applied = a.ToString();
                    while (!stop.IsCancellationRequested)
                    {
                        if (service.RetrainNow(SourceKind.Tick, TriggerReason.Manual, stop.Token) is null) stop.Token.WaitHandle.WaitOne(50); // too little history yet
                        else Interlocked.Increment(ref fineTunes);
                    }
                }, "online-trainer-bench");
            }

            var source = new InProcessSource(pipeline);
            var partitionOf = TickFeed.PartitionsOf(keyBytes.Length, 16);
            GC.Collect();
            var gc0 = GC.CollectionCount(0);
            var gc1 = GC.CollectionCount(1);
            var gc2 = GC.CollectionCount(2);
            var pause0 = GC.GetTotalPauseDuration();
            var locks0 = Monitor.LockContentionCount;
            var alloc0 = GC.GetTotalAllocatedBytes();
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var trainerCpu0 = service?.CpuTime ?? TimeSpan.Zero;
            pipeline.Start(ct);
            var sw = Stopwatch.StartNew();
            await TickFeed.RunAsync(source, messages, keyBytes, keyIndex, partitionOf, n, pacedRate, ct).ConfigureAwait(false);
            await pipeline.CompleteAsync(ct).ConfigureAwait(false);
            sw.Stop();
            var gcPause = GC.GetTotalPauseDuration() - pause0;
            (int g0, int g1, int g2) = (GC.CollectionCount(0) - gc0, GC.CollectionCount(1) - gc1, GC.CollectionCount(2) - gc2);
            var locks = Monitor.LockContentionCount - locks0;
            var allocated = GC.GetTotalAllocatedBytes() - alloc0;
            var processCpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
            await stop.CancelAsync().ConfigureAwait(false);
            trainer?.Join();
            // The fine-tune cut short by the stop is counted too (its CPU is added when it returns); it ran during the run.
            var trainerCpu = (service?.CpuTime ?? TimeSpan.Zero) - trainerCpu0;
            service?.Dispose();
            var hist = new LatencyHistogram();
            foreach (var m in pipeline.Metrics) hist.Add(m.Latency);
            return new RunResult(n / sw.Elapsed.TotalSeconds, hist.Quantile(0.5), hist.Quantile(0.99), Interlocked.Read(ref fineTunes), online?.For(SourceKind.Tick)!.Swaps ?? 0,
                sw.Elapsed.TotalSeconds, trainerCpu.TotalSeconds, processCpu.TotalSeconds, g0, g1, g2, gcPause.TotalMilliseconds, locks, applied, allocated / 1e6);
        }
    }

    // The replay buffer's cost per event on its own (what a worker adds per event), free of the machine's load swings.
    private static double FeedCost(int keys, int hidden)
    {
        var cfg = new LstmConfig(3, hidden, 2, 5);
        var slab = new Model.State.StateSlab(cfg, keys);
        for (var k = 0; k < keys; k++) slab.Allocate();
        var online = new OnlineKind(SourceKind.Tick, LstmModel.CreateRandom(cfg, 1), new OnlineOptions { Window = 256, SnapshotEvery = 32 });
        var replay = online.Replay;
        replay.BeginFeed();
        var rings = Enumerable.Range(0, keys).Select(k => replay.RingFor("k" + k)).ToArray();
        replay.EndFeed();
        var x = new float[3 * 512];
        const int n = 2_000_000;
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < n; i += 512)
        {
            replay.BeginFeed();
            for (var r = 0; r < 512; r++)
            {
                var k = (i + r) % keys;
                replay.Record(rings[k], x.AsSpan(r * 3, 3), slab, k, i + r);
                Online.Replay.ReplayBuffer.Forecast(rings[k], 0.1f, -0.5f);
            }

            replay.EndFeed();
        }

        return sw.Elapsed.TotalNanoseconds / n;
    }

    private sealed class NullOutput : IForecastOutput
    {
        public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
