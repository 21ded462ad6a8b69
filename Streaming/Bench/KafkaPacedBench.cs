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

    private static double Q(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : Math.Round(sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))]);

    /// <summary>Percentiles of each part of the latency, sorted samples per part (µs).</summary>
    private sealed class Split(IReadOnlyList<(string Name, double[] Sorted)> parts)
    {
        public string Text => string.Join(", ", parts.Select(p => string.Create(CultureInfo.InvariantCulture, $"{Label(p.Name)} {Q(p.Sorted, 0.5):N0}/{Q(p.Sorted, 0.99):N0}/{Q(p.Sorted, 0.999):N0}")));

        public IEnumerable<(string Name, double Value)> Fields => parts.SelectMany(p => new[]
        {
            ($"{p.Name}_p50_us", Q(p.Sorted, 0.5)), ($"{p.Name}_p99_us", Q(p.Sorted, 0.99)), ($"{p.Name}_p999_us", Q(p.Sorted, 0.999)),
        });

        private static string Label(string name) => name switch
        {
            "transport" => "transport (produce → poll)",
            "in_process" => "in process (poll → hand-off)",
            _ => "hand-off → topic",
        };
    }

    /// <summary>Per event: when it was produced, and its latencies to the hand-off and to the topic (NaN until seen).</summary>
    private sealed class EventLog
    {
        public const long T0 = 1_700_000_000_000L;
        private readonly long _warm;
        private long _handoffs;
        private long _onTopic;
        private volatile bool _warmSeen;

        public EventLog(long total, long warm)
        {
            _warm = warm;
            SentAt = new long[total];
            HandoffUs = new double[total];
            TopicUs = new double[total];
            TransportUs = new double[total];
            Array.Fill(HandoffUs, double.NaN);
            Array.Fill(TopicUs, double.NaN);
            Array.Fill(TransportUs, double.NaN);
        }

        public long[] SentAt { get; }

        /// <summary>Produce → the consumer's poll round (the row's <see cref="ForecastBatch.ReceivedTicks"/>), µs.</summary>
        public double[] TransportUs { get; }

        public double[] HandoffUs { get; }

        public double[] TopicUs { get; }

        public long Start { get; set; }

        public bool WarmSeen => _warmSeen;

        public long Handoffs => Interlocked.Read(ref _handoffs);

        public long OnTopic => Interlocked.Read(ref _onTopic);

        /// <summary>Records one row of event time <paramref name="ts"/> seen at <paramref name="now"/> (warm-up rows only mark the warm-up seen).</summary>
        public void Record(double[] into, long ts, long now, bool onTopic)
        {
            var i = ts - T0 - 1;
            if (i < 0)
            {
                if (onTopic) _warmSeen = true;
                return;
            }

            if (i < _warm || i >= SentAt.Length) return;
            into[i] = Stopwatch.GetElapsedTime(SentAt[i], now).TotalMicroseconds;
            Interlocked.Increment(ref onTopic ? ref _onTopic : ref _handoffs);
        }

        /// <summary>Records when the row of event time <paramref name="ts"/> was polled by the pipeline's consumer.</summary>
        public void RecordPolled(long ts, long polledTicks)
        {
            var i = ts - T0 - 1;
            if (i < _warm || i >= SentAt.Length || polledTicks == 0) return;
            TransportUs[i] = Stopwatch.GetElapsedTime(SentAt[i], polledTicks).TotalMicroseconds;
        }

        /// <summary>Per event seen at all three points: transport, in process, and hand-off → topic, each sorted.</summary>
        public Split Split()
        {
            var (transport, inProcess, toTopic) = (new List<double>(), new List<double>(), new List<double>());
            for (var i = (int)_warm; i < SentAt.Length; i++)
            {
                if (!double.IsFinite(TransportUs[i]) || !double.IsFinite(HandoffUs[i]) || !double.IsFinite(TopicUs[i])) continue;
                transport.Add(TransportUs[i]);
                inProcess.Add(HandoffUs[i] - TransportUs[i]);
                toTopic.Add(TopicUs[i] - HandoffUs[i]);
            }

            return new([("transport", [.. transport.Order()]), ("in_process", [.. inProcess.Order()]), ("handoff_to_topic", [.. toTopic.Order()])]);
        }

        public double[] Sorted(double[] latencies) => [.. latencies.Skip((int)_warm).Where(double.IsFinite).Order()];

        /// <summary>Per second of produce time (measured part): p50 and max latency in ms, to tell a stall from a queue that grows.</summary>
        public string Timeline(double[] latencies)
        {
            var seconds = Enumerable.Range((int)_warm, latencies.Length - (int)_warm).Where(i => double.IsFinite(latencies[i]))
                .GroupBy(i => (int)Stopwatch.GetElapsedTime(Start, SentAt[i]).TotalSeconds)
                .OrderBy(g => g.Key)
                .Select(g =>
                {
                    var v = g.Select(i => latencies[i]).Order().ToArray();
                    return string.Create(CultureInfo.InvariantCulture, $"{g.Key}s {v[v.Length / 2] / 1000:0.0}/{Q(v, 0.99) / 1000:0.0}/{v[^1] / 1000:0.0}");
                });
            return "(s after start: p50/p99/max ms) " + string.Join(", ", seconds);
        }

        /// <summary>
        /// Per second of produce time (measured part): the latency of the events sent in it, their transport share, and what
        /// the mock broker and the bench's clients did in that second (<see cref="PerSecond"/>).
        /// </summary>
        public PerSecond PerSecond(double[] latencies, double[]? transport, List<(double Mock, double Process)> cores,
            Dictionary<int, (KafkaStatsSample Sample, long SetsSoFar)> ticks, Dictionary<int, (KafkaStatsSample Sample, long SetsSoFar)> reader)
        {
            var rows = Enumerable.Range((int)_warm, latencies.Length - (int)_warm).Where(i => double.IsFinite(latencies[i]))
                .GroupBy(i => (int)Stopwatch.GetElapsedTime(Start, SentAt[i]).TotalSeconds)
                .OrderBy(g => g.Key)
                .Select(g =>
                {
                    var v = g.Select(i => latencies[i]).Order().ToArray();
                    var tr = transport is null ? v : [.. g.Select(i => transport[i]).Where(double.IsFinite).Order()];
                    var (mock, process) = g.Key < cores.Count ? cores[g.Key] : (double.NaN, double.NaN);
                    var (tk, sets) = ticks.TryGetValue(g.Key, out var x) ? x : (default(KafkaStatsSample), -1L);
                    var rd = reader.TryGetValue(g.Key, out var y) ? y.Sample : default;
                    return new PerSecondRow(g.Key, v.Length, Q(v, 0.5), Q(v, 0.99), v[^1], Q(tr, 0.99), mock, process, sets, tk.MessagesPerBatch, tk.QueueP99Us, tk.OutbufP99Us, tk.RttP99Us, tk.InFlight, tk.Requests, rd.RttAvgUs, rd.RttP99Us);
                });
            return new([.. rows]);
        }

        /// <summary>Where the tail comes from: events over 5 ms, and the worst 100 ms windows of produce time.</summary>
        public string Stalls(double[] latencies)
        {
            var events = Enumerable.Range((int)_warm, latencies.Length - (int)_warm).Where(i => double.IsFinite(latencies[i]))
                .Select(i => (SentS: Stopwatch.GetElapsedTime(Start, SentAt[i]).TotalSeconds, Micros: latencies[i])).ToList();
            var over = events.Count(e => e.Micros > 5_000);
            var worst = events.GroupBy(e => (int)(e.SentS * 10)).Select(g => (At: g.Key / 10.0, Max: g.Max(e => e.Micros), Over: g.Count(e => e.Micros > 5_000)))
                .OrderByDescending(w => w.Max).Take(4).OrderBy(w => w.At);
            return $"{over} events over 5 ms; worst 100 ms windows (s after start: max ms/events over 5 ms): "
                + string.Join(", ", worst.Select(w => string.Create(CultureInfo.InvariantCulture, $"+{w.At:0.0}: {w.Max / 1000:0.0}/{w.Over}")));
        }
    }

    /// <summary>Records, per forecast row, the time since its event was produced.</summary>
    private sealed class LatencyOutput(EventLog log) : IForecastOutput
    {
        private volatile bool _warmSeen;

        public bool WarmSeen => _warmSeen;

        public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
        {
            var now = Stopwatch.GetTimestamp();
            for (var r = 0; r < batch.Count; r++)
            {
                if (batch.TimestampsMs[r] == EventLog.T0)
                {
                    _warmSeen = true;
                    continue;
                }

                log.RecordPolled(batch.TimestampsMs[r], batch.ReceivedTicks[r]);
                log.Record(log.HandoffUs, batch.TimestampsMs[r], now, onTopic: false);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    /// <summary>One second of a paced run (see <see cref="EventLog.PerSecond"/>); latencies and round trips in µs, −1 where not sampled.</summary>
    private sealed record PerSecondRow(int Second, int Events, double P50Us, double P99Us, double MaxUs, double TransportP99Us, double MockCores, double ProcessCores,
        long TicksSetsSoFar, double TicksMessagesPerSet, double TicksQueueP99Us, double TicksSendQueueP99Us, double TicksProduceRttP99Us, long TicksInFlight, long TicksRequestsSoFar, double ReaderFetchRttAvgUs, double ReaderFetchRttP99Us);

    /// <summary>The per-second rows of a paced run, as text lines and as the row's <c>per_second</c> JSON array.</summary>
    private sealed class PerSecond(PerSecondRow[] rows)
    {
        /// <summary>
        /// The second with the highest p99 and what went with it: its transport share, the ticks producer's round trip and
        /// requests in flight (requests written but not yet answered: waiting at the broker), the broker thread's cores, and
        /// the log length in sets; with the first second's, for the trend.
        /// </summary>
        public string Worst
        {
            get
            {
                var full = rows.Where(r => r.Events > 1000).ToArray();
                if (full.Length == 0) return "n/a";
                var w = full.MaxBy(r => r.P99Us)!;
                var f = full[0];
                return string.Create(CultureInfo.InvariantCulture,
                    $"+{w.Second}s p99 {w.P99Us / 1000:0.0} ms (transport p99 {w.TransportP99Us / 1000:0.0} ms), ticks produce rtt p99 {w.TicksProduceRttP99Us / 1000:0.0} ms with {w.TicksInFlight} requests in flight, mock thread {w.MockCores:0.00} cores, ticks log {w.TicksSetsSoFar:N0} sets; first second +{f.Second}s: p99 {f.P99Us / 1000:0.0} ms, produce rtt p99 {f.TicksProduceRttP99Us / 1000:0.0} ms, mock {f.MockCores:0.00} cores, log {f.TicksSetsSoFar:N0} sets");
            }
        }

        public IEnumerable<string> Text => rows.Select(r => string.Create(CultureInfo.InvariantCulture,
            $"{r.Second,2}s: {r.Events,6:N0}, {r.P50Us / 1000,7:0.0}/{r.P99Us / 1000,7:0.0}/{r.MaxUs / 1000,7:0.0}, {r.TransportP99Us / 1000,7:0.0}, {r.MockCores:0.00}/{r.ProcessCores:0.00}, {r.TicksSetsSoFar,7:N0}, {r.TicksMessagesPerSet,4:0.0}, {r.TicksQueueP99Us / 1000:0.0}, {r.TicksSendQueueP99Us / 1000:0.0}, {r.TicksProduceRttP99Us / 1000:0.0}, {r.TicksInFlight}, {r.TicksRequestsSoFar:N0}, {r.ReaderFetchRttAvgUs / 1000:0.0}/{r.ReaderFetchRttP99Us / 1000:0.0}"));

        public JsonArray Json()
        {
            var a = new JsonArray();
            foreach (var r in rows)
            {
                a.Add(new JsonObject
                {
                    ["s"] = r.Second, ["events"] = r.Events, ["p50_us"] = Math.Round(r.P50Us), ["p99_us"] = Math.Round(r.P99Us), ["max_us"] = Math.Round(r.MaxUs),
                    ["transport_p99_us"] = Math.Round(r.TransportP99Us), ["mock_cores"] = Finite(r.MockCores), ["process_cores"] = Finite(r.ProcessCores),
                    ["ticks_sets_so_far"] = r.TicksSetsSoFar, ["ticks_msgs_per_set"] = Math.Round(r.TicksMessagesPerSet, 2),
                    ["ticks_queue_p99_us"] = r.TicksQueueP99Us, ["ticks_send_queue_p99_us"] = r.TicksSendQueueP99Us, ["ticks_produce_rtt_p99_us"] = r.TicksProduceRttP99Us, ["ticks_in_flight"] = r.TicksInFlight, ["ticks_produce_requests_so_far"] = r.TicksRequestsSoFar,
                    ["reader_fetch_rtt_avg_us"] = r.ReaderFetchRttAvgUs, ["reader_fetch_rtt_p99_us"] = r.ReaderFetchRttP99Us,
                });
            }

            return a;
        }

        private static double Finite(double v) => double.IsFinite(v) ? Math.Round(v, 2) : -1;
    }
}
