using System.CommandLine;
using System.Globalization;
using Confluent.Kafka;
using StreamLstm.Ingest.Generators;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Cli;

namespace StreamLstm.Streaming.Generate;

/// <summary>Settings of <c>streamlstm generate</c>.</summary>
public sealed record GenerateSettings
{
    /// <summary>The first event time when none is given: 2023-11-14T22:13:20Z (fixed, so runs repeat; inside every decoder window).</summary>
    public const long DefaultStartUnixMs = 1_700_000_000_000;

    /// <summary>Kafka bootstrap servers.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>Events in all, split evenly over the enabled kinds (the first kinds take the remainder).</summary>
    public required long Events { get; init; }

    /// <summary>Generator seed.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Tick symbols (0 = no ticks).</summary>
    public int Symbols { get; init; } = 500;

    /// <summary>Patients (0 = no vitals).</summary>
    public int Patients { get; init; } = 100;

    /// <summary>Audio streams (0 = no audio frames).</summary>
    public int AudioStreams { get; init; } = 50;

    /// <summary>Virtual time of the first events, epoch ms.</summary>
    public long StartUnixMs { get; init; } = DefaultStartUnixMs;

    /// <summary>How long a message may wait for its delivery before it counts as failed.</summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The kinds to write, their topic, key count and share of <see cref="Events"/>.</summary>
    /// <returns>One entry per enabled kind.</returns>
    public IReadOnlyList<(SourceKind Kind, string Topic, int Keys, long Events)> Plan()
    {
        var kinds = new[] { (SourceKind.Tick, Symbols), (SourceKind.Vitals, Patients), (SourceKind.Audio, AudioStreams) }.Where(k => k.Item2 > 0).ToList();
        return [.. kinds.Select((k, i) => (k.Item1, EventGenerators.DefaultTopic(k.Item1), k.Item2, (Events / kinds.Count) + (i < Events % kinds.Count ? 1 : 0)))];
    }
}

/// <summary>
/// <c>streamlstm generate</c>: writes a deterministic mixed input (ticks, vitals, audio frames from the generators, with
/// their labelled anomalies) to <c>ticks</c>, <c>vitals</c> and <c>audio-features</c> as fast as the cluster takes it,
/// waits for every delivery and exits. The same seed and settings give byte-identical keys and values, in the same order
/// per partition (the key picks the partition; an idempotent producer keeps the order through retries). Event times start
/// at a fixed instant, not the wall clock; only Kafka's record timestamps (producer create time) differ between runs.
/// </summary>
public static class GenerateCommand
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("generate", "Write a deterministic mixed input to ticks, vitals and audio-features, wait for every delivery, exit.");
        var bootstrap = new Option<string>("--bootstrap-servers") { Description = "Kafka brokers HOST:PORT[,HOST:PORT]", Required = true };
        var events = new Option<long>("--events") { Description = "Events in all, split evenly over ticks, vitals and audio frames", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Generator seed (same seed, same messages)", DefaultValueFactory = _ => 42UL };
        var symbols = new Option<int>("--symbols") { Description = "Tick symbols (0 = no ticks)", DefaultValueFactory = _ => 500 };
        var patients = new Option<int>("--patients") { Description = "Patients (0 = no vitals)", DefaultValueFactory = _ => 100 };
        var streams = new Option<int>("--audio-streams") { Description = "Audio streams (0 = no audio frames)", DefaultValueFactory = _ => 50 };
        var start = new Option<long>("--start-ms") { Description = "Event time of the first events, Unix ms (default 1700000000000 = 2023-11-14T22:13:20Z)", DefaultValueFactory = _ => GenerateSettings.DefaultStartUnixMs };
        var timeout = new Option<TimeSpan>("--delivery-timeout") { Description = "How long a message may wait for delivery before it counts as failed (e.g. 30s)", DefaultValueFactory = _ => TimeSpan.FromSeconds(30), CustomParser = Hosting.DurationText.Argument };
        events.Check(v => v < 0 ? "--events must be >= 0." : null);
        foreach (var o in new Option[] { bootstrap, events, seed, symbols, patients, streams, start, timeout }) command.Options.Add(o);
        command.SetAction((parse, ct) => RunAsync(new GenerateSettings
        {
            BootstrapServers = parse.GetValue(bootstrap)!,
            Events = parse.GetValue(events),
            Seed = parse.GetValue(seed),
            Symbols = parse.GetValue(symbols),
            Patients = parse.GetValue(patients),
            AudioStreams = parse.GetValue(streams),
            StartUnixMs = parse.GetValue(start),
            DeliveryTimeout = parse.GetValue(timeout),
        }, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    /// <summary>Generates, produces and waits for the deliveries.</summary>
    /// <param name="s">Settings.</param>
    /// <param name="output">Where the summary goes.</param>
    /// <param name="error">Where problems go.</param>
    /// <param name="ct">Stops early (what was produced is still flushed).</param>
    /// <returns>0 when every message was delivered; 1 when some failed; 2 for bad settings; 130 when interrupted.</returns>
    public static async Task<int> RunAsync(GenerateSettings s, TextWriter output, TextWriter error, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (Problem(s) is { } problem)
        {
            await error.WriteLineAsync("generate: " + problem).ConfigureAwait(false);
            return 2;
        }

        KafkaNative.EnsureLoaded();
        if (Unreachable(s.BootstrapServers) is { } unreachable)
        {
            await error.WriteLineAsync($"generate: cannot reach Kafka at {s.BootstrapServers}: {unreachable}").ConfigureAwait(false);
            return 1;
        }

        var plan = s.Plan();
        var taps = plan.Select(p => new TimeRangeTap(EventGenerators.Create(p.Kind, p.Keys, s.Seed, configure: o => o.StartUnixMs = s.StartUnixMs))).ToList();
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"generate: {s.Events:N0} events, seed {s.Seed}, to {s.BootstrapServers}")).ConfigureAwait(false);
        var started = TimeProvider.System.GetTimestamp();
        ProduceReport[] reports;
        long delivered, failed;
        using (var producer = new KafkaEventProducer(s.BootstrapServers, c =>
        {
            // Idempotence keeps each partition's order through retries, so the same seed gives the same log.
            c.EnableIdempotence = true;
            c.Acks = Acks.All;
            c.MessageTimeoutMs = (int)s.DeliveryTimeout.TotalMilliseconds;
            c.ClientId = "streamlstm-generate";
        }))
        {
            // One task per kind: each topic's order is its generator's order, whatever the interleaving across topics.
            reports = await Task.WhenAll(plan.Select((p, i) => Task.Run(() => producer.ProduceAsync(taps[i], p.Topic, p.Events, cancellationToken: ct), CancellationToken.None))).ConfigureAwait(false);
            producer.Flush(CancellationToken.None);
            delivered = producer.Delivered;
            failed = producer.Failed;
        }

        var elapsed = TimeProvider.System.GetElapsedTime(started);
        for (var i = 0; i < plan.Count; i++)
        {
            var (kind, topic, keys, _) = plan[i];
            var range = taps[i].FirstMs < 0 ? "no events" : $"event time {Iso(taps[i].FirstMs)} .. {Iso(taps[i].LastMs)}";
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  {topic,-15} {reports[i].Produced,12:N0} {kind.ToWireName(),-6} events, {keys:N0} keys, {reports[i].Anomalies:N0} labelled anomalous, {range}")).ConfigureAwait(false);
        }

        var produced = reports.Sum(r => r.Produced);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"generate: delivered {delivered:N0} of {produced:N0} in {elapsed.TotalSeconds:0.0} s ({(elapsed > TimeSpan.Zero ? delivered / elapsed.TotalSeconds : 0):N0} msg/s)")).ConfigureAwait(false);
        if (failed > 0 || delivered < produced)
        {
            var first = reports.Select(r => r.FirstError).FirstOrDefault(e => e is not null) ?? "no delivery report";
            await error.WriteLineAsync($"generate: {produced - delivered:N0} of {produced:N0} messages were not delivered (first error: {first})").ConfigureAwait(false);
            return 1;
        }

        if (ct.IsCancellationRequested)
        {
            await error.WriteLineAsync($"generate: interrupted after {produced:N0} of {s.Events:N0} events (all of those delivered)").ConfigureAwait(false);
            return 130;
        }

        return 0;
    }

    private static string? Problem(GenerateSettings s)
    {
        if (string.IsNullOrWhiteSpace(s.BootstrapServers)) return "--bootstrap-servers is empty: give HOST:PORT[,HOST:PORT].";
        if (s.Events < 0) return "--events must be >= 0.";
        if (s.Symbols < 0 || s.Patients < 0 || s.AudioStreams < 0) return "--symbols, --patients and --audio-streams must be >= 0.";
        if (s.Symbols + s.Patients + s.AudioStreams == 0) return "every kind is switched off: give --symbols, --patients or --audio-streams > 0.";
        if (s.StartUnixMs < 0 || s.StartUnixMs > DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()) return $"--start-ms must be from 0 (1970) to now (was {s.StartUnixMs}); the pipeline rejects event times more than a day ahead.";
        if (s.DeliveryTimeout <= TimeSpan.Zero || s.DeliveryTimeout > TimeSpan.FromHours(1)) return $"--delivery-timeout must be between 0 and 1 hour (was {s.DeliveryTimeout}).";
        return null;
    }

    /// <summary>Asks the cluster for its metadata once, so an unreachable cluster fails in seconds with a clear reason.</summary>
    private static string? Unreachable(string bootstrap)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap, ClientId = "streamlstm-generate" })
            .SetLogHandler((_, _) => { })
            .Build();
        try
        {
            admin.GetMetadata(TimeSpan.FromSeconds(10));
            return null;
        }
        catch (KafkaException e)
        {
            return e.Error.Reason;
        }
    }

    private static string Iso(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
