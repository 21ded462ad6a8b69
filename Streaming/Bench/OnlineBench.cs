using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Online.Triggers;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// <c>online</c>: pipeline throughput (source unpaced) and event→forecast latency (source paced at the demo's rate) with
/// online learning off, with only the replay buffer fed, with the trainer fine-tuning back to back on its own below-normal
/// thread and the gate rejecting every candidate, and the same with every candidate promoted (hot swaps during the run).
/// </summary>
public static class OnlineBench
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("online", "Pipeline events/s and p99 latency with the online trainer off and on.");
        var events = new Option<int>("--events") { Description = "Events per unpaced run", DefaultValueFactory = _ => 400_000 };
        var keys = new Option<int>("--keys") { Description = "Keys (symbols)", DefaultValueFactory = _ => 500 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden size H (the demo trains 32)", DefaultValueFactory = _ => 32 };
        var rate = new Option<double>("--rate") { Description = "Paced rate, events/s (the demo's default load is about 10 K/s)", DefaultValueFactory = _ => 10_000 };
        var seconds = new Option<double>("--seconds") { Description = "Seconds per paced run", DefaultValueFactory = _ => 8 };
        var workers = new Option<int>("--workers") { Description = "Pipeline workers", DefaultValueFactory = _ => 1 };
        var duty = new Option<double>("--duty-cycle") { Description = "Online:DutyCycle of the trainer (1: no pause between steps)", DefaultValueFactory = _ => 0.25 };
        var output = new Option<string>("--out") { Description = "JSON output path", DefaultValueFactory = _ => "artifacts/bench/online.json" };
        foreach (var o in new Option[] { events, keys, hidden, rate, seconds, workers, duty, output }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var result = await RunAsync(parse.GetValue(events), parse.GetValue(keys), parse.GetValue(hidden), parse.GetValue(rate), parse.GetValue(seconds), parse.GetValue(workers), parse.GetValue(duty), ct).ConfigureAwait(false);
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
    }

    private static async Task<JsonObject> RunAsync(int events, int keys, int hidden, double rate, double seconds, int workers, double dutyCycle, CancellationToken ct)
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

        Console.WriteLine($"online trainer off/on: {keys:N0} tick keys, H={hidden}, 2 layers, {workers} worker(s), trainer duty cycle {dutyCycle}; unpaced {events:N0} events; paced {rate:N0}/s for {seconds} s");
        Console.WriteLine("{0,-17} {1,-8} {2,14} {3,10} {4,10} {5,11} {6,9}", "mode", "source", "events/s", "p50 µs", "p99 µs", "fine-tunes", "swaps");
        var feedNs = FeedCost(keys, hidden);
        Console.WriteLine($"replay feed, single thread: {feedNs:N1} ns/event (lock per 512-event batch, inputs copy, surprise, snapshot every 32)");
        var rows = new JsonArray();
        var modes = new[] { Mode.Off, Mode.ReplayOnly, Mode.TrainerNoPromote, Mode.Trainer };
        foreach (var mode in modes) await Run(mode, 0, Math.Min(events, 100_000)).ConfigureAwait(false); // warm-up: tiered JIT of every path
        foreach (var paced in new[] { false, true })
        {
            foreach (var mode in modes)
            {
                // Unpaced: best of two interleaved runs (the CPU is shared with other jobs); paced: one run.
                var r = await Run(mode, paced ? rate : 0, paced ? (int)(rate * seconds) : events).ConfigureAwait(false);
                if (!paced)
                {
                    var again = await Run(mode, 0, events).ConfigureAwait(false);
                    if (again.Rate > r.Rate) r = again;
                }

                Console.WriteLine("{0,-17} {1,-8} {2,14:N0} {3,10:N0} {4,10:N0} {5,11} {6,9}", mode, paced ? "paced" : "unpaced", r.Rate, r.P50, r.P99, r.FineTunes, r.Swaps);
                rows.Add(new JsonObject
                {
                    ["mode"] = mode.ToString().ToLowerInvariant(), ["source"] = paced ? "paced" : "unpaced", ["target_events_per_s"] = paced ? rate : null,
                    ["events_per_s"] = Math.Round(r.Rate), ["p50_us"] = r.P50, ["p99_us"] = r.P99, ["fine_tunes"] = r.FineTunes, ["swaps"] = r.Swaps,
                });
            }
        }

        double Rate(string mode, string source) => rows.First(r => (string)r!["mode"]! == mode && (string)r!["source"]! == source)!["events_per_s"]!.GetValue<double>();
        var ratio = Rate("trainer", "unpaced") / Rate("off", "unpaced");
        Console.WriteLine($"throughput with the trainer on: {ratio:P1} of off (goal >= 90 %)");
        return new JsonObject
        {
            ["machine"] = new JsonObject { ["cores"] = Environment.ProcessorCount, ["note"] = "shared CPU; other jobs may run at the same time" },
            ["keys"] = keys, ["hidden"] = hidden, ["layers"] = 2, ["workers"] = workers, ["trainer_max_cores"] = 1, ["trainer_duty_cycle"] = dutyCycle,
            ["replay_feed_ns_per_event"] = Math.Round(feedNs, 1),
            ["rows"] = rows,
            ["throughput_ratio_trainer_on_vs_off"] = Math.Round(ratio, 3),
        };

        async Task<(double Rate, double P50, double P99, long FineTunes, long Swaps)> Run(Mode mode, double pacedRate, int n)
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
            // Trainer: every candidate is promoted (margin 0), so hot swaps happen too; TrainerNoPromote: the gate rejects all.
            var onlineOptions = new OnlineOptions
            {
                Enabled = mode != Mode.Off, GateMargin = mode == Mode.Trainer ? 0 : 100, RmseTolerance = 1, MaxCores = 1, Window = 256, SnapshotEvery = 32, WindowLength = 32,
                DutyCycle = dutyCycle,
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
            if (mode is Mode.Trainer or Mode.TrainerNoPromote)
            {
                // Back-to-back fine-tunes for the whole run: the worst case for the serving path.
                var service = new OnlineTrainerService(online!, TimeProvider.System, NullLogger<OnlineTrainerService>.Instance);
                trainer = new Thread(() =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        if (service.RetrainNow(SourceKind.Tick, TriggerReason.Manual, stop.Token) is null) Thread.Sleep(50); // too little history yet
                        else Interlocked.Increment(ref fineTunes);
                    }
                }) { IsBackground = true, Priority = ThreadPriority.BelowNormal, Name = "online-trainer-bench" };
                trainer.Start();
            }

            var source = new InProcessSource(pipeline);
            GC.Collect();
            pipeline.Start(ct);
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < n; i++)
            {
                var k = keyIndex[i];
                await source.AddAsync(SourceKind.Tick, k % 16, keyBytes[k], messages[i], ct).ConfigureAwait(false);
                if (pacedRate > 0 && i % 64 == 63)
                {
                    await source.FlushAsync(ct).ConfigureAwait(false);
                    var due = TimeSpan.FromSeconds((i + 1) / pacedRate) - sw.Elapsed;
                    if (due > TimeSpan.FromMilliseconds(1)) await Task.Delay(due, ct).ConfigureAwait(false);
                }
            }

            await source.FlushAsync(ct).ConfigureAwait(false);
            await pipeline.CompleteAsync(ct).ConfigureAwait(false);
            sw.Stop();
            await stop.CancelAsync().ConfigureAwait(false);
            trainer?.Join();
            var hist = new LatencyHistogram();
            foreach (var m in pipeline.Metrics) hist.Add(m.Latency);
            return (n / sw.Elapsed.TotalSeconds, hist.Quantile(0.5), hist.Quantile(0.99), Interlocked.Read(ref fineTunes), online?.For(SourceKind.Tick)!.Swaps ?? 0);
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
                replay.Record(rings[k], x.AsSpan(r * 3, 3), slab, k);
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
