using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Streaming.Cli;
using StreamLstm.Streaming.Generate;
using StreamLstm.Streaming.Hosting;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// <c>streamlstm bench guarantees</c>: the same generated input consumed by the full service (durable state and
/// changelog on) once under <c>at_least_once</c> and once under <c>exactly_once</c>, in one run against an embedded
/// Kafka cluster; prints events/s of each and writes <c>artifacts/bench/guarantees.json</c>.
/// </summary>
public static class GuaranteeBench
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("guarantees", "Throughput of Kafka:Guarantee=at_least_once vs exactly_once (state store and changelog on), same input, same run");
        var events = new Option<int>("--events") { Description = "Generated input events", DefaultValueFactory = _ => 200_000 };
        events.Check(v => v < 1 ? "--events must be 1 or more." : null);
        var interval = new Option<double>("--commit-interval-s") { Description = "Kafka:CommitInterval in seconds (one checkpoint, one transaction, per interval)", DefaultValueFactory = _ => 1.0 };
        interval.Check(v => !(v > 0) || double.IsInfinity(v) ? "--commit-interval-s must be a number > 0." : null);
        var output = new Option<string>("--out") { Description = "JSON output path", DefaultValueFactory = _ => "artifacts/bench/guarantees.json" };
        foreach (var o in new Option[] { events, interval, output }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var n = parse.GetValue(events);
            var commit = TimeSpan.FromSeconds(parse.GetValue(interval));
            using var kafka = EmbeddedKafka.Start(brokers: 1);
            foreach (var (topic, partitions) in new[] { ("ticks", 4), ("vitals", 3), ("audio-features", 3), ("streamlstm.dlq", 1), ("late", 1), ("forecasts-at_least_once", 8), ("forecasts-exactly_once", 8) })
            {
                kafka.CreateTopic(topic, partitions);
            }

            // One changelog per run: the second run must not take the first one's state over (it would resume at the end).
            foreach (var guarantee in new[] { "at_least_once", "exactly_once" })
            {
                foreach (var (kind, partitions) in new[] { ("tick", 4), ("vitals", 3), ("audio", 3) }) kafka.CreateTopic($"changelog-{guarantee}.{kind}", partitions);
            }

            var gen = await GenerateCommand.RunAsync(new GenerateSettings { BootstrapServers = kafka.BootstrapServers, Events = n }, TextWriter.Null, Console.Error, ct).ConfigureAwait(false);
            if (gen != 0) return gen;
            Console.WriteLine($"bench guarantees: {n:N0} events (ticks, vitals, audio), 2 workers, state store + changelog, checkpoint every {commit.TotalSeconds:0.###} s, embedded Kafka");
            var results = new JsonObject { ["events"] = n, ["commit_interval_s"] = commit.TotalSeconds, ["workers"] = 2 };
            foreach (var guarantee in new[] { "at_least_once", "exactly_once" })
            {
                var r = await MeasureAsync(kafka.BootstrapServers, guarantee, n, commit, ct).ConfigureAwait(false);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {guarantee,-14} {r.EventsPerSecond,12:N0} events/s  (all forecasts handed over in {r.Processing.TotalSeconds:0.00} s, durable after {r.Durable.TotalSeconds:0.00} s, {r.Checkpoints} checkpoints)"));
                results[guarantee] = new JsonObject
                {
                    ["events_per_s"] = Math.Round(r.EventsPerSecond),
                    ["processing_s"] = Math.Round(r.Processing.TotalSeconds, 3),
                    ["durable_s"] = Math.Round(r.Durable.TotalSeconds, 3),
                    ["checkpoints"] = r.Checkpoints,
                };
            }

            var outPath = parse.GetValue(output)!;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
            await File.WriteAllTextAsync(outPath, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
            Console.WriteLine($"wrote {outPath}");
            return 0;
        });
        return command;
    }

    private static async Task<(double EventsPerSecond, TimeSpan Processing, TimeSpan Durable, long Checkpoints)> MeasureAsync(string bootstrap, string guarantee, int events, TimeSpan commit, CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("streamlstm-bench-guarantee-");
        try
        {
            string[] args =
            [
                $"--Kafka:BootstrapServers={bootstrap}", $"--Kafka:GroupId=bench-{guarantee}", $"--Kafka:ForecastsTopic=forecasts-{guarantee}",
                $"--Kafka:Guarantee={guarantee}", $"--Kafka:TransactionalId=bench-{guarantee}", $"--Kafka:CommitInterval={commit.ToString("c", CultureInfo.InvariantCulture)}",
                "--Pipeline:Workers=2", "--Sink:Enabled=false", "--Logging:LogLevel:Default=Warning",
            ];
            var overrides = new Dictionary<string, string?>
            {
                [$"{StateOptions.Section}:{nameof(StateOptions.Directory)}"] = dir.FullName,
                [$"{StateOptions.Section}:{nameof(StateOptions.ChangelogTopicPrefix)}"] = $"changelog-{guarantee}.",
            };
            using var host = StreamLstmHost.CreateBuilder(args, b => b.Services.AddOptions<StateOptions>().Bind(b.Configuration.GetSection(StateOptions.Section)), overrides).Build();
            var service = host.Services.GetRequiredService<PipelineHostedService>();
            await host.StartAsync(ct).ConfigureAwait(false);
            var pipeline = await service.Started.WaitAsync(TimeSpan.FromMinutes(1), ct).ConfigureAwait(false);
            var bound = Stopwatch.StartNew();
            // Polled: a benchmark's clock, 5 ms granularity on runs of seconds.
            while (service.Consumer is not { Consumed: > 0 }) await Wait(bound, service, ct).ConfigureAwait(false);
            var start = Stopwatch.GetTimestamp();
            while (pipeline.Totals().Forecasts < events) await Wait(bound, service, ct).ConfigureAwait(false);
            var processing = Stopwatch.GetElapsedTime(start);
            while (service.Consumer!.Lag > 0 || service.Consumer.PartitionLags.Count == 0) await Wait(bound, service, ct).ConfigureAwait(false);
            var durable = Stopwatch.GetElapsedTime(start);
            var checkpoints = service.Consumer.Barriers;
            await host.StopAsync(ct).ConfigureAwait(false);
            return (events / processing.TotalSeconds, processing, durable, checkpoints);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    private static async Task Wait(Stopwatch bound, PipelineHostedService service, CancellationToken ct)
    {
        if (service.Failure is { } failure) throw new InvalidOperationException("the pipeline failed: " + failure);
        if (bound.Elapsed > TimeSpan.FromMinutes(2))
        {
            var c = service.Consumer;
            throw new TimeoutException($"the pipeline did not finish the input within 2 minutes (consumed {c?.Consumed}, checkpoints {c?.Barriers}, failed {c?.FailedBarriers}, lag {c?.Lag})");
        }

        await Task.Delay(5, ct).ConfigureAwait(false);
    }
}
