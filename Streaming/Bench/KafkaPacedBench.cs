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
internal static partial class KafkaPacedBench
{
    public static async Task<JsonArray> RunAsync(Dictionary<SourceKind, LstmModel> models, int keys, int workers, double[] rates, TimeSpan duration, CancellationToken ct, Knobs? knobs = null, string label = "")
    {
        knobs ??= Knobs.Of(LatencyProfile.Low);
        var rows = new JsonArray();
        Console.WriteLine();
        Console.WriteLine($"kafka paced {label}(mock cluster, {knobs.Partitions} partitions, {workers} workers, {duration.TotalSeconds:0} s measured per rate after 2 s of warm-up; latency from produce to hand-off and to readable on the topic)");
        Console.WriteLine($"  knobs: {knobs}");
        Console.WriteLine("{0,10} {1,12} {2,10} {3,10} {4,10} {5,12}", "target/s", "events/s", "p50 µs", "p99 µs", "p999 µs", "topic p99 µs");
        foreach (var rate in rates)
        {
            var r = await OneAsync(models, keys, workers, rate, duration, knobs, ct).ConfigureAwait(false);
            Console.WriteLine("{0,10:N0} {1,12:N0} {2,10:N0} {3,10:N0} {4,10:N0} {5,12:N0}", rate, r.Rate, r.P50, r.P99, r.P999, r.TopicP99);
            Console.WriteLine("  split p50/p99/p999 µs: " + r.Split.Text);
            Console.WriteLine("  " + r.Diagnosis);
            Console.WriteLine("  worst second: " + r.PerSecond.Worst);
            Console.WriteLine("  timeline " + r.Timeline);
            Console.WriteLine("  per second (s: events, p50/p99/max ms, transport p99 ms, mock/process cores, ticks sets so far, msgs/set, ticks queue p99 ms, send queue p99 ms, produce rtt p99 ms, produce requests in flight, produce requests so far, reader fetch rtt avg/p99 ms):");
            foreach (var line in r.PerSecond.Text) Console.WriteLine("    " + line);
            var row = new JsonObject
            {
                ["target_events_per_s"] = rate, ["events_per_s"] = Math.Round(r.Rate),
                ["p50_us"] = r.P50, ["p99_us"] = r.P99, ["p999_us"] = r.P999, ["topic_p99_us"] = r.TopicP99, ["events"] = r.Events,
                ["profile"] = label.Trim(), ["knobs"] = knobs.ToString(), ["diagnosis"] = r.Diagnosis, ["timeline"] = r.Timeline,
                ["partitions"] = knobs.Partitions, ["nagle_disabled"] = knobs.NagleDisable, ["broker_nagle_disabled"] = knobs.BrokerNagleDisable, ["retention_ms"] = knobs.RetentionMs,
                ["per_second"] = r.PerSecond.Json(), ["worst_second"] = r.PerSecond.Worst,
            };
            // The split of each event's latency: produce → consumer poll, poll → hand-off, hand-off → readable on the topic.
            foreach (var (name, v) in r.Split.Fields) row[name] = v;
            rows.Add(row);
        }

        return rows;
    }

    private sealed record Result(double Rate, double P50, double P99, double P999, double TopicP99, long Events, string Diagnosis, string Timeline, Split Split, PerSecond PerSecond);

    /// <summary>
    /// The knobs a paced run is measured with (the latency profile's settings, or overrides): <paramref name="Partitions"/> of
    /// the ticks and forecasts topics, <paramref name="NagleDisable"/> (<c>socket.nagle.disable</c>) on every client of
    /// the run (ticks producer, consumer, forecasts producer, topic reader) and <paramref name="BrokerNagleDisable"/> on the
    /// mock broker's side of the connections (on by default, as a real Kafka broker); with <paramref name="RetentionMs"/> &gt; 0
    /// the mock's logs are cut to the last one to two such periods (its fetches walk the log from the start).
    /// </summary>
    internal sealed record Knobs(double TickLingerMs, int FetchWaitMaxMs, double MaxWaitMs, double ForecastLingerMs, int ChunkSize, int ChannelCapacity = 16, int Partitions = 8, bool NagleDisable = false, bool BrokerNagleDisable = true, int RetentionMs = 0)
    {
        public static Knobs Of(LatencyProfile profile)
        {
            var t = LatencyTuning.For(profile);
            // The ticks producer stands for the upstream (not ours): 1 ms linger in every profile; its socket settings follow
            // the profile's, as a latency-minded upstream would.
            return new Knobs(1, t.FetchWaitMaxMs, t.MaxWait.TotalMilliseconds, t.ProducerLinger.TotalMilliseconds, 256, t.ChannelCapacity, NagleDisable: t.DisableNagle);
        }

        /// <summary>The librdkafka properties the knobs add to every client of the run.</summary>
        public IEnumerable<KeyValuePair<string, string>> ClientProperties()
        {
            if (NagleDisable) yield return new(LatencyTuning.NagleDisableProperty, "true");
        }
    }

    private static async Task<Result> OneAsync(Dictionary<SourceKind, LstmModel> models, int keys, int workers, double rate, TimeSpan duration, Knobs knobs, CancellationToken ct)
    {
        KafkaNative.EnsureLoaded();
        using var cluster = EmbeddedKafka.Start(1, knobs.BrokerNagleDisable);
        cluster.CreateTopic("ticks", knobs.Partitions);
        cluster.CreateTopic("forecasts", knobs.Partitions);
        var clientProperties = knobs.ClientProperties().ToDictionary();

        // Bookkeeping in arrays sized up front, indexed by event number (ts - t0 - 1): a growing dictionary of the sent
        // events was the bench's own large-object garbage, and gen2 collections in the measured window.
        var warm = (long)(rate * 2);
        var total = warm + (long)(rate * duration.TotalSeconds);
        var log = new EventLog(total, warm);
        var transportOnly = knobs.ChunkSize == 0;
        using var topic = transportOnly ? null : new KafkaForecastOutput(new KafkaForecastOutputOptions { BootstrapServers = cluster.BootstrapServers, Topic = "forecasts", Linger = TimeSpan.FromMilliseconds(knobs.ForecastLingerMs), Extra = clientProperties }, NullLogger.Instance);
        var options = new PipelineOptions { Workers = workers, MaxBatch = 512, ChunkSize = Math.Max(1, knobs.ChunkSize), ChannelCapacity = knobs.ChannelCapacity, MaxWait = TimeSpan.FromMilliseconds(knobs.MaxWaitMs), InitialSlots = keys / workers + 1024 };
        var handoff = new LatencyOutput(log);
        var pipeline = new StreamPipeline(options, models, topic is null ? [handoff] : [handoff, topic], new CountingDeadLetterSink());
        var consumer = new KafkaIngestConsumer(new KafkaConsumerOptions
        {
            BootstrapServers = cluster.BootstrapServers, GroupId = "paced-" + Guid.NewGuid().ToString("N"), Topics = new() { ["ticks"] = SourceKind.Tick },
            PollTimeout = TimeSpan.FromMilliseconds(1),
            Extra = new Dictionary<string, string>(clientProperties) { ["fetch.wait.max.ms"] = knobs.FetchWaitMaxMs.ToString(CultureInfo.InvariantCulture) },
        }, pipeline.Lanes, options.LaneCapacityMessages, pipeline.Pool, NullLogger.Instance, pipeline.FlushOutputsAsync);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => consumer.Run(stop.Token)) { IsBackground = true, Name = "consumer" };
        if (!transportOnly)
        {
            pipeline.Start(ct);
            thread.Start();
        }

        // Transport only (no pipeline): the reader reads the ticks themselves, which is the client + broker floor.
        // Each bench client's librdkafka statistics once a second: the ticks producer's sets, queue and produce round trip,
        // the reader's fetch round trip (the mock's fetch handling included), to tell the mock's cost from ours per second.
        var ticksStats = new KafkaStatsLog("ticks");
        var readerStats = new KafkaStatsLog(null);
        var reader = Task.Run(() => ReadTopic(cluster.BootstrapServers, transportOnly ? "ticks" : "forecasts", knobs.FetchWaitMaxMs, clientProperties, log, readerStats, stop.Token), CancellationToken.None);

        // Wait for the assignments with warm-up events, then pace.
        var tickConfig = new ProducerConfig(new Dictionary<string, string>(clientProperties)) { BootstrapServers = cluster.BootstrapServers, LingerMs = knobs.TickLingerMs, Acks = Acks.Leader, StatisticsIntervalMs = KafkaStatsLog.IntervalMs };
        using var producer = new ProducerBuilder<byte[], byte[]>(tickConfig).SetStatisticsHandler((_, json) => ticksStats.Add(json)).Build();
        var wait = Stopwatch.StartNew();
        while ((!log.WarmSeen || (!transportOnly && !handoff.WarmSeen)) && wait.Elapsed < TimeSpan.FromSeconds(60))
        {
            Produce(producer, "WARM", EventLog.T0);
            await Task.Delay(20, ct).ConfigureAwait(false);
        }

        var start = Stopwatch.GetTimestamp();
        var retention = knobs.RetentionMs > 0
            ? Task.Factory.StartNew(() => Retain(cluster, knobs.Partitions, knobs.RetentionMs, stop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
            : Task.CompletedTask;
        log.Start = start;
        var gcBefore = (Gen0: GC.CollectionCount(0), Gen1: GC.CollectionCount(1), Gen2: GC.CollectionCount(2), Pause: GC.GetTotalPauseDuration());
        var pausesBefore = consumer.Pauses;
        var cpuBefore = ThreadCpu.Snapshot();
        long i = 0;
        // Once a second: how many cores the mock broker's thread and the whole process used (does a queue follow the broker?).
        var cpuTimeline = new List<string>();
        var cores = new List<(double Mock, double Process)>();
        var lastCpu = cpuBefore;
        var lastCpuAt = start;
        while (i < total)
        {
            if (Stopwatch.GetElapsedTime(lastCpuAt).TotalSeconds >= 1)
            {
                var snap = ThreadCpu.Snapshot();
                var span = Stopwatch.GetElapsedTime(lastCpuAt).TotalSeconds;
                cpuTimeline.Add(ThreadCpu.Cores(lastCpu, snap, span, "rdk:mock"));
                cores.Add(ThreadCpu.CoreValues(lastCpu, snap, span, "rdk:mock"));
                (lastCpu, lastCpuAt) = (snap, Stopwatch.GetTimestamp());
            }

            // Pacing in 1 ms slices: produce what is due, then sleep (spinning would take one of the two cores from the pipeline).
            var due = Math.Min(total, (long)(Stopwatch.GetElapsedTime(start).TotalSeconds * rate));
            for (; i < due; i++)
            {
                log.SentAt[i] = Stopwatch.GetTimestamp();
                Produce(producer, "K" + (i % keys).ToString(CultureInfo.InvariantCulture), EventLog.T0 + 1 + i);
            }

            await Task.Delay(1, ct).ConfigureAwait(false);
        }

        var produceSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var cpuAfter = ThreadCpu.Snapshot();
        var lastSpan = Stopwatch.GetElapsedTime(lastCpuAt).TotalSeconds;
        if (lastSpan > 0.2) cores.Add(ThreadCpu.CoreValues(lastCpu, cpuAfter, lastSpan, "rdk:mock")); // the last (partial) second
        var threads = ThreadCpu.Busiest(cpuBefore, cpuAfter, produceSeconds);
        var gc = $"gc during run: gen0 {GC.CollectionCount(0) - gcBefore.Gen0}, gen1 {GC.CollectionCount(1) - gcBefore.Gen1}, gen2 {GC.CollectionCount(2) - gcBefore.Gen2}, paused {(GC.GetTotalPauseDuration() - gcBefore.Pause).TotalMilliseconds:N0} ms; consumer lane pauses {consumer.Pauses - pausesBefore}";
        producer.Flush(TimeSpan.FromSeconds(30));
        wait.Restart();
        var measured = total - warm;
        while (wait.Elapsed < TimeSpan.FromSeconds(60) && ((!transportOnly && log.Handoffs < measured) || log.OnTopic < measured)) await Task.Delay(10, ct).ConfigureAwait(false);

        await stop.CancelAsync().ConfigureAwait(false);
        if (!transportOnly)
        {
            thread.Join();
            await pipeline.CompleteAsync(CancellationToken.None).ConfigureAwait(false);
        }

        await reader.ConfigureAwait(false);
        await retention.ConfigureAwait(false);
        var h = log.Sorted(log.HandoffUs);
        var t = log.Sorted(log.TopicUs);
        if (transportOnly) h = t;
        // The pipeline's own share: from the consumer's poll round to the hand-off (workers' histograms, warm-up included).
        var inProcess = "";
        if (!transportOnly)
        {
            var merged = new LatencyHistogram();
            foreach (var m in pipeline.Metrics) merged.Add(m.Latency);
            inProcess = string.Create(CultureInfo.InvariantCulture, $"; in process (poll → hand-off) p50 {merged.Quantile(0.5) / 1000:0.0} ms, p99 {merged.Quantile(0.99) / 1000:0.0} ms, max batch wait {options.MaxWait.TotalMilliseconds:0.#} ms");
        }

        var timeline = log.Timeline(transportOnly ? log.TopicUs : log.HandoffUs);
        var split = transportOnly ? new Split([("transport", h)]) : log.Split();
        var perSecond = log.PerSecond(transportOnly ? log.TopicUs : log.HandoffUs, transportOnly ? null : log.TransportUs, cores, ticksStats.PerSecond(start), readerStats.PerSecond(start));
        return new Result(total / produceSeconds, Q(h, 0.5), Q(h, 0.99), Q(h, 0.999), Q(t, 0.99), h.Length, gc + "; " + log.Stalls(transportOnly ? log.TopicUs : log.HandoffUs) + inProcess + "; " + threads, timeline + "; cores per second (mock broker thread/process): " + string.Join(", ", cpuTimeline), split, perSecond);
    }

    /// <summary>Every <paramref name="periodMs"/>, deletes what both topics held one period ago (so 1–2 periods stay).</summary>
    private static void Retain(EmbeddedKafka cluster, int partitions, int periodMs, CancellationToken stop)
    {
        using var c = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = "paced-retention" }).Build();
        var previous = new Dictionary<TopicPartition, long>();
        while (!stop.WaitHandle.WaitOne(periodMs))
        {
            foreach (var topic in new[] { "ticks", "forecasts" })
            {
                for (var p = 0; p < partitions; p++)
                {
                    var tp = new TopicPartition(topic, p);
                    var high = c.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(1)).High.Value;
                    if (previous.TryGetValue(tp, out var before) && before > 0) cluster.DeleteRecordsBefore(topic, p, before);
                    previous[tp] = high;
                }
            }
        }
    }

    private static void Produce(IProducer<byte[], byte[]> producer, string key, long ts)
    {
        var json = string.Create(CultureInfo.InvariantCulture, $"{{\"symbol\":\"{key}\",\"ts\":{ts},\"price\":{100 + (ts % 7)},\"size\":1}}");
        producer.Produce("ticks", new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(key), Value = Encoding.UTF8.GetBytes(json) });
    }

    private static void ReadTopic(string bootstrap, string topicName, int fetchWaitMaxMs, Dictionary<string, string> clientProperties, EventLog log, KafkaStatsLog stats, CancellationToken stop)
    {
        using var c = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig(new Dictionary<string, string>(clientProperties))
        {
            BootstrapServers = bootstrap, GroupId = "paced-reader-" + Guid.NewGuid().ToString("N"), AutoOffsetReset = AutoOffsetReset.Latest, FetchWaitMaxMs = fetchWaitMaxMs,
            StatisticsIntervalMs = KafkaStatsLog.IntervalMs,
        }).SetStatisticsHandler((_, json) => stats.Add(json)).Build();
        c.Subscribe(topicName);
        while (!stop.IsCancellationRequested)
        {
            var r = c.Consume(TimeSpan.FromMilliseconds(10));
            if (r is null) continue;
            var now = Stopwatch.GetTimestamp();
            var reader = new Utf8JsonReader(r.Message.Value);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("ts"u8) && reader.Read())
                {
                    log.Record(log.TopicUs, reader.GetInt64(), now, onTopic: true);
                    break;
                }
            }
        }

        c.Close();
    }
}
