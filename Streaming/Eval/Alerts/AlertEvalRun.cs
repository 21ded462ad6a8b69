using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Features;
using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Weights;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Outputs;
using StreamLstm.Streaming.Demo;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Eval.Alerts;

/// <summary>Settings of one <c>eval alerts</c> run.</summary>
public sealed record AlertEvalSettings
{
    /// <summary>Events generated per source kind.</summary>
    public int Events { get; init; } = 100_000;

    /// <summary>Keys per kind: tick symbols, vitals patients, audio streams.</summary>
    public (int Tick, int Vitals, int Audio) Keys { get; init; } = (50, 50, 20);

    /// <summary>Source kinds to run.</summary>
    public IReadOnlyList<SourceKind> Kinds { get; init; } = [SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio];

    /// <summary>Generator seed of the evaluated stream (training history uses seed + 1000, as <c>demo</c> does).</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Multiplier on the generators' anomaly rates for the evaluated stream (training history always uses 1).</summary>
    public double AnomalyRate { get; init; } = 3.0;

    /// <summary>Hidden size of the models trained at start-up.</summary>
    public int Hidden { get; init; } = 32;

    /// <summary>Training epochs at start-up.</summary>
    public int Epochs { get; init; } = 6;

    /// <summary>Generated events per key of training history.</summary>
    public int TrainEventsPerKey { get; init; } = 400;

    /// <summary>Model files per kind instead of training (as <c>demo --model</c>).</summary>
    public IReadOnlyDictionary<SourceKind, string> ModelFiles { get; init; } = new Dictionary<SourceKind, string>();

    /// <summary>An alert still matches an episode this many of the key's mean event intervals after the episode's end.</summary>
    public double GraceEvents { get; init; } = 10;

    /// <summary>Virtual partitions per kind.</summary>
    public int Partitions { get; init; } = 8;
}

/// <summary>What one run measured.</summary>
/// <param name="OnlineRequested">Whether <c>Online:Enabled</c> was true for the run.</param>
/// <param name="OnlineActive">Whether an online trainer actually ran beside the pipeline.</param>
/// <param name="Kinds">Quality per source kind.</param>
/// <param name="Events">Events fed.</param>
/// <param name="Forecasts">Forecasts the pipeline produced.</param>
/// <param name="DeadLetters">Dead letters and late events.</param>
/// <param name="Elapsed">Wall time of the pipeline pass (without training).</param>
public sealed record AlertEvalResult(bool OnlineRequested, bool OnlineActive, IReadOnlyList<KindQuality> Kinds, long Events, long Forecasts, long DeadLetters, TimeSpan Elapsed)
{
    /// <summary>Fine-tunes the online trainer ran (0 when off).</summary>
    public long FineTunes { get; init; }

    /// <summary>Fine-tuned models the gate promoted and the workers swapped to.</summary>
    public long Promotions { get; init; }

    /// <summary>The trainer thread's priority as applied and read back (<c>Online:TrainerPriority</c>; null when off).</summary>
    public Online.Scheduling.AppliedPriority? TrainerPriority { get; init; }
}

/// <summary>
/// Runs the generators, which label the anomalies they inject, through the real pipeline: an <see cref="InProcessSource"/>
/// feeding a <see cref="StreamPipeline"/> whose output is the sink's <see cref="InfluxForecastOutput"/> (forecast scoring
/// and the alert state machine, with <c>Sink:Anomaly</c> from the same configuration as <c>demo</c>/<c>run</c>) writing to
/// a point sink that discards the lines. Alerts are read through <see cref="IScoredBatchObserver"/>, then scored against
/// the labelled episodes by <see cref="AlertScoring"/>.
/// </summary>
public static class AlertEvalRun
{
    /// <summary>Mean events per second per key of each kind (the demo's rates).</summary>
    /// <param name="kind">Kind.</param>
    /// <returns>Events per second.</returns>
    public static double RateOf(SourceKind kind) => kind switch { SourceKind.Tick => 10, SourceKind.Vitals => 1, _ => 100 };

    /// <summary>The generator of a kind.</summary>
    /// <param name="kind">Kind.</param>
    /// <param name="keys">Keys.</param>
    /// <param name="seed">Seed.</param>
    /// <param name="anomalyScale">Anomaly rate multiplier.</param>
    /// <returns>The generator.</returns>
    public static IEventGenerator Generator(SourceKind kind, int keys, ulong seed, double anomalyScale) => kind switch
    {
        SourceKind.Tick => new TickGenerator(new TickGeneratorOptions { Keys = keys, Seed = seed, EventsPerKeyPerSecond = RateOf(kind), AnomalyRateScale = anomalyScale }),
        SourceKind.Vitals => new VitalsGenerator(new VitalsGeneratorOptions { Keys = keys, Seed = seed + 1, EventsPerKeyPerSecond = RateOf(kind), AnomalyRateScale = anomalyScale }),
        _ => new AudioFrameGenerator(new AudioGeneratorOptions { Keys = keys, Seed = seed + 2, EventsPerKeyPerSecond = RateOf(kind), AnomalyRateScale = anomalyScale }),
    };

    /// <summary>Loads or trains one model per kind, as <c>demo</c> does (generated history, its own seed, anomaly rate 1).</summary>
    /// <param name="s">Settings.</param>
    /// <param name="alpha">Normalisation decay (<c>Pipeline:NormalisationAlpha</c>).</param>
    /// <param name="log">Progress lines.</param>
    /// <returns>The models.</returns>
    public static Dictionary<SourceKind, LstmModel> Models(AlertEvalSettings s, double alpha, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(log);
        var result = new Dictionary<SourceKind, LstmModel>();
        foreach (var kind in s.Kinds)
        {
            if (s.ModelFiles.TryGetValue(kind, out var path))
            {
                result[kind] = ModelFile.Load(path);
                continue;
            }

            var generator = Generator(kind, Math.Min(64, KeysOf(s, kind)), s.Seed + 1000, 1.0);
            var (model, loss, elapsed) = DemoTraining.Train(kind, generator, new LstmConfig(FeatureExtractor.For(kind).FeatureCount, s.Hidden, 1, 5), s.TrainEventsPerKey, s.Epochs, alpha, (int)kind + 1);
            log.WriteLine($"model {kind.ToWireName()}: trained in {elapsed.TotalSeconds:0.0}s, final NLL {loss:0.000}");
            result[kind] = model;
        }

        return result;
    }

    /// <summary>Runs the evaluation once.</summary>
    /// <param name="s">Settings.</param>
    /// <param name="configuration">Configuration (<c>Pipeline</c>, <c>Sink:Anomaly</c>, <c>Online:Enabled</c>).</param>
    /// <param name="models">One model per kind in <see cref="AlertEvalSettings.Kinds"/>.</param>
    /// <param name="ct">Cancels the run.</param>
    /// <returns>The figures.</returns>
    public static async Task<AlertEvalResult> RunAsync(AlertEvalSettings s, IConfiguration configuration, IReadOnlyDictionary<SourceKind, LstmModel> models, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(configuration);
        var anomaly = configuration.GetSection("Sink:Anomaly").Get<AnomalyOptions>() ?? new AnomalyOptions();
        var problems = anomaly.Validate().ToList();
        if (problems.Count > 0) throw new ArgumentException("Invalid settings: " + string.Join("; ", problems));
        var options = configuration.GetSection(PipelineOptions.Section).Get<PipelineOptions>() ?? new PipelineOptions();
        // Scoring runs in the pipeline (one scoring state per key), so the anomaly settings go to the pipeline's options.
        options.Anomaly = anomaly;
        var online = configuration.GetValue("Online:Enabled", false);

        var deadDir = Path.Combine(Path.GetTempPath(), "streamlstm-eval-alerts-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8]);
        var recorder = new AlertRecorder();
        var sink = new DiscardPointSink();
        var output = new InfluxForecastOutput(sink, new DeadLetterFile(deadDir, TimeProvider.System), TimeProvider.System, NullLogger<InfluxForecastOutput>.Instance)
        {
            Observer = recorder,
        };
        var deadLetters = new CountingDeadLetterSink();
        var pipeline = new StreamPipeline(options, models, [output], deadLetters);
        var source = new InProcessSource(pipeline);
        var trackers = new Dictionary<SourceKind, EpisodeTracker>();
        var sw = Stopwatch.StartNew();
        // Online learning attaches before the workers start (they feed its replay buffers from the first event).
        await using (var trainer = await OnlineTrainer.AttachAsync(pipeline, models, configuration, online, s.Events, ct).ConfigureAwait(false))
        {
            pipeline.Start(ct);
            var buffer = new byte[EventJson.MaxEventBytes];
            long sent = 0;
            foreach (var kind in s.Kinds)
            {
                var generator = Generator(kind, KeysOf(s, kind), s.Seed, s.AnomalyRate);
                var tracker = trackers[kind] = new EpisodeTracker(kind, generator.GetKey);
                var keyBytes = Enumerable.Range(0, generator.KeyCount).Select(k => generator.GetKeyUtf8(k).ToArray()).ToArray();
                for (var i = 0; i < s.Events; i++)
                {
                    var info = generator.Next(buffer, out var n);
                    tracker.Add(info);
                    await source.AddAsync(kind, info.KeyIndex % s.Partitions, keyBytes[info.KeyIndex], buffer.AsSpan(0, n).ToArray(), ct).ConfigureAwait(false);
                    if (trainer.Active && trainer.EveryEvents > 0 && (i + 1) % trainer.EveryEvents == 0)
                    {
                        // Everything so far is stepped (and in the replay buffers) before the fine-tune samples them.
                        await source.FlushAsync(ct).ConfigureAwait(false);
                        await WaitStepped(pipeline, sent + i + 1, ct).ConfigureAwait(false);
                        await trainer.RetrainAsync(kind, ct).ConfigureAwait(false);
                    }
                }

                tracker.Close();
                sent += s.Events;
            }

            await source.FlushAsync(ct).ConfigureAwait(false);
            await pipeline.CompleteAsync(ct).ConfigureAwait(false);
            sw.Stop();
            var alerts = recorder.Raised.ToArray();
            var kinds = s.Kinds.Select(kind => AlertScoring.Score(kind, trackers[kind].Episodes, alerts,
                (long)(s.GraceEvents * 1000.0 / RateOf(kind)), trackers[kind].KeyHours)).ToArray();
            var totals = pipeline.Totals();
            TryDelete(deadDir);
            var (tried, promoted) = trainer.Totals;
            return new AlertEvalResult(online, trainer.Active, kinds, (long)s.Events * s.Kinds.Count, totals.Forecasts, totals.DeadLetters + totals.Late, sw.Elapsed) { FineTunes = tried, Promotions = promoted, TrainerPriority = trainer.Priority };
        }
    }

    private static async Task WaitStepped(StreamPipeline pipeline, long events, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + 60 * Stopwatch.Frequency;
        while (true)
        {
            var t = pipeline.Totals();
            if (t.Forecasts + t.DeadLetters + t.Late + t.Duplicates >= events) return;
            if (Stopwatch.GetTimestamp() > deadline) throw new TimeoutException($"eval alerts: the pipeline did not step {events:N0} events within 60 s before a fine-tune ({t.Forecasts:N0} forecasts, {t.DeadLetters + t.Late + t.Duplicates:N0} other).");
            await Task.Delay(1, ct).ConfigureAwait(false);
        }
    }

    private static int KeysOf(AlertEvalSettings s, SourceKind kind) => kind switch { SourceKind.Tick => s.Keys.Tick, SourceKind.Vitals => s.Keys.Vitals, _ => s.Keys.Audio };

    private static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // A leftover empty temp folder is harmless.
        }
    }

    /// <summary>Takes the forecast and alert lines and drops them: the evaluation reads alerts through the observer.</summary>
    private sealed class DiscardPointSink : IPointSink
    {
        public WritePrecision Precision => WritePrecision.Nanoseconds;

        public SinkCounters Counters { get; } = new();

        public ValueTask WriteAsync(LineProtocolBuffer lines, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
