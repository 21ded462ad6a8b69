using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Generators;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Sink.Kafka;
using StreamLstm.Streaming.Cli;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// <c>pipeline</c>: events/s and event→forecast latency. <c>core</c> feeds pre-encoded tick JSON for many keys through
/// the in-process source (decode, features, micro-batched LSTM step, forecast batch; no Kafka) with 1 and 2 workers.
/// <c>kafka</c> runs the same through the embedded mock cluster and splits the time: the bare client drain rate
/// (client + mock broker), our pipeline's own rate (core), and the forecasts-topic producer.
/// </summary>
public static class PipelineBench
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("pipeline", "Pipeline events/s and latency, in-process and through Kafka.");
        var events = new Option<int>("--events") { Description = "Events per core run", DefaultValueFactory = _ => 2_000_000 };
        events.Check(v => v < 1 ? "--events must be 1 or more." : null);
        var keys = new Option<int>("--keys") { Description = "Keys (symbols)", DefaultValueFactory = _ => 100_000 };
        keys.Check(v => v < 1 ? "--keys must be 1 or more." : null);
        var hidden = new Option<int>("--hidden") { Description = "Hidden size H", DefaultValueFactory = _ => 64 };
        hidden.Check(v => v is < 1 or > 4096 ? "--hidden must be 1..4096." : null);
        var workers = new Option<string>("--workers") { Description = "Worker counts to run, comma-separated", DefaultValueFactory = _ => "1,2" };
        var kafkaEvents = new Option<int>("--kafka-events") { Description = "Events through the mock cluster (≤ ~100K per partition)", DefaultValueFactory = _ => 400_000 };
        kafkaEvents.Check(v => v < 0 ? "--kafka-events must be 0 or more." : null);
        var output = new Option<string>("--out") { Description = "JSON output path", DefaultValueFactory = _ => "artifacts/bench/pipeline.json" };
        command.Options.Add(events);
        command.Options.Add(keys);
        command.Options.Add(hidden);
        command.Options.Add(workers);
        command.Options.Add(kafkaEvents);
        var runs = new Option<string>("--runs") { Description = "Parts to run: core, kafka (throughput and the limit), paced (latency through Kafka), transport (latency of the ticks alone: the client + broker floor)", DefaultValueFactory = _ => "core,kafka,paced,transport" };
        var latency = new Option<string>("--latency") { Description = "Latency profiles (Pipeline:Latency) the paced run is measured with, comma-separated", DefaultValueFactory = _ => "low,balanced" };
        var pacedSeconds = new Option<int>("--paced-seconds") { Description = "Measured seconds per paced run", DefaultValueFactory = _ => 10 };
        pacedSeconds.Check(v => v < 1 ? "--paced-seconds must be 1 or more." : null);
        var produceRows = new Option<int>("--produce-rows") { Description = "Forecast rows per produce-only run (the limit's produce side)", DefaultValueFactory = _ => 200_000 };
        produceRows.Check(v => v < 0 ? "--produce-rows must be 0 or more." : null);
        var pacedPartitions = new Option<string>("--paced-partitions") { Description = "Partitions of the ticks and forecasts topics in the paced and transport runs, comma-separated: each count is a full set of runs", DefaultValueFactory = _ => "8" };
        var pacedNagle = new Option<string>("--paced-nagle") { Description = "Nagle's algorithm in the paced and transport runs, comma-separated, each value a full set of runs: profile (clients as the latency profile says, off for --knobs runs; broker TCP_NODELAY), on (disabled on the clients and the mock broker), off (enabled on both), clients (disabled on the clients only), broker (on the mock broker only)", DefaultValueFactory = _ => "profile" };
        var pacedRetention = new Option<string>("--paced-retention-ms") { Description = "Cut the mock broker's logs in the paced and transport runs every N ms to the last N-2N ms (0: never; the mock walks a log from its start on every fetch), comma-separated: each value a full set of runs", DefaultValueFactory = _ => "0" };
        var knobs = new Option<string>("--knobs") { Description = "Extra paced runs with explicit settings, 'tickLingerMs,fetchWaitMaxMs,maxWaitMs,forecastLingerMs[,channelCapacity]' separated by ';' (tuning)", DefaultValueFactory = _ => "" };
        command.Options.Add(knobs);
        command.Options.Add(output);
        command.Options.Add(runs);
        command.Options.Add(latency);
        command.Options.Add(pacedSeconds);
        command.Options.Add(pacedPartitions);
        command.Options.Add(pacedNagle);
        command.Options.Add(pacedRetention);
        command.Options.Add(produceRows);
        command.SetAction(async (parse, ct) =>
        {
            var workerCounts = parse.GetValue(workers)!.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            var parts = parse.GetValue(runs)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
            var profiles = parse.GetValue(latency)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(p => Enum.Parse<LatencyProfile>(p, ignoreCase: true)).ToArray();
            var extra = parse.GetValue(knobs)!.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(k => k.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray())
                .Select(v => new KafkaPacedBench.Knobs(v[0], (int)v[1], v[2], v[3], 256, v.Length > 4 ? (int)v[4] : 16)).ToArray();
            var partitionCounts = parse.GetValue(pacedPartitions)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            var nagle = parse.GetValue(pacedNagle)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(v => v.ToLowerInvariant() switch
            {
                "profile" => (Clients: (bool?)null, Broker: true),
                "on" => (true, true),
                "off" => (false, false),
                "clients" => (true, false),
                "broker" => (false, true),
                _ => throw new ArgumentException($"--paced-nagle: '{v}' is not profile, on, off, clients or broker"),
            }).ToArray();
            var retentions = parse.GetValue(pacedRetention)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            var plan = new Plan(parts, profiles, TimeSpan.FromSeconds(parse.GetValue(pacedSeconds)), parse.GetValue(produceRows), extra, partitionCounts, nagle, retentions);
            var result = await RunAsync(parse.GetValue(events), parse.GetValue(keys), parse.GetValue(hidden), workerCounts, parse.GetValue(kafkaEvents), plan, ct).ConfigureAwait(false);
            var path = parse.GetValue(output)!;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            await File.WriteAllTextAsync(path, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
            Console.WriteLine($"wrote {path}");
            return 0;
        });
        return command;
    }

    // PacedPartitions: each count a full set of transport and paced runs; PacedNagle per set: Nagle disabled (true), enabled (false) or the knobs' (null), on the clients and on the mock broker.
    private sealed record Plan(HashSet<string> Parts, LatencyProfile[] Profiles, TimeSpan PacedDuration, int ProduceRows, KafkaPacedBench.Knobs[] ExtraKnobs, int[] PacedPartitions, (bool? Clients, bool Broker)[] PacedNagle, int[] PacedRetentionMs);

    private static async Task<JsonObject> RunAsync(int events, int keys, int hidden, int[] workerCounts, int kafkaEvents, Plan plan, CancellationToken ct)
    {
        var model = LstmModel.CreateRandom(new LstmConfig(3, hidden, 1, 5), 7);
        model.Metadata = model.Metadata with { Version = "bench" };
        var models = new Dictionary<SourceKind, LstmModel> { [SourceKind.Tick] = model };
        var core = new JsonArray();
        var paced = new JsonArray();
        JsonObject? phases = null;
        if (plan.Parts.Contains("core")) (phases, core, paced) = await CoreAsync(models, events, keys, hidden, workerCounts, ct).ConfigureAwait(false);

        var kafka = kafkaEvents > 0 && plan.Parts.Contains("kafka") ? await KafkaRunAsync(models, kafkaEvents, keys, workerCounts.Max(), core, plan.ProduceRows, ct).ConfigureAwait(false) : null;
        JsonArray? kafkaPaced = plan.Parts.Contains("paced") ? [] : null;
        JsonArray? transport = plan.Parts.Contains("transport") ? [] : null;
        // Each variant (partition count × Nagle × retention) is a full set of runs, one variant after the other: same-run comparisons.
        foreach (var (partitions, nagle, retention) in plan.PacedPartitions.SelectMany(p => plan.PacedNagle.SelectMany(n => plan.PacedRetentionMs.Select(r => (p, n, r)))))
        {
            KafkaPacedBench.Knobs Variant(KafkaPacedBench.Knobs k) => k with { Partitions = partitions, NagleDisable = nagle.Clients ?? k.NagleDisable, BrokerNagleDisable = nagle.Broker, RetentionMs = retention };
            if (transport is not null)
            {
                // No pipeline: ticks produced and read back at the same rate, with the low profile's fetch wait, linger and sockets.
                var low = Variant(KafkaPacedBench.Knobs.Of(LatencyProfile.Low) with { ChunkSize = 0 });
                Move(await KafkaPacedBench.RunAsync(models, Math.Min(keys, 10_000), workerCounts.Max(), [20_000], plan.PacedDuration, ct, low, "transport only ").ConfigureAwait(false), transport);
            }

            if (kafkaPaced is null) continue;
            var runsToDo = plan.Profiles.Select(p => (Knobs: KafkaPacedBench.Knobs.Of(p), Label: p.ToString().ToLowerInvariant() + " "))
                .Concat(plan.ExtraKnobs.Select(k => (Knobs: k, Label: "custom ")));
            foreach (var (k, label) in runsToDo)
            {
                Move(await KafkaPacedBench.RunAsync(models, Math.Min(keys, 10_000), workerCounts.Max(), [20_000], plan.PacedDuration, ct, Variant(k), label).ConfigureAwait(false), kafkaPaced);
            }
        }

        return new JsonObject
        {
            ["machine"] = new JsonObject { ["cores"] = Environment.ProcessorCount, ["os"] = Environment.OSVersion.ToString(), ["dotnet"] = Environment.Version.ToString(), ["note"] = "shared CPU; other jobs may run at the same time" },
            ["core_phase_ns_per_event_single_thread"] = phases,
            ["core"] = core,
            ["core_paced"] = paced,
            ["kafka"] = kafka,
            ["limit_ratio"] = kafka?["limit_ratio"]?.DeepClone(),
            ["kafka_paced"] = kafkaPaced,
            ["kafka_transport_paced"] = transport,
        };
    }

    /// <summary>Moves every row of <paramref name="from"/> to <paramref name="to"/> (a JSON node has one parent).</summary>
    private static void Move(JsonArray from, JsonArray to)
    {
        foreach (var row in from.ToArray())
        {
            from.Remove(row);
            to.Add(row);
        }
    }

    private static async Task<(JsonObject Phases, JsonArray Core, JsonArray Paced)> CoreAsync(Dictionary<SourceKind, LstmModel> models, int events, int keys, int hidden, int[] workerCounts, CancellationToken ct)
    {
        var model = models[SourceKind.Tick];
        Console.WriteLine($"generating {events:N0} tick events for {keys:N0} symbols...");
        var messages = Generate(events, keys, out var keyBytes, out var keyIndex);

        Phases(model, messages, keyBytes.Length); // warm-up: tiered JIT
        var phases = Phases(model, messages, keyBytes.Length);
        Console.WriteLine("single-thread phase costs (ns/event): " + string.Join(", ", phases.Select(p => $"{p.Key} {p.Value!.GetValue<double>():N0}")));
        var core = new JsonArray();
        Console.WriteLine();
        Console.WriteLine("core (in-process source, no Kafka), H={0}, {1:N0} keys", hidden, keys);
        Console.WriteLine("{0,8} {1,14} {2,10} {3,10} {4,10} {5,12}", "workers", "events/s", "p50 µs", "p99 µs", "batch", "cpu ns/ev");
        foreach (var w in workerCounts)
        {
            var r = await CoreRunAsync(models, messages, keyBytes, keyIndex, w, ct).ConfigureAwait(false);
            Console.WriteLine("{0,8} {1,14:N0} {2,10:N0} {3,10:N0} {4,10:N1} {5,12:N0}", w, r.Rate, r.P50, r.P99, r.MeanBatch, r.CpuNsPerEvent);
            // Where the CPU went: per thread group (the source is the bench's own thread), and the workers' step (wall).
            if (r.Profile is { } cpu) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"         µs/event by thread: {cpu.Format(r.ProfiledEvents)}; step+denormalise+score {r.StepUs:N3} µs/event (wall)"));
            var row = new JsonObject
            {
                ["workers"] = w, ["keys"] = keys, ["hidden"] = hidden, ["layers"] = 1, ["events"] = events,
                ["seconds"] = Math.Round(r.Seconds, 3), ["events_per_s"] = Math.Round(r.Rate), ["p50_us"] = r.P50, ["p99_us"] = r.P99,
                ["mean_batch"] = Math.Round(r.MeanBatch, 1), ["cpu_ns_per_event"] = Math.Round(r.CpuNsPerEvent),
                ["step_us_per_event"] = Math.Round(r.StepUs, 4),
            };
            if (r.Profile is { } p) row["profile"] = p.ToJson(r.ProfiledEvents);
            core.Add(row);
        }

        // Latency at saturation is queueing; measure it again with the source paced at half the best rate.
        var best = core.Max(c => c!["events_per_s"]!.GetValue<double>());
        var bestWorkers = core.First(c => c!["events_per_s"]!.GetValue<double>() == best)!["workers"]!.GetValue<int>();
        var paced = new JsonArray();
        Console.WriteLine();
        Console.WriteLine("core, source paced (latency below saturation)");
        Console.WriteLine("{0,8} {1,14} {2,10} {3,10} {4,10}", "workers", "events/s", "p50 µs", "p99 µs", "batch");
        foreach (var fraction in new[] { 0.25, 0.5 })
        {
            var rate = best * fraction;
            var r = await CoreRunAsync(models, messages, keyBytes, keyIndex, bestWorkers, ct, rate).ConfigureAwait(false);
            Console.WriteLine("{0,8} {1,14:N0} {2,10:N0} {3,10:N0} {4,10:N1}", bestWorkers, r.Rate, r.P50, r.P99, r.MeanBatch);
            paced.Add(new JsonObject
            {
                ["workers"] = bestWorkers, ["target_events_per_s"] = Math.Round(rate), ["events_per_s"] = Math.Round(r.Rate),
                ["p50_us"] = r.P50, ["p99_us"] = r.P99, ["mean_batch"] = Math.Round(r.MeanBatch, 1), ["max_wait_ms"] = 1,
            });
        }

        return (phases, core, paced);
    }

    /// <summary>Single-thread cost of each stage of the hot path, measured apart.</summary>
    private static JsonObject Phases(LstmModel model, byte[][] messages, int keys)
    {
        var n = Math.Min(messages.Length, 200_000);
        var decoder = Ingest.Decoding.EventDecoder.For(SourceKind.Tick);
        var raw = new double[decoder.ValueCount];
        var ts = new long[n];
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < n; i++) decoder.Decode(messages[i], raw, out ts[i], out _);
        var decodeNs = sw.Elapsed.TotalNanoseconds / n;
        decoder.FastPath = false;
        sw.Restart();
        for (var i = 0; i < n; i++) decoder.Decode(messages[i], raw, out ts[i], out _);
        var generalNs = sw.Elapsed.TotalNanoseconds / n;

        var features = Ingest.Features.FeatureExtractor.For(SourceKind.Tick);
        features.EnsureCapacity(keys);
        var x = new float[3];
        var rng = new Random(1);
        raw[0] = 100;
        raw[1] = 10;
        sw.Restart();
        for (var i = 0; i < n; i++)
        {
            raw[0] *= 1 + 1e-4 * (i % 3 - 1);
            features.Extract(i % keys, raw, i, x);
        }

        var featureNs = sw.Elapsed.TotalNanoseconds / n;
        var mu = new float[5];
        var sigma = new float[5];
        sw.Restart();
        for (var i = 0; i < n; i++) features.Denormalise(i % keys, mu, mu, mu, sigma);
        var denormNs = sw.Elapsed.TotalNanoseconds / n;

        const int b = 512;
        var slab = new Model.State.StateSlab(model.Config, keys);
        var slots = new int[b];
        for (var i = 0; i < keys; i++) slab.Allocate();
        var stepper = new Model.Inference.LstmStepper(model, b);
        var xb = new float[b * 3];
        var mub = new float[b * 5];
        var lsb = new float[b * 5];
        var rounds = Math.Max(1, n / b);
        sw.Restart();
        for (var r = 0; r < rounds; r++)
        {
            for (var j = 0; j < b; j++) slots[j] = (r * b + j * 97) % keys;
            stepper.Step(slab, slots, xb, mub, lsb);
        }

        var stepNs = sw.Elapsed.TotalNanoseconds / (rounds * b);

        // The workers' lookup: the key's UTF-8 bytes straight into the slot table.
        var table = new KeySlotTable();
        table.EnsureCapacity(keys);
        var owner = new PartitionState("ticks", 0, SourceKind.Tick, 0);
        var names = new byte[keys][];
        for (var k = 0; k < keys; k++)
        {
            names[k] = System.Text.Encoding.UTF8.GetBytes("k" + k.ToString(CultureInfo.InvariantCulture));
            table.Add(owner, names[k], k);
        }

        // Against the previous lookup (UTF-16 transcoding into a string-keyed dictionary), same keys in the same order,
        // alternating rounds (best of three each), so a shared machine's noise hits both alike.
        var dict = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var k = 0; k < keys; k++) dict[System.Text.Encoding.UTF8.GetString(names[k])] = k;
        var alternate = dict.GetAlternateLookup<ReadOnlySpan<char>>();
        double lookupNs = double.MaxValue, dictNs = double.MaxValue;
        var found = 0;
        Span<char> chars = stackalloc char[64];
        for (var round = 0; round < 3; round++)
        {
            sw.Restart();
            for (var i = 0; i < n; i++)
            {
                if (table.Find(owner, names[(int)((uint)(i * 7919) % (uint)keys)]) >= 0) found++;
            }

            lookupNs = Math.Min(lookupNs, sw.Elapsed.TotalNanoseconds / n);
            sw.Restart();
            for (var i = 0; i < n; i++)
            {
                var w = System.Text.Encoding.UTF8.GetChars(names[(int)((uint)(i * 7919) % (uint)keys)], chars);
                if (alternate.TryGetValue(chars[..w], out _)) found++;
            }

            dictNs = Math.Min(dictNs, sw.Elapsed.TotalNanoseconds / n);
        }

        if (found != 6 * n) throw new InvalidOperationException("key lookup bench: keys not found");
        return new JsonObject
        {
            ["decode_json"] = Math.Round(decodeNs, 1),
            ["decode_json_general"] = Math.Round(generalNs, 1),
            ["key_lookup"] = Math.Round(lookupNs, 1),
            ["key_lookup_utf16_dict"] = Math.Round(dictNs, 1),
            ["features"] = Math.Round(featureNs, 1),
            ["lstm_step_b512"] = Math.Round(stepNs, 1),
            ["denormalise"] = Math.Round(denormNs, 1),
        };
    }

    private static byte[][] Generate(int events, int keys, out byte[][] keyBytes, out int[] keyIndex)
    {
        var gen = new TickGenerator(new TickGeneratorOptions { Keys = keys, Seed = 3, EventsPerKeyPerSecond = 1 });
        keyBytes = Enumerable.Range(0, keys).Select(k => gen.GetKeyUtf8(k).ToArray()).ToArray();
        var messages = new byte[events][];
        keyIndex = new int[events];
        var buffer = new byte[EventJson.MaxEventBytes];
        for (var i = 0; i < events; i++)
        {
            var info = gen.Next(buffer, out var n);
            messages[i] = buffer.AsSpan(0, n).ToArray();
            keyIndex[i] = info.KeyIndex;
        }

        return messages;
    }

    private sealed record RunResult(double Seconds, double Rate, double P50, double P99, double MeanBatch, double CpuNsPerEvent = 0)
    {
        /// <summary>Where the CPU went (Kafka runs): per thread group, GC.</summary>
        public ThreadCpuProfile.Result? Profile { get; init; }

        /// <summary>Events the profile covers.</summary>
        public long ProfiledEvents { get; init; }

        /// <summary>Wall µs per event the workers spent inside each output's WriteAsync (serialize + produce calls).</summary>
        public double[] OutputUs { get; init; } = [];

        /// <summary>Wall µs per event the workers spent stepping (step + de-normalise + scoring).</summary>
        public double StepUs { get; init; }

        /// <summary>Where the pipeline waited (Kafka runs).</summary>
        public Waits? Wait { get; init; }
    }

    /// <summary>Off-CPU figures of one Kafka run.</summary>
    /// <param name="WorkerInputWait">Fraction of the workers' wall time spent waiting for input (starved).</param>
    /// <param name="InputWaits">How many times the workers found their input empty.</param>
    /// <param name="LanePauses">Consumer backpressure pauses (a lane at its capacity).</param>
    /// <param name="OutputQueueFullWait">Fraction of the workers' wall time spent waiting on a full producer queue.</param>
    /// <param name="Pool">How long a work item queued to the thread pool during the window waited for a pool thread.</param>
    private sealed record Waits(double WorkerInputWait, long InputWaits, long LanePauses, double OutputQueueFullWait, PoolProbe.Result Pool)
    {
        public string Format(ThreadCpuProfile.Result? cpu) =>
            string.Create(CultureInfo.InvariantCulture, $"workers waited for input {WorkerInputWait:P1} of their time ({InputWaits:N0} waits), on a full producer queue {OutputQueueFullWait:P1}; lane pauses {LanePauses:N0}; pool dispatch delay max {Pool.MaxMs:N1} ms, mean {Pool.MeanMs:N1} ms ({Pool.Probes} probes)")
            + (cpu is null ? "" : "; " + cpu.FormatWall("bench-consumer"));

        public JsonObject ToJson() => new()
        {
            ["worker_input_wait_fraction"] = Math.Round(WorkerInputWait, 4),
            ["worker_input_waits"] = InputWaits,
            ["lane_pauses"] = LanePauses,
            ["output_queue_full_wait_fraction"] = Math.Round(OutputQueueFullWait, 4),
            ["pool_dispatch_delay_ms_max"] = Math.Round(Pool.MaxMs, 2),
            ["pool_dispatch_delay_ms_mean"] = Math.Round(Pool.MeanMs, 2),
            ["pool_dispatch_probes"] = Pool.Probes,
        };
    }

    /// <summary>
    /// Measures how long the thread pool takes to start a queued work item: one probe at a time, queued from the window's
    /// own thread every 10 ms. Long delays mean every pool thread was held (e.g. by workers with full lanes) and
    /// the pool's other work (continuations, timers, the barrier's flush) waited for the pool to inject a thread.
    /// </summary>
    private sealed class PoolProbe
    {
        private long _queuedAt;
        private long _maxTicks;
        private long _sumTicks;
        private long _probes;

        /// <summary>Queues a probe unless one is still waiting for a thread.</summary>
        public void Tick()
        {
            if (Interlocked.Read(ref _queuedAt) != 0) return;
            Interlocked.Exchange(ref _queuedAt, Stopwatch.GetTimestamp());
            ThreadPool.UnsafeQueueUserWorkItem(static p => p.Ran(), this, preferLocal: false);
        }

        /// <summary>The figures so far; a probe still waiting counts with its delay until now.</summary>
        public Result Stop()
        {
            var queued = Interlocked.Read(ref _queuedAt);
            var pending = queued == 0 ? 0 : Stopwatch.GetTimestamp() - queued;
            var probes = Interlocked.Read(ref _probes) + (queued == 0 ? 0 : 1);
            var max = Math.Max(Interlocked.Read(ref _maxTicks), pending);
            var sum = Interlocked.Read(ref _sumTicks) + pending;
            return new Result(max * 1e3 / Stopwatch.Frequency, probes == 0 ? 0 : sum * 1e3 / Stopwatch.Frequency / probes, probes);
        }

        private void Ran()
        {
            var delay = Stopwatch.GetTimestamp() - Interlocked.Read(ref _queuedAt);
            Interlocked.Add(ref _sumTicks, delay);
            Interlocked.Increment(ref _probes);
            if (delay > Interlocked.Read(ref _maxTicks)) Interlocked.Exchange(ref _maxTicks, delay);
            Interlocked.Exchange(ref _queuedAt, 0);
        }

        /// <summary>Delay figures in milliseconds.</summary>
        public readonly record struct Result(double MaxMs, double MeanMs, long Probes);
    }

    /// <summary>The workers' input waits so far in ns, a wait in progress included up to now (Stopwatch ticks: the system clock).</summary>
    private static long InputWaitNsNow(StreamPipeline pipeline)
    {
        var now = Stopwatch.GetTimestamp();
        long ns = 0;
        foreach (var m in pipeline.Metrics)
        {
            ns += Interlocked.Read(ref m.InputWaitNs);
            var since = Volatile.Read(ref m.InputWaitSince);
            if (since != 0 && since < now) ns += (long)((now - since) * 1e9 / Stopwatch.Frequency);
        }

        return ns;
    }

    private static async Task<RunResult> CoreRunAsync(Dictionary<SourceKind, LstmModel> models, byte[][] messages, byte[][] keyBytes, int[] keyIndex, int workers, CancellationToken ct, double pacedRate = 0)
    {
        const int partitions = 16;
        var options = new PipelineOptions
        {
            Workers = workers, MaxBatch = 512, ChunkSize = 1024, ChannelCapacity = 16, InitialSlots = keyBytes.Length / workers + 1024,
            MaxWait = pacedRate > 0 ? TimeSpan.FromMilliseconds(1) : TimeSpan.Zero,
        };
        var count = pacedRate > 0 ? (int)Math.Min(messages.Length, pacedRate * 10) : messages.Length;
        var output = new CountingOutput();
        var pipeline = new StreamPipeline(options, models, [output], new CountingDeadLetterSink());
        var source = new InProcessSource(pipeline);
        // Warm-up pass on a few keys is skipped on purpose: the first touch of each of the 100K keys is part of the run.
        var partitionOf = new int[keyBytes.Length];
        for (var k = 0; k < partitionOf.Length; k++) partitionOf[k] = k % partitions;
        GC.Collect();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var profile = ThreadCpuProfile.Start();
        pipeline.Start(ct);
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var k = keyIndex[i];
            await source.AddAsync(SourceKind.Tick, partitionOf[k], keyBytes[k], messages[i], ct).ConfigureAwait(false);
            if (pacedRate > 0 && i % 64 == 63)
            {
                // Paced: hand over what was added (as a consumer poll round would) and wait until the schedule catches up.
                await source.FlushAsync(ct).ConfigureAwait(false);
                var due = TimeSpan.FromSeconds((i + 1) / pacedRate) - sw.Elapsed;
                if (due > TimeSpan.FromMilliseconds(1)) await Task.Delay(due, ct).ConfigureAwait(false);
            }
        }

        await source.FlushAsync(ct).ConfigureAwait(false);
        await pipeline.CompleteAsync(ct).ConfigureAwait(false);
        sw.Stop();
        // CPU time of the whole process (source, workers, GC) per event: unlike events/s it barely moves when other
        // jobs share the machine, and 2 cores / this is what an idle 2-core machine would reach.
        var cpuNs = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalNanoseconds / count;
        var cpu = profile.Stop();
        var totals = pipeline.Totals();
        if (totals.Forecasts != count) throw new InvalidOperationException($"core run: {totals.Forecasts} forecasts for {count} events ({totals.DeadLetters} dead letters, {totals.Late} late)");
        var hist = new LatencyHistogram();
        foreach (var m in pipeline.Metrics) hist.Add(m.Latency);
        return new RunResult(sw.Elapsed.TotalSeconds, count / sw.Elapsed.TotalSeconds, hist.Quantile(0.5), hist.Quantile(0.99), (double)totals.Forecasts / totals.Batches, cpuNs)
        {
            Profile = cpu, ProfiledEvents = count, StepUs = StepTicks(pipeline) * 1e6 / Stopwatch.Frequency / count,
        };
    }

    private static async Task<JsonObject> KafkaRunAsync(Dictionary<SourceKind, LstmModel> models, int events, int keys, int workers, JsonArray core, int produceRows, CancellationToken ct)
    {
        KafkaNative.EnsureLoaded();
        using var cluster = EmbeddedKafka.Start(1);
        const int partitions = 8;
        cluster.CreateTopic("ticks", partitions);
        cluster.CreateTopic("forecasts", partitions);
        var messages = Generate(events, keys, out var keyBytes, out var keyIndex);

        Console.WriteLine();
        Console.WriteLine($"kafka (mock cluster, {partitions} partitions, {events:N0} events, {workers} workers)");
        var sw = Stopwatch.StartNew();
        using (var space = new QueueSpaceSignal())
        using (var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, LingerMs = 5, BatchNumMessages = 10_000, QueueBufferingMaxMessages = 1_000_000, Acks = Acks.Leader }).Build())
        {
            Action<DeliveryReport<byte[], byte[]>> delivered = _ => space.Signal();
            for (var i = 0; i < messages.Length; i++)
            {
                while (true)
                {
                    space.Arm();
                    try
                    {
                        producer.Produce("ticks", new Message<byte[], byte[]> { Key = keyBytes[keyIndex[i]], Value = messages[i] }, delivered);
                        break;
                    }
                    catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                    {
                        // The client polls in the background, so its Poll would throw: wait for a delivery report instead.
                        space.Wait(TimeSpan.FromMilliseconds(100), ct);
                    }
                }
            }

            producer.Flush(ct);
        }

        var produceRate = events / sw.Elapsed.TotalSeconds;
        Console.WriteLine($"  produce (client + broker):                {produceRate,12:N0} msg/s");

        // 1) The bare client: drain the topic with the same poll loop, no processing (and the one-call-per-message loop). Both
        // read the same messages, twice in alternation, best of two: the first read of the topic is the slow one whichever
        // loop does it (the mock broker's first fetches), so one run each in a fixed order would favour the second.
        // The native loop (Kafka:ConsumePath=native) reads the same messages in the same alternation.
        DrainCost single = default, drain = default, nativeDrain = default;
        for (var round = 0; round < 2; round++)
        {
            single = Best(single, ConsumeOnlyBench.Drain(cluster.BootstrapServers, events, DrainLoop.Single));
            drain = Best(drain, ConsumeOnlyBench.Drain(cluster.BootstrapServers, events, DrainLoop.Batched));
            nativeDrain = Best(nativeDrain, ConsumeOnlyBench.Drain(cluster.BootstrapServers, events, DrainLoop.Native));
        }

        static DrainCost Best(DrainCost a, DrainCost b) => b.Rate > a.Rate ? b : a;
        var (singleRate, drainRate) = (single.Rate, drain.Rate);
        Console.WriteLine($"  consume only, one Consume(100ms) per msg: {singleRate,12:N0} msg/s");
        Console.WriteLine($"  consume only, drain loop (client+broker): {drainRate,12:N0} msg/s  {drain.CpuUs:N2} CPU µs/msg, {drain.Bytes:N0} B/msg");
        Console.WriteLine($"  consume only, native loop (ConsumePath=native): {nativeDrain.Rate,6:N0} msg/s  {nativeDrain.CpuUs:N2} CPU µs/msg, {nativeDrain.Bytes:N0} B/msg");

        // 1b) The produce side: forecast rows through the bare client and through our output, per format (item 2 and the limit).
        var produce = await KafkaLimitBench.MeasureAsync(cluster, produceRows, keys, 3, ct).ConfigureAwait(false);
        Console.WriteLine($"  produce only, forecast rows ({produceRows:N0}, best of {produce.Repeats.Count}; JSON {produce.JsonBytes} B, binary {produce.BinaryBytes} B):");
        Console.WriteLine($"  plain client (acks=1, no idempotence, no lz4), JSON: {produce.ClientPlainRate:N0}/s ({1e6 / produce.ClientPlainRate:N2} µs); the rows below use the forecasts producer's settings");
        Console.WriteLine("  {0,-8} {1,14} {2,14} {3,12} {4,12}", "format", "client/s", "output/s", "client µs", "output +µs");
        Console.WriteLine("  {0,-8} {1,14:N0} {2,14:N0} {3,12:N2} {4,12:N2}", "json", produce.ClientJsonRate, produce.OutputJsonRate, 1e6 / produce.ClientJsonRate, (1e6 / produce.OutputJsonRate) - (1e6 / produce.ClientJsonRate));
        Console.WriteLine("  {0,-8} {1,14:N0} {2,14:N0} {3,12:N2} {4,12:N2}", "binary", produce.ClientBinaryRate, produce.OutputBinaryRate, 1e6 / produce.ClientBinaryRate, (1e6 / produce.OutputBinaryRate) - (1e6 / produce.ClientBinaryRate));
        var cpu = produce.CpuUs;
        Console.WriteLine($"  process CPU µs per row (least of the repeats): plain client {cpu[0]:N2}; client JSON {cpu[1]:N2}, output JSON {cpu[2]:N2} (+{cpu[2] - cpu[1]:N2}); client binary {cpu[3]:N2}, output binary {cpu[4]:N2} (+{cpu[4] - cpu[3]:N2})");
        Console.WriteLine($"  the same with every key seen before (steady state): output JSON {cpu[5]:N2} (+{cpu[5] - cpu[1]:N2}), output binary {cpu[6]:N2} (+{cpu[6] - cpu[3]:N2})");
        Console.WriteLine("  produce path, same run   {0,14} {1,14} {2,14} {3,14}", "JSON µs/row", "JSON B/row", "binary µs/row", "binary B/row");
        Console.WriteLine("  {0,-24} {1,14:N2} {2,14:N0} {3,14:N2} {4,14:N0}", "client (keys seen)", cpu[5], produce.WarmBytes[0], cpu[6], produce.WarmBytes[1]);
        Console.WriteLine("  {0,-24} {1,14:N2} {2,14:N0} {3,14:N2} {4,14:N0}", "native (keys seen)", cpu[9], produce.WarmBytes[2], cpu[10], produce.WarmBytes[3]);
        Console.WriteLine("  {0,-24} {1,14:N2} {2,14} {3,14:N2} {4,14}", "native (cold)", cpu[7], "", cpu[8], "");

        // 2) The whole pipeline from the topic, forecasts to a counting output.
        var full = await PipelineFromKafkaAsync(cluster.BootstrapServers, models, events, keys, workers, withTopic: false, ct).ConfigureAwait(false);
        Console.WriteLine($"  pipeline, forecasts counted:              {full.Rate,12:N0} events/s  p50 {full.P50:N0} µs  p99 {full.P99:N0} µs");
        Console.WriteLine($"    CPU µs/event by thread: {full.Profile?.Format(full.ProfiledEvents)}; worker step ≈{full.StepUs:N2} µs/event (wall), mean batch {full.MeanBatch:N0}");
        Console.WriteLine($"    waits: {full.Wait?.Format(full.Profile)}");

        // 3) The same with the forecasts topic (JSON through the idempotent producer).
        var withTopic = await PipelineFromKafkaAsync(cluster.BootstrapServers, models, events, keys, workers, withTopic: true, ct).ConfigureAwait(false);
        Console.WriteLine($"  pipeline + forecasts topic:               {withTopic.Rate,12:N0} events/s  p50 {withTopic.P50:N0} µs  p99 {withTopic.P99:N0} µs");
        Console.WriteLine($"    CPU µs/event by thread: {withTopic.Profile?.Format(withTopic.ProfiledEvents)}; worker step ≈{withTopic.StepUs:N2} µs/event, inside the topic output {withTopic.OutputUs[0]:N2} µs/event (wall), mean batch {withTopic.MeanBatch:N0}");
        Console.WriteLine($"    waits: {withTopic.Wait?.Format(withTopic.Profile)}");

        // 3b) The same with the forecasts topic through the native produce path (librdkafka directly, bulk delivery reports).
        var native = await PipelineFromKafkaAsync(cluster.BootstrapServers, models, events, keys, workers, withTopic: true, ct, path: ForecastProducePath.Native).ConfigureAwait(false);
        Console.WriteLine($"  pipeline + forecasts topic, native path:  {native.Rate,12:N0} events/s  p50 {native.P50:N0} µs  p99 {native.P99:N0} µs");
        Console.WriteLine($"    CPU µs/event by thread: {native.Profile?.Format(native.ProfiledEvents)}; inside the topic output {native.OutputUs[0]:N2} µs/event (wall)");
        Console.WriteLine($"    waits: {native.Wait?.Format(native.Profile)}");
        // 3c) Both native paths: messages read with rd_kafka_consumer_poll (Kafka:ConsumePath=native), forecasts produced natively.
        var nativeBoth = await PipelineFromKafkaAsync(cluster.BootstrapServers, models, events, keys, workers, withTopic: true, ct, path: ForecastProducePath.Native, consume: ConsumePath.Native).ConfigureAwait(false);
        Console.WriteLine($"  pipeline + forecasts topic, native consume + native produce: {nativeBoth.Rate,12:N0} events/s  p50 {nativeBoth.P50:N0} µs  p99 {nativeBoth.P99:N0} µs");
        Console.WriteLine($"    CPU µs/event by thread: {nativeBoth.Profile?.Format(nativeBoth.ProfiledEvents)}; inside the topic output {nativeBoth.OutputUs[0]:N2} µs/event (wall)");
        Console.WriteLine($"    waits: {nativeBoth.Wait?.Format(nativeBoth.Profile)}");
        static double CpuPerEvent(RunResult r) => r.Profile is { } p ? p.TotalNs / 1e3 / Math.Max(1, r.ProfiledEvents) : double.NaN;
        static double BytesPerEvent(RunResult r) => r.Profile is { } p ? (double)p.AllocatedBytes / Math.Max(1, r.ProfiledEvents) : double.NaN;
        static double GcPerEvent(RunResult r) => r.Profile is { } p ? p.GcPause.TotalMicroseconds / Math.Max(1, r.ProfiledEvents) : double.NaN;
        Console.WriteLine("  {0,-34} {1,12} {2,10} {3,12}", "same run", "CPU µs/ev", "B/event", "GC µs/ev");
        foreach (var (label, r) in new[] { ("forecasts counted only", full), ("+ forecasts topic, client path", withTopic), ("+ forecasts topic, native path", native), ("+ native consume, native produce", nativeBoth) })
        {
            Console.WriteLine("  {0,-34} {1,12:N2} {2,10:N0} {3,12:N2}", label, CpuPerEvent(r), BytesPerEvent(r), GcPerEvent(r));
        }

        // The same with the lanes of the old default (16 chunks): a backlog pauses them, and the refetch after each resume
        // starved the workers (docs/benchmarks.md, "Kafka path: where the wall time went").
        var lane16 = await PipelineFromKafkaAsync(cluster.BootstrapServers, models, events, keys, workers, withTopic: true, ct, laneChunks: 16).ConfigureAwait(false);
        Console.WriteLine($"  pipeline + forecasts topic, 16-chunk lanes: {lane16.Rate,12:N0} events/s  (the old default, same run)");
        Console.WriteLine($"    CPU µs/event: {lane16.Profile?.TotalNs / 1e3 / Math.Max(1, lane16.ProfiledEvents):N2}; waits: {lane16.Wait?.Format(lane16.Profile)}");

        // The limit: what the client and broker alone need per event, consuming one tick and producing one forecast row.
        var limit = 1 / ((1 / drainRate) + (1 / produce.ClientJsonRate));
        var ratio = withTopic.Rate / limit;
        Console.WriteLine();
        Console.WriteLine("  {0,-40} {1,14}", "limit (consume-only + produce-only)", "events/s");
        Console.WriteLine("  {0,-40} {1,14:N0}", "consume only (drain loop)", drainRate);
        Console.WriteLine("  {0,-40} {1,14:N0}", "produce only (forecast rows, JSON)", produce.ClientJsonRate);
        Console.WriteLine("  {0,-40} {1,14:N0}", "limit: 1 / (1/consume + 1/produce)", limit);
        Console.WriteLine("  {0,-40} {1,14:N0}", "pipeline + forecasts topic", withTopic.Rate);
        Console.WriteLine("  {0,-40} {1,14:P1}", "limit ratio", ratio);
        Console.WriteLine("  {0,-40} {1,14:N0}", "pipeline + topic, native produce", native.Rate);
        Console.WriteLine("  {0,-40} {1,14:P1}", "limit ratio, native produce", native.Rate / limit);
        Console.WriteLine("  {0,-40} {1,14:N0}", "pipeline + topic, native consume+produce", nativeBoth.Rate);
        Console.WriteLine("  {0,-40} {1,14:P1}", "limit ratio, native consume+produce", nativeBoth.Rate / limit);
        // The same limit with the native consume loop as its consume side: what the native paths are up against.
        var nativeLimit = 1 / ((1 / nativeDrain.Rate) + (1 / produce.ClientJsonRate));
        Console.WriteLine("  {0,-40} {1,14:N0}", "limit, native consume loop", nativeLimit);
        Console.WriteLine("  {0,-40} {1,14:P1}", "native consume+produce / that limit", nativeBoth.Rate / nativeLimit);

        var coreRate = core.Count > 0 ? core[^1]!["events_per_s"]!.GetValue<double>() : double.NaN;
        var usClient = 1e6 / drainRate;
        var usOurs = 1e6 / coreRate;
        var usTotal = 1e6 / full.Rate;
        var usTopic = 1e6 / withTopic.Rate - usTotal;
        Console.WriteLine($"  per event: client+broker {usClient:N2} µs, our code {usOurs:N2} µs (core, {workers} workers), whole {usTotal:N2} µs, forecasts topic +{usTopic:N2} µs");
        return new JsonObject
        {
            ["partitions"] = partitions, ["events"] = events, ["keys"] = keys, ["workers"] = workers,
            ["produce_events_per_s"] = Math.Round(produceRate),
            ["consume_only_drain_events_per_s"] = Math.Round(drainRate),
            ["consume_only_single_message_events_per_s"] = Math.Round(singleRate),
            ["consume_only_native_events_per_s"] = Math.Round(nativeDrain.Rate),
            ["consume_only_cost"] = new JsonObject
            {
                ["cpu_us_per_message"] = new JsonObject { ["drain"] = Math.Round(drain.CpuUs, 3), ["native"] = Math.Round(nativeDrain.CpuUs, 3) },
                ["allocated_bytes_per_message"] = new JsonObject { ["drain"] = Math.Round(drain.Bytes, 1), ["native"] = Math.Round(nativeDrain.Bytes, 1) },
            },
            ["pipeline_with_forecasts_topic_native_consume_events_per_s"] = Math.Round(nativeBoth.Rate), ["with_topic_native_consume_p50_us"] = nativeBoth.P50, ["with_topic_native_consume_p99_us"] = nativeBoth.P99,
            ["limit_ratio_native_produce"] = Math.Round(native.Rate / limit, 3),
            ["limit_ratio_native_consume_and_produce"] = Math.Round(nativeBoth.Rate / limit, 3),
            ["limit_native_consume_events_per_s"] = Math.Round(nativeLimit),
            ["limit_ratio_native_consume_and_produce_vs_native_limit"] = Math.Round(nativeBoth.Rate / nativeLimit, 3),
            ["pipeline_events_per_s"] = Math.Round(full.Rate), ["p50_us"] = full.P50, ["p99_us"] = full.P99,
            ["pipeline_with_forecasts_topic_native_events_per_s"] = Math.Round(native.Rate), ["with_topic_native_p50_us"] = native.P50, ["with_topic_native_p99_us"] = native.P99,
            ["forecasts_topic_by_path"] = new JsonObject
            {
                ["cpu_us_per_event"] = new JsonObject { ["counted_only"] = Math.Round(CpuPerEvent(full), 3), ["client"] = Math.Round(CpuPerEvent(withTopic), 3), ["native"] = Math.Round(CpuPerEvent(native), 3), ["native_consume_and_produce"] = Math.Round(CpuPerEvent(nativeBoth), 3) },
                ["allocated_bytes_per_event"] = new JsonObject { ["counted_only"] = Math.Round(BytesPerEvent(full), 1), ["client"] = Math.Round(BytesPerEvent(withTopic), 1), ["native"] = Math.Round(BytesPerEvent(native), 1), ["native_consume_and_produce"] = Math.Round(BytesPerEvent(nativeBoth), 1) },
                ["gc_pause_us_per_event"] = new JsonObject { ["counted_only"] = Math.Round(GcPerEvent(full), 3), ["client"] = Math.Round(GcPerEvent(withTopic), 3), ["native"] = Math.Round(GcPerEvent(native), 3), ["native_consume_and_produce"] = Math.Round(GcPerEvent(nativeBoth), 3) },
            },
            ["pipeline_with_forecasts_topic_events_per_s"] = Math.Round(withTopic.Rate), ["pipeline_with_forecasts_topic_lane16_events_per_s"] = Math.Round(lane16.Rate), ["with_topic_p50_us"] = withTopic.P50, ["with_topic_p99_us"] = withTopic.P99,
            ["profile"] = new JsonObject
            {
                ["pipeline"] = full.Profile?.ToJson(full.ProfiledEvents),
                ["pipeline_with_forecasts_topic"] = withTopic.Profile?.ToJson(withTopic.ProfiledEvents),
                ["worker_step_wall_us_per_event"] = new JsonArray(Math.Round(full.StepUs, 3), Math.Round(withTopic.StepUs, 3)),
                ["topic_output_wall_us_per_event"] = Math.Round(withTopic.OutputUs[0], 3),
                ["mean_batch"] = new JsonArray(Math.Round(full.MeanBatch, 1), Math.Round(withTopic.MeanBatch, 1)),
                ["waits"] = full.Wait?.ToJson(),
                ["waits_with_forecasts_topic"] = withTopic.Wait?.ToJson(),
                ["pipeline_with_forecasts_topic_native"] = native.Profile?.ToJson(native.ProfiledEvents),
                ["waits_with_forecasts_topic_native"] = native.Wait?.ToJson(),
                ["topic_output_native_wall_us_per_event"] = Math.Round(native.OutputUs[0], 3),
                ["pipeline_with_forecasts_topic_native_consume"] = nativeBoth.Profile?.ToJson(nativeBoth.ProfiledEvents),
                ["waits_with_forecasts_topic_native_consume"] = nativeBoth.Wait?.ToJson(),
                ["pipeline_with_forecasts_topic_lane16"] = lane16.Profile?.ToJson(lane16.ProfiledEvents),
                ["waits_with_forecasts_topic_lane16"] = lane16.Wait?.ToJson(),
            },
            ["us_per_event"] = new JsonObject
            {
                ["client_and_broker"] = Math.Round(usClient, 3),
                ["our_code_core"] = double.IsFinite(usOurs) ? Math.Round(usOurs, 3) : null,
                ["whole_pipeline"] = Math.Round(usTotal, 3),
                ["forecasts_topic_extra"] = Math.Round(usTopic, 3),
                ["forecasts_topic_native_extra"] = Math.Round((1e6 / native.Rate) - usTotal, 3),
            },
            ["produce_only"] = new JsonObject
            {
                ["rows"] = produceRows, ["json_bytes"] = produce.JsonBytes, ["binary_bytes"] = produce.BinaryBytes,
                ["client_plain_json_per_s"] = Math.Round(produce.ClientPlainRate),
                ["cpu_us_per_row"] = new JsonObject
                {
                    ["plain_client_json"] = Math.Round(cpu[0], 3), ["client_json"] = Math.Round(cpu[1], 3), ["output_json"] = Math.Round(cpu[2], 3),
                    ["client_binary"] = Math.Round(cpu[3], 3), ["output_binary"] = Math.Round(cpu[4], 3),
                    ["output_json_keys_seen"] = Math.Round(cpu[5], 3), ["output_binary_keys_seen"] = Math.Round(cpu[6], 3),
                    ["native_output_json"] = Math.Round(cpu[7], 3), ["native_output_binary"] = Math.Round(cpu[8], 3),
                    ["native_output_json_keys_seen"] = Math.Round(cpu[9], 3), ["native_output_binary_keys_seen"] = Math.Round(cpu[10], 3),
                },
                ["allocated_bytes_per_row_keys_seen"] = new JsonObject
                {
                    ["output_json"] = Math.Round(produce.WarmBytes[0], 1), ["output_binary"] = Math.Round(produce.WarmBytes[1], 1),
                    ["native_output_json"] = Math.Round(produce.WarmBytes[2], 1), ["native_output_binary"] = Math.Round(produce.WarmBytes[3], 1),
                },
                ["client_json_per_s"] = Math.Round(produce.ClientJsonRate), ["output_json_per_s"] = Math.Round(produce.OutputJsonRate),
                ["client_binary_per_s"] = Math.Round(produce.ClientBinaryRate), ["output_binary_per_s"] = Math.Round(produce.OutputBinaryRate),
                ["output_json_extra_us_per_row"] = Math.Round((1e6 / produce.OutputJsonRate) - (1e6 / produce.ClientJsonRate), 3),
                ["output_binary_extra_us_per_row"] = Math.Round((1e6 / produce.OutputBinaryRate) - (1e6 / produce.ClientBinaryRate), 3),
                ["repeats"] = produce.Repeats,
            },
            ["limit_events_per_s"] = Math.Round(limit),
            ["limit_ratio"] = Math.Round(ratio, 3),
            ["latency_note"] = "latency is from the consumer taking the message off the client to the forecast batch being handed to the outputs",
        };
    }

    private static async Task<RunResult> PipelineFromKafkaAsync(string bootstrap, Dictionary<SourceKind, LstmModel> models, int events, int keys, int workers, bool withTopic, CancellationToken ct, int laneChunks = PipelineOptions.DefaultChannelCapacity, ForecastProducePath path = ForecastProducePath.Client,
        ConsumePath consume = ConsumePath.Client)
    {
        var options = new PipelineOptions { Workers = workers, MaxBatch = 512, ChunkSize = 1024, ChannelCapacity = laneChunks, MaxWait = TimeSpan.FromMilliseconds(1), InitialSlots = keys / workers + 1024 };
        var counting = new CountingOutput();
        KafkaForecastOutput? topic = withTopic ? new KafkaForecastOutput(new KafkaForecastOutputOptions { BootstrapServers = bootstrap, Topic = "forecasts", ProducePath = path }, NullLogger.Instance) : null;
        var timedTopic = topic is null ? null : new TimedOutput(topic);
        IForecastOutput[] outputs = timedTopic is null ? [counting] : [counting, timedTopic];
        var pipeline = new StreamPipeline(options, models, outputs, new CountingDeadLetterSink());
        var consumer = new KafkaIngestConsumer(new KafkaConsumerOptions
        {
            BootstrapServers = bootstrap, GroupId = "bench-" + Guid.NewGuid().ToString("N"), Topics = new() { ["ticks"] = SourceKind.Tick }, ConsumePath = consume,
        }, pipeline.Lanes, options.LaneCapacityMessages, pipeline.Pool, NullLogger.Instance);
        pipeline.Start(ct);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => consumer.Run(stop.Token)) { IsBackground = true, Name = "bench-consumer" };
        thread.Start();
        // Time from the first forecast to the last, so group join and assignment are not counted. The window is taken on a
        // thread of its own, woken by the counting output itself, and closes at the time the last forecast was counted: an
        // await here resumed on the thread pool, whose threads the workers held while their lanes were full (2 workers =
        // the pool's default minimum on 2 cores), so the window opened and closed up to seconds late (docs/benchmarks.md,
        // "Native consume + native produce: the bench's window and the thread pool").
        var window = await OnOwnThreadAsync("bench-window", () =>
        {
            counting.Arm(1);
            if (!counting.Wait(TimeSpan.FromMinutes(2), ct)) throw new TimeoutException("kafka pipeline: no forecast within 2 minutes of the start (group join, assignment, first batch)");
            var profile = ThreadCpuProfile.Start();
            var outputTicks0 = timedTopic?.Ticks ?? 0;
            var stepTicks0 = StepTicks(pipeline);
            var inputWait0 = InputWaitNsNow(pipeline);
            var inputWaits0 = pipeline.Metrics.Sum(m => m.InputWaits);
            var pauses0 = consumer.Pauses;
            var queueFull0 = topic?.QueueFullWaitTime ?? TimeSpan.Zero;
            var startCount = counting.Count;
            var from = Stopwatch.GetTimestamp();
            var probe = new PoolProbe();
            // A timeout is reported as the rate of what did arrive.
            counting.Arm(events);
            var deadline = from + (5 * 60 * Stopwatch.Frequency);
            bool reached;
            while (!(reached = counting.Wait(TimeSpan.FromMilliseconds(10), ct)) && Stopwatch.GetTimestamp() < deadline) probe.Tick();
            var to = reached ? counting.ReachedAt : Stopwatch.GetTimestamp();
            var inputWait1 = InputWaitNsNow(pipeline);
            var done = counting.Count - startCount;
            var cpu = profile.Stop();
            var pool = probe.Stop();
            var seconds = Stopwatch.GetElapsedTime(from, to).TotalSeconds;
            var waits = new Waits(
                (inputWait1 - inputWait0) / 1e9 / (workers * seconds),
                pipeline.Metrics.Sum(m => m.InputWaits) - inputWaits0,
                consumer.Pauses - pauses0,
                ((topic?.QueueFullWaitTime ?? TimeSpan.Zero) - queueFull0).TotalSeconds / (workers * seconds),
                pool);
            var outputUs = timedTopic is null ? 0 : (timedTopic.Ticks - outputTicks0) * 1e6 / Stopwatch.Frequency / done;
            var stepUs = (StepTicks(pipeline) - stepTicks0) * 1e6 / Stopwatch.Frequency / done;
            return (Seconds: seconds, Done: done, Cpu: cpu, Waits: waits, OutputUs: outputUs, StepUs: stepUs);
        }).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        thread.Join();
        await pipeline.CompleteAsync(ct).ConfigureAwait(false);
        topic?.Dispose();
        var hist = new LatencyHistogram();
        foreach (var m in pipeline.Metrics) hist.Add(m.Latency);
        var t = pipeline.Totals();
        return new RunResult(window.Seconds, window.Done / window.Seconds, hist.Quantile(0.5), hist.Quantile(0.99), (double)t.Forecasts / Math.Max(1, t.Batches))
        {
            Profile = window.Cpu, ProfiledEvents = window.Done, OutputUs = [window.OutputUs], StepUs = window.StepUs, Wait = window.Waits,
        };
    }

    /// <summary>Runs <paramref name="body"/> on a thread of its own (it blocks: a window measured on it needs no pool thread).</summary>
    private static Task<T> OnOwnThreadAsync<T>(string name, Func<T> body)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.SetResult(body());
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        }) { IsBackground = true, Name = name };
        thread.Start();
        return done.Task;
    }

    /// <summary>Sum of the workers' step times so far (Stopwatch ticks), from their step histograms (bucket upper bounds: ≤ 12.5 % high).</summary>
    private static long StepTicks(StreamPipeline pipeline)
    {
        double us = 0;
        var counts = new long[LatencyHistogram.BucketCount];
        foreach (var m in pipeline.Metrics)
        {
            m.StepLatency.CopyCumulative(counts);
            for (var b = 0; b < counts.Length; b++) us += counts[b] * LatencyHistogram.UpperBound(b);
        }

        return (long)(us * Stopwatch.Frequency / 1e6);
    }

    /// <summary>An output that adds up the wall time the workers spend inside it (the hand-off's own cost).</summary>
    private sealed class TimedOutput(IForecastOutput inner) : IForecastOutput
    {
        private long _ticks;

        public long Ticks => Interlocked.Read(ref _ticks);

        public async ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
        {
            var start = Stopwatch.GetTimestamp();
            await inner.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _ticks, Stopwatch.GetTimestamp() - start);
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    }

    private sealed class CountingOutput : IForecastOutput
    {
        // No spinning: the window's thread wakes every few ms to probe the pool, and a spin would show in the CPU profile.
        private readonly ManualResetEventSlim _reached = new(false, spinCount: 0);
        private long _count;
        private long _target = long.MaxValue;
        private long _reachedAt;

        public long Count => Interlocked.Read(ref _count);

        /// <summary>Stopwatch timestamp at which the last <see cref="Arm"/>ed target was reached, taken by the worker that reached it.</summary>
        public long ReachedAt => Interlocked.Read(ref _reachedAt);

        /// <summary>Sets the count <see cref="Wait"/> waits for (one waiter at a time) and forgets the last one's time.</summary>
        public void Arm(long target)
        {
            _reached.Reset();
            Interlocked.Exchange(ref _reachedAt, 0);
            Interlocked.Exchange(ref _target, target);
            if (Count >= target)
            {
                // Reached before the target was set: now is when it is known (a worker crossing it in between also writes it).
                Interlocked.CompareExchange(ref _reachedAt, Stopwatch.GetTimestamp(), 0);
                _reached.Set();
            }
        }

        /// <summary>
        /// Blocks until <see cref="Count"/> reaches the <see cref="Arm"/>ed target; false on timeout. The worker that reaches
        /// it sets the event itself, so the waiting thread is woken by the kernel, not by a thread-pool continuation that may
        /// have to wait for a free pool thread.
        /// </summary>
        public bool Wait(TimeSpan timeout, CancellationToken ct) => _reached.Wait(timeout, ct);

        public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
        {
            var count = Interlocked.Add(ref _count, batch.Count);
            var target = Interlocked.Read(ref _target);
            if (count >= target && count - batch.Count < target)
            {
                // Only the batch that crosses the target: one timestamp and one wake per target.
                Interlocked.Exchange(ref _reachedAt, Stopwatch.GetTimestamp());
                _reached.Set();
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
