using System.CommandLine;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StreamLstm.Ingest.Features;
using StreamLstm.Ingest.Generators;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Ingest.Replay;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Weights;
using StreamLstm.Sink.Hosting;
using StreamLstm.Streaming.Cli;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Web;

namespace StreamLstm.Streaming.Demo;

/// <summary>
/// <c>demo</c>: embedded Kafka (or <c>--bootstrap-servers</c>), generators for ticks, vitals and audio frames, models
/// trained at start-up on generated history (or <c>--model</c>), the pipeline writing to the <c>forecasts</c> topic, and a
/// live status line per second, and the web dashboard (<c>--urls</c>, default http://127.0.0.1:8080). With
/// <c>--replay SOURCE</c> the real data of <c>../shared/data</c> is replayed instead of the generators. Prints
/// <c>bootstrap.servers=HOST:PORT,...</c> first so any Kafka client can watch.
/// </summary>
public static class DemoCommand
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("demo", "Embedded Kafka + generators + pipeline, with live status.") { TreatUnmatchedTokensAsErrors = false };
        var duration = new Option<TimeSpan?>("--duration") { Description = "Stop after this long (e.g. 00:01:00 or 60s); default: until Ctrl+C", CustomParser = r => DurationText.Argument(r) };
        var bootstrap = new Option<string?>("--bootstrap-servers") { Description = "Use this Kafka cluster instead of the embedded one" };
        var symbols = new Option<int>("--symbols") { Description = "Tick symbols", DefaultValueFactory = _ => 500 };
        var patients = new Option<int>("--patients") { Description = "Patients", DefaultValueFactory = _ => 100 };
        var streams = new Option<int>("--audio-streams") { Description = "Audio streams", DefaultValueFactory = _ => 50 };
        var anomalyRate = new Option<double>("--anomaly-rate") { Description = "Multiplier on the live generators' injected-anomaly rates (tachycardia, desaturation, price jumps, noise bursts, ...), so a short demo shows alerts; training history always uses 1", DefaultValueFactory = _ => 3.0 };
        var rate = new Option<double>("--rate") { Description = "Multiplier on the generators' default per-key rates (ticks 10/s, vitals 1/s, audio 100/s)", DefaultValueFactory = _ => 1.0 };
        var models = new Option<string[]>("--model") { Description = "Model file per kind, KIND=PATH (tick, vitals, audio), or a directory with tick/vitals/audio.safetensors", AllowMultipleArgumentsPerToken = true };
        var hidden = new Option<int>("--hidden") { Description = "Hidden size of models trained at start-up", DefaultValueFactory = _ => 32 };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs at start-up (0 = random models)", DefaultValueFactory = _ => 6 };
        var workers = new Option<int>("--workers") { Description = "Pipeline workers (0 = one per core)", DefaultValueFactory = _ => 0 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions per input topic (embedded Kafka)", DefaultValueFactory = _ => 6 };
        var seed = new Option<ulong>("--seed") { Description = "Generator seed", DefaultValueFactory = _ => 42UL };
        var saveModels = new Option<string?>("--save-models") { Description = "Write the trained models to this directory" };
        var influxUrl = new Option<string?>("--influx-url") { Description = "InfluxDB URL (adds the InfluxDB sink)" };
        var influxDb = new Option<string?>("--influx-db") { Description = "InfluxDB 1.x database" };
        var influxOrg = new Option<string?>("--influx-org") { Description = "InfluxDB 2.x organisation" };
        var influxBucket = new Option<string?>("--influx-bucket") { Description = "InfluxDB 2.x bucket" };
        var influxToken = new Option<string?>("--influx-token") { Description = "InfluxDB 2.x token" };
        var replay = new Option<string?>("--replay") { Description = "Replay real data from ../shared/data instead of the generators: " + string.Join(" | ", ReplaySourceNames.All) };
        replay.AcceptOnlyFromAmong(ReplaySourceNames.All);
        var speed = new Option<double?>("--speed") { Description = "With --replay: time scale (1 = original timing, 0 = as fast as possible); default per source (vitals 600, spy-minute 3600, btc-ticks 10, market-daily 432000, audio 1)" };
        // Out-of-range values are usage errors (exit 1, naming the option), not exceptions from deep inside the start-up.
        foreach (var keys in new[] { symbols, patients, streams }) keys.Check(v => v is < 0 or > 10_000_000 ? $"{keys.Name} must be 0..10000000 (0 = none)." : null);
        rate.Check(v => !(v > 0) || double.IsInfinity(v) ? "--rate must be a number > 0." : null);
        anomalyRate.Check(v => !(v >= 0) || double.IsInfinity(v) ? "--anomaly-rate must be a number >= 0." : null);
        hidden.Check(v => v is < 1 or > 4096 ? "--hidden must be 1..4096." : null);
        epochs.Check(v => v < 0 ? "--epochs must be 0 or more (0 = random models)." : null);
        workers.Check(v => v is < 0 or > 1024 ? "--workers must be 0..1024 (0 = one per core)." : null);
        partitions.Check(v => v is < 1 or > 1000 ? "--partitions must be 1..1000." : null);
        speed.Check(v => v is { } x && (!(x >= 0) || double.IsInfinity(x)) ? "--speed must be a number >= 0 (0 = as fast as possible)." : null);
        var dataDir = new Option<string?>("--data-dir") { Description = "With --replay: the real-data folder (default ../shared/data, else shared/data above the current directory)" };
        foreach (var o in new Option[] { duration, bootstrap, symbols, patients, streams, rate, anomalyRate, models, hidden, epochs, workers, partitions, seed, saveModels, influxUrl, influxDb, influxOrg, influxBucket, influxToken, replay, speed, dataDir })
        {
            command.Options.Add(o);
        }

        command.SetAction(async (parse, ct) =>
        {
            var settings = new DemoSettings
            {
                Duration = parse.GetValue(duration),
                BootstrapServers = parse.GetValue(bootstrap),
                Symbols = parse.GetValue(symbols),
                Patients = parse.GetValue(patients),
                AudioStreams = parse.GetValue(streams),
                Rate = parse.GetValue(rate),
                AnomalyRate = parse.GetValue(anomalyRate),
                Models = parse.GetValue(models) ?? [],
                Hidden = parse.GetValue(hidden),
                Epochs = parse.GetValue(epochs),
                Workers = parse.GetValue(workers),
                Partitions = parse.GetValue(partitions),
                Seed = parse.GetValue(seed),
                SaveModels = parse.GetValue(saveModels),
                InfluxUrl = parse.GetValue(influxUrl),
                InfluxDb = parse.GetValue(influxDb),
                InfluxOrg = parse.GetValue(influxOrg),
                InfluxBucket = parse.GetValue(influxBucket),
                InfluxToken = parse.GetValue(influxToken),
                Replay = parse.GetValue(replay) is { } r ? ReplaySourceNames.Parse(r) : null,
                Speed = parse.GetValue(speed),
                DataDir = parse.GetValue(dataDir),
                ExtraArgs = [.. parse.UnmatchedTokens],
            };
            return await RunAsync(settings, ct).ConfigureAwait(false);
        });
        return command;
    }

    private sealed class DemoSettings
    {
        public TimeSpan? Duration { get; init; }
        public string? BootstrapServers { get; init; }
        public int Symbols { get; init; }
        public int Patients { get; init; }
        public int AudioStreams { get; init; }
        public double Rate { get; init; }
        public double AnomalyRate { get; init; } = 1;
        public string[] Models { get; init; } = [];
        public int Hidden { get; init; }
        public int Epochs { get; init; }
        public int Workers { get; init; }
        public int Partitions { get; init; }
        public ulong Seed { get; init; }
        public string? SaveModels { get; init; }
        public string? InfluxUrl { get; init; }
        public string? InfluxDb { get; init; }
        public string? InfluxOrg { get; init; }
        public string? InfluxBucket { get; init; }
        public string? InfluxToken { get; init; }
        public ReplaySource? Replay { get; init; }
        public double? Speed { get; init; }
        public string? DataDir { get; init; }
        public string[] ExtraArgs { get; init; } = [];
    }

    private static async Task<int> RunAsync(DemoSettings s, CancellationToken ct)
    {
        using var run = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (s.Duration is { } d) run.CancelAfter(d);
        string? replayDir = null;
        if (s.Replay is not null)
        {
            try
            {
                replayDir = DataDirectory.Resolve(s.DataDir);
            }
            catch (Exception e) when (e is IOException or ArgumentException)
            {
                await Console.Error.WriteLineAsync("demo --replay: " + e.Message).ConfigureAwait(false);
                return 1;
            }
        }

        // Model files are read before anything starts: a missing or corrupt file is a settings error, not a crash mid-start.
        Dictionary<SourceKind, (LstmModel Model, string Path)> loaded;
        try
        {
            loaded = LoadModelFiles(s);
        }
        catch (Exception e) when (e is SafetensorsException or IOException or UnauthorizedAccessException or ArgumentException or InvalidDataException)
        {
            await Console.Error.WriteLineAsync("Invalid settings:\n  - --model: " + e.Message).ConfigureAwait(false);
            return 2;
        }

        KafkaNative.EnsureLoaded();
        EmbeddedKafka? cluster = null;
        string bootstrap;
        if (string.IsNullOrWhiteSpace(s.BootstrapServers))
        {
            cluster = EmbeddedKafka.Start(brokers: 1);
            foreach (var topic in new[] { "ticks", "vitals", "audio-features" }) cluster.CreateTopic(topic, s.Partitions);
            cluster.CreateTopic("forecasts", s.Partitions);
            cluster.CreateTopic("alerts", 1);
            // The embedded broker keeps ~5 MB per partition: spread dead letters (up to 64 KiB each) over several.
            cluster.CreateTopic("streamlstm.dlq", s.Partitions);
            cluster.CreateTopic("late", 1);
            // State changelogs, for a demo run with --State:Directory (the embedded cluster does not serve CreateTopics).
            foreach (var kind in new[] { "tick", "vitals", "audio" }) cluster.CreateTopic("streamlstm.changelog." + kind, s.Partitions);
            bootstrap = cluster.BootstrapServers;
        }
        else
        {
            bootstrap = s.BootstrapServers;
        }

        // The one line a watcher needs; printed before anything slow happens.
        Console.WriteLine($"bootstrap.servers={bootstrap}");
        Console.Out.Flush();
        try
        {
            var models = await ModelsAsync(s, loaded, run.Token).ConfigureAwait(false);
            if (models is null) return 130;
            var overrides = new Dictionary<string, string?>
            {
                ["Kafka:BootstrapServers"] = bootstrap,
                ["Kafka:GroupId"] = "streamlstm-demo",
                ["Kafka:AutoOffsetReset"] = "latest",
                ["Pipeline:Workers"] = s.Workers.ToString(CultureInfo.InvariantCulture),
                ["Logging:LogLevel:Default"] = "Warning",
            };
            if (!string.IsNullOrWhiteSpace(s.InfluxUrl))
            {
                overrides["Sink:Influx:Url"] = s.InfluxUrl;
                if (s.InfluxDb is not null) overrides["Sink:Influx:Database"] = s.InfluxDb;
                if (s.InfluxOrg is not null) overrides["Sink:Influx:Org"] = s.InfluxOrg;
                if (s.InfluxBucket is not null) overrides["Sink:Influx:Bucket"] = s.InfluxBucket;
                if (s.InfluxToken is not null) overrides["Sink:Influx:Token"] = s.InfluxToken;
                overrides["Sink:Influx:Api"] = s.InfluxToken is not null || s.InfluxBucket is not null ? "V2" : "V1";
            }

            using var host = StreamLstmHost.CreateBuilder(s.ExtraArgs, b =>
            {
                b.Services.AddSingleton(new PipelineModels(models));
                WebServiceCollectionExtensions.AddStreamLstmWeb(b);
            }, overrides).Build();
            SinkOptions sinkOptions;
            try
            {
                // Reading the options validates them: a bad Sink setting is reported like the host's start-up checks.
                sinkOptions = host.Services.GetRequiredService<IOptions<SinkOptions>>().Value;
            }
            catch (Exception ex) when (StartupErrors.Describe(ex) is { } failures)
            {
                await Console.Error.WriteLineAsync("Invalid settings:\n  - " + string.Join("\n  - ", failures)).ConfigureAwait(false);
                return 2;
            }

            Console.WriteLine(sinkOptions.HasInflux
                ? $"influx: forecasts, scores and alerts also go to {sinkOptions.Influx.Url} ({(string.IsNullOrEmpty(sinkOptions.Influx.Bucket) ? "database " + sinkOptions.Influx.Database : "bucket " + sinkOptions.Influx.Bucket)})"
                : $"influx: no --influx-url given, so forecast points go as line protocol to {Path.GetFullPath(sinkOptions.FilePath)}");
            Console.WriteLine($"alerts: topic '{sinkOptions.Alerts.Topic}' on {sinkOptions.Alerts.BootstrapServers}");

            // The host's console lifetime takes Ctrl+C/SIGTERM for itself: route its stop request to the demo's token.
            using var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => run.Cancel());
            try
            {
                await host.StartAsync(run.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (StartupErrors.Describe(ex) is { } failures)
            {
                await Console.Error.WriteLineAsync("Invalid settings:\n  - " + string.Join("\n  - ", failures)).ConfigureAwait(false);
                return 2;
            }

            var service = host.Services.GetRequiredService<PipelineHostedService>();
            await service.Started.WaitAsync(run.Token).ConfigureAwait(false);
            var generators = s.Replay is { } source ? [StartReplay(source, replayDir!, s.Speed ?? DemoReplay.DefaultSpeed(source), bootstrap, run.Token)] : StartGenerators(s, bootstrap, run.Token);
            var feed = host.Services.GetRequiredService<StatusFeed>();
            var started = DateTime.UtcNow;
            using var status = feed.Samples(TimeSpan.FromSeconds(1)).Subscribe(sample => Console.WriteLine(Format(sample, DateTime.UtcNow - started)));
            try
            {
                await Task.Delay(Timeout.Infinite, run.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            Console.WriteLine("stopping: generators, then draining the pipeline and committing offsets...");
            await Task.WhenAll(generators).ConfigureAwait(false);
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            var pipeline = await service.Started.ConfigureAwait(false);
            var t = pipeline.Totals();
            Console.WriteLine($"done: {t.Events:N0} events, {t.Forecasts:N0} forecasts, {t.DeadLetters:N0} dead letters, {t.Late:N0} late");
            if (service.Failure is { } failure)
            {
                await Console.Error.WriteLineAsync($"streamlstm stopped because {failure}").ConfigureAwait(false);
                return 1;
            }

            return 0;
        }
        finally
        {
            cluster?.Dispose();
        }
    }

    /// <summary>Reads the model files given with <c>--model</c>, by kind (with the path each came from).</summary>
    private static Dictionary<SourceKind, (LstmModel Model, string Path)> LoadModelFiles(DemoSettings s) =>
        ModelSpecs.Parse(s.Models).ToDictionary(f => f.Key, f => (ModelFile.Load(f.Value), f.Value));

    private static async Task<Dictionary<SourceKind, LstmModel>?> ModelsAsync(DemoSettings s, Dictionary<SourceKind, (LstmModel Model, string Path)> loaded, CancellationToken ct)
    {
        var result = new Dictionary<SourceKind, LstmModel>();
        var toTrain = new List<SourceKind>();
        foreach (var kind in new[] { SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio })
        {
            if (s.Replay is { } replayed && DemoReplay.KindOf(replayed) != kind && !loaded.ContainsKey(kind))
            {
                // Replaying one data set: the other kinds get no events, so a random model stands in (no training time).
                result[kind] = PipelineModels.CreateRandom(kind, new ModelSettings { Hidden = s.Hidden, Horizons = 5 }, 13);
                continue;
            }

            if (loaded.TryGetValue(kind, out var file))
            {
                result[kind] = file.Model;
                Console.WriteLine($"model {kind.ToWireName()}: loaded {file.Path} ({file.Model.Metadata.Version})");
            }
            else
            {
                toTrain.Add(kind);
            }
        }

        if (toTrain.Count == 0) return result;
        if (s.Epochs <= 0)
        {
            foreach (var kind in toTrain)
            {
                result[kind] = PipelineModels.CreateRandom(kind, new ModelSettings { Hidden = s.Hidden, Horizons = 5 }, 13);
                Console.WriteLine($"model {kind.ToWireName()}: random (--epochs 0)");
            }

            return result;
        }

        // Train the kinds in parallel on generated history (different seeds from the live generators).
        var tasks = toTrain.Select(kind => Task.Run(() =>
        {
            var generator = Generator(kind, s, s.Seed + 1000, Math.Min(64, kind switch { SourceKind.Tick => s.Symbols, SourceKind.Vitals => s.Patients, _ => s.AudioStreams }));
            var inputs = FeatureExtractor.For(kind).FeatureCount;
            return (kind, DemoTraining.Train(kind, generator, new LstmConfig(inputs, s.Hidden, 1, 5), eventsPerKey: 400, s.Epochs, 0.01, (int)kind + 1));
        }, ct)).ToList();
        Console.WriteLine($"training {toTrain.Count} models on generated history (H={s.Hidden}, {s.Epochs} epochs)...");
        try
        {
            foreach (var (kind, (model, loss, elapsed)) in await Task.WhenAll(tasks).ConfigureAwait(false))
            {
                result[kind] = model;
                Console.WriteLine($"model {kind.ToWireName()}: trained in {elapsed.TotalSeconds:0.0}s, final NLL {loss:0.000} ({model.Metadata.Version})");
                if (s.SaveModels is { } dir)
                {
                    Directory.CreateDirectory(dir);
                    ModelFile.Save(model, Path.Combine(dir, kind.ToWireName() + ".safetensors"));
                }
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }

        return result;
    }

    private static IEventGenerator Generator(SourceKind kind, DemoSettings s, ulong seed, int? keys = null, double anomalyScale = 1.0)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        return kind switch
        {
            SourceKind.Tick => new TickGenerator(new TickGeneratorOptions { Keys = keys ?? s.Symbols, Seed = seed, StartUnixMs = now, EventsPerKeyPerSecond = 10 * s.Rate, AnomalyRateScale = anomalyScale }),
            SourceKind.Vitals => new VitalsGenerator(new VitalsGeneratorOptions { Keys = keys ?? s.Patients, Seed = seed + 1, StartUnixMs = now, EventsPerKeyPerSecond = 1 * s.Rate, AnomalyRateScale = anomalyScale }),
            _ => new AudioFrameGenerator(new AudioGeneratorOptions { Keys = keys ?? s.AudioStreams, Seed = seed + 2, StartUnixMs = now, EventsPerKeyPerSecond = 100 * s.Rate, AnomalyRateScale = anomalyScale }),
        };
    }

    private static List<Task> StartGenerators(DemoSettings s, string bootstrap, CancellationToken ct)
    {
        var list = new List<Task>();
        foreach (var (kind, topic, keys, perKey) in new[]
        {
            (SourceKind.Tick, "ticks", s.Symbols, 10.0),
            (SourceKind.Vitals, "vitals", s.Patients, 1.0),
            (SourceKind.Audio, "audio-features", s.AudioStreams, 100.0),
        })
        {
            if (keys <= 0) continue;
            var generator = Generator(kind, s, s.Seed, anomalyScale: s.AnomalyRate);
            list.Add(Task.Run(async () =>
            {
                using var producer = new KafkaEventProducer(bootstrap);
                try
                {
                    await producer.ProduceAsync(generator, topic, long.MaxValue, keys * perKey * s.Rate, cancellationToken: ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }, CancellationToken.None));
        }

        return list;
    }

    private static Task StartReplay(ReplaySource source, string dir, double speed, string bootstrap, CancellationToken ct) => Task.Run(async () =>
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"replay: {source.ToName()} from {dir} -> topic '{source.DefaultTopic()}', speed {(speed == 0 ? "max" : speed.ToString(CultureInfo.InvariantCulture))}"));
        using var producer = new KafkaEventProducer(bootstrap);
        var bad = new ReplayBadLines();
        try
        {
            var report = await ReplayRunner.RunAsync(ReplaySources.Read(source, dir, new ReplayReadOptions { BadLines = bad }), producer, source.DefaultTopic(), speed, 0, TimeProvider.System, null, ct).ConfigureAwait(false);
            Console.WriteLine(ct.IsCancellationRequested
                ? string.Create(CultureInfo.InvariantCulture, $"replay: stopped with the run after {report.Produced:N0} events of {report.Keys} keys ({report.Elapsed.TotalSeconds:F1} s)")
                : string.Create(CultureInfo.InvariantCulture, $"replay: done, {report.Produced:N0} events of {report.Keys} keys in {report.Elapsed.TotalSeconds:F1} s; the pipeline and dashboard keep running until Ctrl+C"));
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // The replay ends, the pipeline and dashboard go on; said, not swallowed by a faulted task nobody awaits.
            await Console.Error.WriteLineAsync("replay: stopped: " + e.Message).ConfigureAwait(false);
        }

        if (bad.Count > 0) await Console.Error.WriteLineAsync("replay: " + bad.Summary()).ConfigureAwait(false);
    }, CancellationToken.None);

    private static string Format(StatusSample s, TimeSpan elapsed)
    {
        var sb = new StringBuilder();
        var t = s.Totals;
        sb.Append(CultureInfo.InvariantCulture, $"[{elapsed:mm\\:ss}] {s.EventsPerSecond,9:N0} ev/s | keys {t.Keys:N0} | lag {s.Lag:N0} | forecasts {t.Forecasts:N0} | dlq {t.DeadLetters:N0} late {t.Late:N0} | p50 {s.P50Micros / 1000:0.0} ms p99 {s.P99Micros / 1000:0.0} ms");
        if (s.PausedLanes > 0) sb.Append(CultureInfo.InvariantCulture, $" | paused {s.PausedLanes}");
        if (t.Undelivered > 0) sb.Append(CultureInfo.InvariantCulture, $" | UNDELIVERED {t.Undelivered:N0} (offsets held)");
        foreach (var f in s.Latest)
        {
            sb.Append(CultureInfo.InvariantCulture, $" | {f.Source.ToWireName()} {f.Key} {f.Observed:0.###}→{f.Mu[0]:0.###}±{f.Sigma[0]:0.###}");
        }

        return sb.ToString();
    }
}
