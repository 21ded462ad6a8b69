using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Sink.Kafka;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// Latency through Kafka at a paced rate (below saturation): ticks are produced at a fixed rate; for each event the time from
/// just before its produce call to (a) its forecast being handed to the outputs and (b) its forecast being readable on the
/// forecasts topic is recorded, matched by (key, event time). Writes <c>kafka_paced</c> rows of the pipeline report.
/// </summary>
internal static class KafkaPacedBench
{
    public static async Task<JsonArray> RunAsync(Dictionary<SourceKind, LstmModel> models, int keys, int workers, double[] rates, TimeSpan duration, CancellationToken ct, Knobs? knobs = null, string label = "")
    {
        knobs ??= Knobs.Of(LatencyProfile.Low);
        var rows = new JsonArray();
        Console.WriteLine();
        Console.WriteLine($"kafka paced {label}(mock cluster, {workers} workers, {duration.TotalSeconds:0} s measured per rate after 2 s of warm-up; latency from produce to hand-off and to readable on the topic)");
        Console.WriteLine($"  knobs: {knobs}");
        Console.WriteLine("{0,10} {1,12} {2,10} {3,10} {4,10} {5,12}", "target/s", "events/s", "p50 µs", "p99 µs", "p999 µs", "topic p99 µs");
        foreach (var rate in rates)
        {
            var r = await OneAsync(models, keys, workers, rate, duration, knobs, ct).ConfigureAwait(false);
            Console.WriteLine("{0,10:N0} {1,12:N0} {2,10:N0} {3,10:N0} {4,10:N0} {5,12:N0}", rate, r.Rate, r.P50, r.P99, r.P999, r.TopicP99);
            Console.WriteLine("  " + r.Diagnosis);
            rows.Add(new JsonObject
            {
                ["target_events_per_s"] = rate, ["events_per_s"] = Math.Round(r.Rate),
                ["p50_us"] = r.P50, ["p99_us"] = r.P99, ["p999_us"] = r.P999, ["topic_p99_us"] = r.TopicP99, ["events"] = r.Events,
                ["profile"] = label.Trim(), ["knobs"] = knobs.ToString(), ["diagnosis"] = r.Diagnosis,
            });
        }

        return rows;
    }

    private sealed record Result(double Rate, double P50, double P99, double P999, double TopicP99, long Events, string Diagnosis);

    /// <summary>The knobs a paced run is measured with (the latency profile's settings, or overrides).</summary>
    internal sealed record Knobs(double TickLingerMs, int FetchWaitMaxMs, double MaxWaitMs, double ForecastLingerMs, int ChunkSize)
    {
        public static Knobs Of(LatencyProfile profile)
        {
            var t = LatencyTuning.For(profile);
            return new Knobs(t.ProducerLinger.TotalMilliseconds, t.FetchWaitMaxMs, t.MaxWait.TotalMilliseconds, t.ProducerLinger.TotalMilliseconds, 256);
        }
    }

    private static async Task<Result> OneAsync(Dictionary<SourceKind, LstmModel> models, int keys, int workers, double rate, TimeSpan duration, Knobs knobs, CancellationToken ct)
    {
        KafkaNative.EnsureLoaded();
        using var cluster = EmbeddedKafka.Start(1);
        cluster.CreateTopic("ticks", 8);
        cluster.CreateTopic("forecasts", 8);
        var sent = new ConcurrentDictionary<(string Key, long Ts), long>();
        var handoff = new LatencyOutput(sent);
        using var topic = new KafkaForecastOutput(new KafkaForecastOutputOptions { BootstrapServers = cluster.BootstrapServers, Topic = "forecasts", Linger = TimeSpan.FromMilliseconds(knobs.ForecastLingerMs) }, NullLogger.Instance);
        var options = new PipelineOptions { Workers = workers, MaxBatch = 512, ChunkSize = knobs.ChunkSize, ChannelCapacity = 16, MaxWait = TimeSpan.FromMilliseconds(knobs.MaxWaitMs), InitialSlots = keys / workers + 1024 };
        var pipeline = new StreamPipeline(options, models, [handoff, topic], new CountingDeadLetterSink());
        var consumer = new KafkaIngestConsumer(new KafkaConsumerOptions
        {
            BootstrapServers = cluster.BootstrapServers, GroupId = "paced-" + Guid.NewGuid().ToString("N"), Topics = new() { ["ticks"] = SourceKind.Tick },
            PollTimeout = TimeSpan.FromMilliseconds(1),
            Extra = { ["fetch.wait.max.ms"] = knobs.FetchWaitMaxMs.ToString(CultureInfo.InvariantCulture) },
        }, pipeline.Lanes, options.ChannelCapacity, pipeline.Pool, NullLogger.Instance, pipeline.FlushOutputsAsync);
        pipeline.Start(ct);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => consumer.Run(stop.Token)) { IsBackground = true };
        thread.Start();
        var topicLatencies = new List<double>();
        var measureFromTs = long.MaxValue;
        var reader = Task.Run(() => ReadTopic(cluster.BootstrapServers, sent, topicLatencies, () => Volatile.Read(ref measureFromTs), stop.Token), CancellationToken.None);

        // Wait for the assignment with one warm-up event, then pace.
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, LingerMs = knobs.TickLingerMs, Acks = Acks.Leader }).Build();
        var t0 = 1_700_000_000_000L;
        Produce(producer, sent, "WARM", t0);
        var wait = Stopwatch.StartNew();
        while (!handoff.WarmSeen && wait.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(5, ct).ConfigureAwait(false);

        // The first two seconds at the rate warm the JIT and the clients; only events after them are measured.
        var warm = (long)(rate * 2);
        var total = warm + (long)(rate * duration.TotalSeconds);
        handoff.MeasureFromTs = t0 + 1 + warm;
        Volatile.Write(ref measureFromTs, t0 + 1 + warm);
        var start = Stopwatch.GetTimestamp();
        handoff.Start = start;
        var gcBefore = (Gen0: GC.CollectionCount(0), Gen1: GC.CollectionCount(1), Gen2: GC.CollectionCount(2), Pause: GC.GetTotalPauseDuration());
        var pausesBefore = consumer.Pauses;
        long i = 0;
        while (i < total)
        {
            // Pacing in 1 ms slices: produce what is due, then sleep (spinning would take one of the two cores from the pipeline).
            var due = Math.Min(total, (long)(Stopwatch.GetElapsedTime(start).TotalSeconds * rate));
            for (; i < due; i++) Produce(producer, sent, "K" + (i % keys).ToString(CultureInfo.InvariantCulture), t0 + 1 + i);
            await Task.Delay(1, ct).ConfigureAwait(false);
        }

        var produceSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var gc = $"gc during run: gen0 {GC.CollectionCount(0) - gcBefore.Gen0}, gen1 {GC.CollectionCount(1) - gcBefore.Gen1}, gen2 {GC.CollectionCount(2) - gcBefore.Gen2}, paused {(GC.GetTotalPauseDuration() - gcBefore.Pause).TotalMilliseconds:N0} ms; consumer lane pauses {consumer.Pauses - pausesBefore}";
        var measured = total - warm;
        producer.Flush(TimeSpan.FromSeconds(30));
        wait.Restart();
        while (wait.Elapsed < TimeSpan.FromSeconds(60))
        {
            int onTopic;
            lock (topicLatencies) onTopic = topicLatencies.Count;
            if (handoff.Count >= measured && onTopic >= measured) break;
            await Task.Delay(10, ct).ConfigureAwait(false);
        }

        await stop.CancelAsync().ConfigureAwait(false);
        thread.Join();
        await pipeline.CompleteAsync(CancellationToken.None).ConfigureAwait(false);
        await reader.ConfigureAwait(false);
        var h = handoff.Sorted();
        double[] t;
        lock (topicLatencies) t = [.. topicLatencies.Order()];
        return new Result(total / produceSeconds, Q(h, 0.5), Q(h, 0.99), Q(h, 0.999), Q(t, 0.99), h.Length, gc + "; " + handoff.Stalls());
    }

    private static void Produce(IProducer<byte[], byte[]> producer, ConcurrentDictionary<(string, long), long> sent, string key, long ts)
    {
        var json = string.Create(CultureInfo.InvariantCulture, $"{{\"symbol\":\"{key}\",\"ts\":{ts},\"price\":{100 + (ts % 7)},\"size\":1}}");
        sent[(key, ts)] = Stopwatch.GetTimestamp();
        producer.Produce("ticks", new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(key), Value = Encoding.UTF8.GetBytes(json) });
    }

    private static void ReadTopic(string bootstrap, ConcurrentDictionary<(string, long), long> sent, List<double> latencies, Func<long> measureFromTs, CancellationToken stop)
    {
        using var c = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = "paced-reader-" + Guid.NewGuid().ToString("N"), AutoOffsetReset = AutoOffsetReset.Latest, FetchWaitMaxMs = 1,
        }).Build();
        c.Subscribe("forecasts");
        while (!stop.IsCancellationRequested)
        {
            var r = c.Consume(TimeSpan.FromMilliseconds(10));
            if (r is null) continue;
            var now = Stopwatch.GetTimestamp();
            using var doc = JsonDocument.Parse(r.Message.Value);
            var key = doc.RootElement.GetProperty("key").GetString()!;
            var ts = doc.RootElement.GetProperty("ts").GetInt64();
            if (ts >= measureFromTs() && sent.TryGetValue((key, ts), out var at))
            {
                lock (latencies) latencies.Add(Stopwatch.GetElapsedTime(at, now).TotalMicroseconds);
            }
        }

        c.Close();
    }

    private static double Q(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : Math.Round(sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))]);

    /// <summary>Records, per forecast row, the time since its event was produced (rows of the warm-up key excluded).</summary>
    private sealed class LatencyOutput(ConcurrentDictionary<(string, long), long> sent) : IForecastOutput
    {
        private readonly List<double> _micros = [];
        private readonly List<(double SentS, double Micros)> _timeline = [];

        /// <summary>When pacing started (a Stopwatch timestamp): the timeline is relative to it.</summary>
        public long Start { get; set; }

        private volatile bool _warmSeen;

        /// <summary>Rows with an earlier event time are warm-up, not measured.</summary>
        public long MeasureFromTs { get; set; } = long.MaxValue;

        public bool WarmSeen => _warmSeen;

        public int Count
        {
            get
            {
                lock (_micros) return _micros.Count;
            }
        }

        public double[] Sorted()
        {
            lock (_micros) return [.. _micros.Order()];
        }

        public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
        {
            var now = Stopwatch.GetTimestamp();
            lock (_micros)
            {
                for (var r = 0; r < batch.Count; r++)
                {
                    if (batch.Keys[r] == "WARM") _warmSeen = true;
                    else if (batch.TimestampsMs[r] >= MeasureFromTs && sent.TryGetValue((batch.Keys[r], batch.TimestampsMs[r]), out var at))
                    {
                        var us = Stopwatch.GetElapsedTime(at, now).TotalMicroseconds;
                        _micros.Add(us);
                        _timeline.Add((Stopwatch.GetElapsedTime(Start, at).TotalSeconds, us));
                    }
                }
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        /// <summary>Where the tail comes from: events over 5 ms, and the worst 100 ms windows of produce time.</summary>
        public string Stalls()
        {
            lock (_micros)
            {
                var over = _timeline.Count(e => e.Micros > 5_000);
                var worst = _timeline.GroupBy(e => (int)(e.SentS * 10)).Select(g => (At: g.Key / 10.0, Max: g.Max(e => e.Micros), Over: g.Count(e => e.Micros > 5_000)))
                    .OrderByDescending(w => w.Max).Take(4).OrderBy(w => w.At);
                return $"{over} events over 5 ms; worst 100 ms windows (s after start: max ms/events over 5 ms): "
                    + string.Join(", ", worst.Select(w => string.Create(CultureInfo.InvariantCulture, $"+{w.At:0.0}: {w.Max / 1000:0.0}/{w.Over}")));
            }
        }
    }
}
