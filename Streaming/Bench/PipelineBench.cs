using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
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
public static partial class PipelineBench
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
        workers.CheckItems(',', OptionChecks.WholeNumber(1, 64));
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
        var pacedRetention = new Option<string>("--paced-retention-ms") { Description = "Cut the mock broker's logs in the paced and transport runs every N ms to the last N-2N ms (0: never), comma-separated: each value a full set of runs. On by default: the mock walks a partition's log from its start on every fetch, which a real broker's offset index does not, so without it the tail measures the log's length", DefaultValueFactory = _ => "1000" };
        var knobs = new Option<string>("--knobs") { Description = "Extra paced runs with explicit settings, 'tickLingerMs,fetchWaitMaxMs,maxWaitMs,forecastLingerMs[,channelCapacity]' separated by ';' (tuning)", DefaultValueFactory = _ => "" };
        var warmup = new Option<int>("--warmup-events") { Description = "Events of an unmeasured core pass per worker count before the measured ones (0: none), so the rows are the steady state after the JIT's tiering; its rate is reported as cold", DefaultValueFactory = _ => 1_000_000 };
        warmup.Check(v => v < 0 ? "--warmup-events must be 0 or more." : null);
        command.Options.Add(warmup);
        var pacedWarmup = new Option<int>("--paced-warmup-seconds") { Description = "Seconds of one unmeasured paced pipeline run before the first measured one, when no core or kafka run has warmed the process up (0: none); without it the first paced row carries the JIT's tiering", DefaultValueFactory = _ => 6 };
        pacedWarmup.Check(v => v < 0 ? "--paced-warmup-seconds must be 0 or more." : null);
        command.Options.Add(pacedWarmup);
        runs.CheckItems(',', OptionChecks.OneOf("core", "kafka", "paced", "transport"));
        latency.CheckItems(',', OptionChecks.OneOf(Enum.GetNames<LatencyProfile>()));
        pacedPartitions.CheckItems(',', OptionChecks.WholeNumber(1, 64));
        pacedNagle.CheckItems(',', OptionChecks.OneOf("profile", "on", "off", "clients", "broker"));
        pacedRetention.CheckItems(',', OptionChecks.WholeNumber(0));
        knobs.Check(v => string.IsNullOrWhiteSpace(v) ? null : KnobsProblem(v));
        command.Options.Add(knobs);
        command.Options.Add(output);
        command.Options.Add(runs);
        command.Options.Add(latency);
        command.Options.Add(pacedSeconds);
        command.Options.Add(pacedPartitions);
        command.Options.Add(pacedNagle);
        command.Options.Add(pacedRetention);
        command.Options.Add(produceRows);
        var compression = new Option<ForecastCompression>("--forecast-compression") { Description = "Kafka rows: the forecasts producer's compression (Kafka:ForecastCompression: none, lz4, snappy, zstd); the limit's produce-only step uses the same", DefaultValueFactory = _ => ForecastCompression.Lz4 };
        var producerProps = new Option<string>("--forecast-producer") { Description = "Kafka rows: extra librdkafka properties of the forecasts producer, 'name=value,...' (e.g. batch.num.messages=10000,linger.ms=20); the limit's produce-only step uses the same", DefaultValueFactory = _ => "" };
        var consumerProps = new Option<string>("--consumer") { Description = "Kafka rows: extra librdkafka properties of the consumer, 'name=value,...' (e.g. fetch.max.bytes=...,queued.min.messages=...); the limit's consume-only step uses the same", DefaultValueFactory = _ => "" };
        var sweep = new Option<string>("--compression-sweep") { Description = "Kafka rows: after the usual rows, the forecasts producer's compressions to compare in the same process, comma-separated (e.g. none,lz4,snappy,zstd): two alternating rounds of produce-only + pipeline (client path, native consume + produce)", DefaultValueFactory = _ => "" };
        var clientSweep = new Option<string>("--client-sweep") { Description = "Kafka rows: like --compression-sweep, with any client settings per variant: variants separated by ';', each 'compression=X,p.NAME=VALUE,c.NAME=VALUE,...' (p. = forecasts producer, c. = consumer property), on top of the run's own settings; the limit of a variant with consumer settings is measured with them", DefaultValueFactory = _ => "" };
        command.Options.Add(sweep);
        command.Options.Add(clientSweep);
        command.Options.Add(compression);
        command.Options.Add(producerProps);
        command.Options.Add(consumerProps);
        command.SetAction(async (parse, ct) =>
        {
            var workerCounts = parse.GetValue(workers)!.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            KafkaClientTuning tuning;
            KafkaClientTuning[] sweepList;
            try
            {
                tuning = new KafkaClientTuning(parse.GetValue(compression),
                    KafkaClientTuning.ParseProperties(parse.GetValue(producerProps)!, "--forecast-producer"), KafkaClientTuning.ParseProperties(parse.GetValue(consumerProps)!, "--consumer"));
                var t = tuning;
                sweepList = parse.GetValue(sweep)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                    .Select(v => t.With("compression=" + v, "--compression-sweep"))
                    .Concat(parse.GetValue(clientSweep)!.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(v => t.With(v, "--client-sweep"))).ToArray();
            }
            catch (ArgumentException e)
            {
                // The client-setting options' own messages name the option and the bad item: a usage error, not a crash.
                await parse.InvocationConfiguration.Error.WriteLineAsync("bench pipeline: " + e.Message).ConfigureAwait(false);
                return 2;
            }

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
            var plan = new Plan(parts, profiles, TimeSpan.FromSeconds(parse.GetValue(pacedSeconds)), parse.GetValue(produceRows), extra, partitionCounts, nagle, retentions) { WarmupEvents = parse.GetValue(warmup), PacedWarmup = TimeSpan.FromSeconds(parse.GetValue(pacedWarmup)) };
            var result = await RunAsync(parse.GetValue(events), parse.GetValue(keys), parse.GetValue(hidden), workerCounts, parse.GetValue(kafkaEvents), plan, tuning, sweepList, ct).ConfigureAwait(false);
            var path = parse.GetValue(output)!;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            await File.WriteAllTextAsync(path, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
            Console.WriteLine($"wrote {path}");
            return 0;
        });
        return command;
    }

    // PacedPartitions: each count a full set of transport and paced runs; PacedNagle per set: Nagle disabled (true), enabled (false) or the knobs' (null), on the clients and on the mock broker.

    /// <summary>Why a <c>--knobs</c> value does not read, or null: groups of 4 or 5 numbers (the 5th a whole number ≥ 1).</summary>
    private static string? KnobsProblem(string value)
    {
        foreach (var group in value.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var cells = group.Split(',');
            if (cells.Length is < 4 or > 5) return $"--knobs: '{group}' needs 4 or 5 comma-separated numbers (tickLingerMs,fetchWaitMaxMs,maxWaitMs,forecastLingerMs[,channelCapacity]).";
            foreach (var c in cells)
            {
                if (!double.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !double.IsFinite(d) || d < 0) return $"--knobs: '{c}' in '{group}' is not a number of 0 or more.";
            }

            if (cells.Length == 5 && (!int.TryParse(cells[4], NumberStyles.Integer, CultureInfo.InvariantCulture, out var cap) || cap < 1)) return $"--knobs: channelCapacity '{cells[4]}' is not a whole number of 1 or more.";
        }

        return null;
    }

    private sealed record Plan(HashSet<string> Parts, LatencyProfile[] Profiles, TimeSpan PacedDuration, int ProduceRows, KafkaPacedBench.Knobs[] ExtraKnobs, int[] PacedPartitions, (bool? Clients, bool Broker)[] PacedNagle, int[] PacedRetentionMs)
    {
        /// <summary>Events of the unmeasured core pass per worker count (0: none).</summary>
        public int WarmupEvents { get; init; }

        /// <summary>Length of the unmeasured paced pipeline run before the first measured one (zero: none).</summary>
        public TimeSpan PacedWarmup { get; init; }
    }

    // kafkaClients: the Kafka rows' client settings (--forecast-compression, --forecast-producer, --consumer); clientSweep: the
    // variants of --compression-sweep / --client-sweep.
    private static async Task<JsonObject> RunAsync(int events, int keys, int hidden, int[] workerCounts, int kafkaEvents, Plan plan, KafkaClientTuning kafkaClients, KafkaClientTuning[] clientSweep, CancellationToken ct)
    {
        var model = LstmModel.CreateRandom(new LstmConfig(3, hidden, 1, 5), 7);
        model.Metadata = model.Metadata with { Version = "bench" };
        var models = new Dictionary<SourceKind, LstmModel> { [SourceKind.Tick] = model };
        var core = new JsonArray();
        var paced = new JsonArray();
        JsonObject? phases = null;
        if (plan.Parts.Contains("core")) (phases, core, paced) = await CoreAsync(models, events, keys, hidden, workerCounts, plan.WarmupEvents, ct).ConfigureAwait(false);

        var kafka = kafkaEvents > 0 && plan.Parts.Contains("kafka") ? await KafkaRunAsync(models, kafkaEvents, keys, workerCounts.Max(), core, plan.ProduceRows, kafkaClients, clientSweep, ct).ConfigureAwait(false) : null;
        JsonArray? kafkaPaced = plan.Parts.Contains("paced") ? [] : null;
        JsonArray? transport = plan.Parts.Contains("transport") ? [] : null;
        var warmedUp = plan.Parts.Contains("core") || kafka is not null;
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
            if (!warmedUp && plan.PacedWarmup > TimeSpan.Zero)
            {
                // The first pipeline run of a cold process runs tier-0 and instrumented code for seconds (measured: p99 5.6 ms
                // first, 4.3 ms for the same profile next in the same process); the rows describe the steady state.
                var first = Variant(KafkaPacedBench.Knobs.Of(plan.Profiles.Length > 0 ? plan.Profiles[0] : LatencyProfile.Low));
                _ = await KafkaPacedBench.RunAsync(models, Math.Min(keys, 10_000), workerCounts.Max(), [20_000], plan.PacedWarmup, ct, first, "warm-up (not recorded) ").ConfigureAwait(false);
                warmedUp = true;
            }

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
}
