using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Bench;

// The paced run's bookkeeping: per-event times, the latency split, per-second rows and the hand-off output that records them.
internal static partial class KafkaPacedBench
{
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
