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
    public static async Task<JsonArray> RunAsync(Dictionary<SourceKind, LstmModel> models, int keys, int workers, double[] rates, TimeSpan duration, CancellationToken ct)
    {
        var rows = new JsonArray();
        Console.WriteLine();
        Console.WriteLine($"kafka paced (mock cluster, {workers} workers, {duration.TotalSeconds:0} s measured per rate after 2 s of warm-up; latency from produce to hand-off and to readable on the topic)");
        Console.WriteLine("{0,10} {1,12} {2,10} {3,10} {4,10} {5,12}", "target/s", "events/s", "p50 µs", "p99 µs", "p999 µs", "topic p99 µs");
        foreach (var rate in rates)
        {
            var r = await OneAsync(models, keys, workers, rate, duration, ct).ConfigureAwait(false);
            Console.WriteLine("{0,10:N0} {1,12:N0} {2,10:N0} {3,10:N0} {4,10:N0} {5,12:N0}", rate, r.Rate, r.P50, r.P99, r.P999, r.TopicP99);
            rows.Add(new JsonObject
            {
                ["target_events_per_s"] = rate, ["events_per_s"] = Math.Round(r.Rate),
                ["p50_us"] = r.P50, ["p99_us"] = r.P99, ["p999_us"] = r.P999, ["topic_p99_us"] = r.TopicP99, ["events"] = r.Events,
            });
        }

        return rows;
    }

    private sealed record Result(double Rate, double P50, double P99, double P999, double TopicP99, long Events);

    private static async Task<Result> OneAsync(Dictionary<SourceKind, LstmModel> models, int keys, int workers, double rate, TimeSpan duration, CancellationToken ct)
    {
        KafkaNative.EnsureLoaded();
        using var cluster = EmbeddedKafka.Start(1);
        cluster.CreateTopic("ticks", 8);
        cluster.CreateTopic("forecasts", 8);
        var sent = new ConcurrentDictionary<(string Key, long Ts), long>();
        var handoff = new LatencyOutput(sent);
        using var topic = new KafkaForecastOutput(new KafkaForecastOutputOptions { BootstrapServers = cluster.BootstrapServers, Topic = "forecasts", Linger = TimeSpan.Zero }, NullLogger.Instance);
        var options = new PipelineOptions { Workers = workers, MaxBatch = 512, ChunkSize = 256, ChannelCapacity = 16, MaxWait = TimeSpan.FromMilliseconds(1), InitialSlots = keys / workers + 1024 };
        var pipeline = new StreamPipeline(options, models, [handoff, topic], new CountingDeadLetterSink());
        var consumer = new KafkaIngestConsumer(new KafkaConsumerOptions
        {
            BootstrapServers = cluster.BootstrapServers, GroupId = "paced-" + Guid.NewGuid().ToString("N"), Topics = new() { ["ticks"] = SourceKind.Tick },
            PollTimeout = TimeSpan.FromMilliseconds(1),
            Extra = { ["fetch.wait.max.ms"] = "1" },
        }, pipeline.Lanes, options.ChannelCapacity, pipeline.Pool, NullLogger.Instance, pipeline.FlushOutputsAsync);
        pipeline.Start(ct);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => consumer.Run(stop.Token)) { IsBackground = true };
        thread.Start();
        var topicLatencies = new List<double>();
        var measureFromTs = long.MaxValue;
        var reader = Task.Run(() => ReadTopic(cluster.BootstrapServers, sent, topicLatencies, () => Volatile.Read(ref measureFromTs), stop.Token), CancellationToken.None);

        // Wait for the assignment with one warm-up event, then pace.
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, LingerMs = 1, Acks = Acks.Leader }).Build();
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
        long i = 0;
        while (i < total)
        {
            // Pacing in 1 ms slices: produce what is due, then sleep (spinning would take one of the two cores from the pipeline).
            var due = Math.Min(total, (long)(Stopwatch.GetElapsedTime(start).TotalSeconds * rate));
            for (; i < due; i++) Produce(producer, sent, "K" + (i % keys).ToString(CultureInfo.InvariantCulture), t0 + 1 + i);
            await Task.Delay(1, ct).ConfigureAwait(false);
        }

        var produceSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
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
        return new Result(total / produceSeconds, Q(h, 0.5), Q(h, 0.99), Q(h, 0.999), Q(t, 0.99), h.Length);
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
                    else if (batch.TimestampsMs[r] >= MeasureFromTs && sent.TryGetValue((batch.Keys[r], batch.TimestampsMs[r]), out var at)) _micros.Add(Stopwatch.GetElapsedTime(at, now).TotalMicroseconds);
                }
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
