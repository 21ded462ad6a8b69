using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StreamLstm.Ingest.Generators;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Hosting;

namespace StreamLstm.Streaming.Soak;

/// <summary>
/// <c>soak</c>: the demo's streams at a multiple of their rate (10× by default) for a fixed time, through the embedded Kafka
/// and the whole service (forecasts topic, alerts, line-protocol sink). It samples resident memory and consumer lag every
/// second, then stops the generators and measures how long the service takes to catch up. It reports peak RSS, maximum lag,
/// catch-up time and the end-to-end count check (every produced event was read and handed on: nothing lost), prints a
/// table and writes <c>artifacts/bench/soak.json</c>. Exits 1 when anything was lost or the service failed.
/// </summary>
public static class SoakCommand
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("soak", "Overload: the demo's streams at N× their rate through embedded Kafka and the whole service; reports peak RSS, max lag, catch-up time and losses.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        var duration = new Option<double>("--seconds") { Description = "How long the generators run", DefaultValueFactory = _ => 60 };
        var multiplier = new Option<double>("--multiplier") { Description = "Multiplier on the demo's rates (ticks 500×10/s, vitals 100×1/s, audio 50×100/s)", DefaultValueFactory = _ => 10 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions per input topic (the embedded cluster keeps ~100 K messages per partition)", DefaultValueFactory = _ => 48 };
        var catchUp = new Option<double>("--catch-up-limit") { Description = "Give up waiting for the catch-up after this many seconds", DefaultValueFactory = _ => 600 };
        foreach (var o in new Option[] { duration, multiplier, partitions, catchUp }) command.Options.Add(o);
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(duration), parse.GetValue(multiplier), parse.GetValue(partitions), parse.GetValue(catchUp), [.. parse.UnmatchedTokens], ct));
        return command;
    }

    private static async Task<int> RunAsync(double seconds, double multiplier, int partitions, double catchUpLimit, string[] extraArgs, CancellationToken ct)
    {
        KafkaNative.EnsureLoaded();
        using var cluster = EmbeddedKafka.Start(brokers: 1);
        foreach (var topic in new[] { "ticks", "vitals", "audio-features", "forecasts" }) cluster.CreateTopic(topic, partitions);
        cluster.CreateTopic("alerts", 1);
        cluster.CreateTopic("late", 1);
        cluster.CreateTopic("streamlstm.dlq", partitions);
        Console.WriteLine($"bootstrap.servers={cluster.BootstrapServers}");
        var sinkDir = Directory.CreateTempSubdirectory("streamlstm-soak-");
        try
        {
            var models = new Dictionary<SourceKind, LstmModel>();
            foreach (var kind in new[] { SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio })
            {
                // Random weights cost exactly what trained ones do per step; this measures the service, not the model.
                models[kind] = PipelineModels.CreateRandom(kind, new ModelSettings { Hidden = 32, Horizons = 5 }, 13);
            }

            var overrides = new Dictionary<string, string?>
            {
                ["Kafka:BootstrapServers"] = cluster.BootstrapServers,
                ["Kafka:GroupId"] = "streamlstm-soak",
                ["Kafka:AutoOffsetReset"] = "earliest",
                ["Logging:LogLevel:Default"] = "Warning",
                // Random models raise alerts all the time; their log lines would bury the table.
                ["Logging:LogLevel:StreamLstm.Sink"] = "Error",
                ["Sink:FilePath"] = Path.Combine(sinkDir.FullName, "forecasts.lp"),
            };
            using var host = StreamLstmHost.CreateBuilder(extraArgs, b => b.Services.AddSingleton(new PipelineModels(models)), overrides).Build();
            await host.StartAsync(ct).ConfigureAwait(false);
            var service = host.Services.GetRequiredService<PipelineHostedService>();
            var pipeline = await service.Started.WaitAsync(ct).ConfigureAwait(false);

            var streams = Streams(multiplier);
            var target = streams.Sum(s => s.Rate);
            Console.WriteLine($"soak: {multiplier:0.#}× the demo's rate = {target:N0} events/s for {seconds:0} s over {partitions} partitions per topic");
            var sampler = new Sampler(service, pipeline);
            using var generating = CancellationTokenSource.CreateLinkedTokenSource(ct);
            generating.CancelAfter(TimeSpan.FromSeconds(seconds));
            var producers = streams.Select(s => Task.Run(() => Produce(cluster.BootstrapServers, s, generating.Token), CancellationToken.None)).ToList();
            var clock = Stopwatch.StartNew();
            while (!generating.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
                var s = sampler.Sample();
                Console.WriteLine($"[{clock.Elapsed:mm\\:ss}] rss {s.RssMb,6:N0} MB | lag {s.Lag,10:N0} | read {s.Events,12:N0} | paused lanes {s.Paused}");
            }

            var produced = (await Task.WhenAll(producers).ConfigureAwait(false)).Sum();
            var generatedFor = clock.Elapsed;

            // Catch-up: from the generators' stop until every produced event has been read and handed on.
            var catchUpClock = Stopwatch.StartNew();
            while (pipeline.Totals().Events < produced && catchUpClock.Elapsed.TotalSeconds < catchUpLimit && service.Failure is null)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), CancellationToken.None).ConfigureAwait(false);
                sampler.Sample();
            }

            var caughtUp = catchUpClock.Elapsed;
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            var t = pipeline.Totals();
            var handled = t.Forecasts + t.DeadLetters + t.Late + t.Duplicates;
            var lost = Math.Max(0, produced - t.Events) + Math.Max(0, t.Events - handled) + t.Undelivered;
            var report = new JsonObject
            {
                ["multiplier"] = multiplier,
                ["target_events_per_s"] = target,
                ["seconds"] = generatedFor.TotalSeconds,
                ["produced"] = produced,
                ["produced_per_s"] = produced / generatedFor.TotalSeconds,
                ["read"] = t.Events,
                ["forecasts"] = t.Forecasts,
                ["dead_letters"] = t.DeadLetters,
                ["late"] = t.Late,
                ["undelivered"] = t.Undelivered,
                ["lost"] = lost,
                ["peak_rss_bytes"] = sampler.PeakRssBytes,
                ["max_lag"] = sampler.MaxLag,
                ["catch_up_s"] = caughtUp.TotalSeconds,
                ["caught_up"] = t.Events >= produced,
                ["failure"] = service.Failure,
            };
            Print(report);
            Directory.CreateDirectory(Path.Combine("artifacts", "bench"));
            var path = Path.Combine("artifacts", "bench", "soak.json");
            await File.WriteAllTextAsync(path, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), CancellationToken.None).ConfigureAwait(false);
            Console.WriteLine($"wrote {path}");
            return lost == 0 && t.Events >= produced && service.Failure is null ? 0 : 1;
        }
        finally
        {
            sinkDir.Delete(recursive: true);
        }
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

    /// <summary>Peak resident memory and consumer lag, sampled.</summary>
    private sealed class Sampler(PipelineHostedService service, Pipeline.StreamPipeline pipeline)
    {
        public long PeakRssBytes { get; private set; }

        public long MaxLag { get; private set; }

        public (double RssMb, long Lag, long Events, int Paused) Sample()
        {
            using var self = Process.GetCurrentProcess();
            var rss = self.WorkingSet64;
            PeakRssBytes = Math.Max(PeakRssBytes, Math.Max(rss, self.PeakWorkingSet64));
            var lag = service.Consumer?.Lag ?? 0;
            MaxLag = Math.Max(MaxLag, lag);
            return (rss / 1048576.0, lag, pipeline.Totals().Events, service.Consumer?.PausedLanes ?? 0);
        }
    }
}
