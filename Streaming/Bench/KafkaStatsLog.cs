using System.Diagnostics;
using System.Text.Json;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// One librdkafka statistics emission of a client (<c>statistics.interval.ms</c>), reduced to what tells the mock broker's
/// cost from the client's own: the message sets (batches) the producer sent in the interval and their size, the producer's
/// internal queue latency (linger included) and the request round trip to the broker (µs; a fetch's includes the broker's
/// handling, so it grows when the broker's fetch gets slower).
/// </summary>
/// <param name="Batches">Message sets produced to the topic in the interval (<c>topics.T.batchcnt.cnt</c>); 0 for a consumer.</param>
/// <param name="MessagesPerBatch">Mean messages per set in the interval (<c>batchcnt.avg</c>).</param>
/// <param name="QueueP99Us">Producer queue latency p99 (<c>brokers.B.int_latency.p99</c>), µs.</param>
/// <param name="RttAvgUs">Request round trip, mean over the interval (<c>brokers.B.rtt.avg</c>), µs.</param>
/// <param name="RttP99Us">Request round trip p99 (<c>brokers.B.rtt.p99</c>), µs.</param>
/// <param name="Requests">Produce plus Fetch requests sent so far (<c>brokers.B.req</c>), cumulative.</param>
/// <param name="OutbufP99Us">Time a request waited in the client's send queue before it was written to the socket p99
/// (<c>brokers.B.outbuf_latency.p99</c>), µs: large when the client's own thread, not the broker, is late.</param>
/// <param name="InFlight">Requests written and awaiting a response at the emission (<c>brokers.B.waitresp_cnt</c>).</param>
internal readonly record struct KafkaStatsSample(long Batches, double MessagesPerBatch, double QueueP99Us, double RttAvgUs, double RttP99Us, long Requests, double OutbufP99Us = 0, long InFlight = 0)
{
    /// <summary>
    /// Reads one statistics JSON. Only brokers the client learned from metadata count (<c>source: learned</c>): the
    /// bootstrap and internal/logical broker handles carry no produce or fetch traffic. With several such brokers the
    /// worst round trip and queue latency are kept and the requests summed.
    /// </summary>
    public static KafkaStatsSample Parse(string json, string? topic)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        double queueP99 = 0, rttAvg = 0, rttP99 = 0, outbufP99 = 0;
        long requests = 0, inFlight = 0;
        if (root.TryGetProperty("brokers", out var brokers))
        {
            foreach (var b in brokers.EnumerateObject())
            {
                if (!b.Value.TryGetProperty("source", out var source) || source.GetString() != "learned") continue;
                queueP99 = Math.Max(queueP99, Number(b.Value, "int_latency", "p99"));
                rttAvg = Math.Max(rttAvg, Number(b.Value, "rtt", "avg"));
                rttP99 = Math.Max(rttP99, Number(b.Value, "rtt", "p99"));
                outbufP99 = Math.Max(outbufP99, Number(b.Value, "outbuf_latency", "p99"));
                if (b.Value.TryGetProperty("waitresp_cnt", out var w) && w.ValueKind == JsonValueKind.Number) inFlight += w.GetInt64();
                if (b.Value.TryGetProperty("req", out var req))
                {
                    if (req.TryGetProperty("Produce", out var p)) requests += p.GetInt64();
                    if (req.TryGetProperty("Fetch", out var f)) requests += f.GetInt64();
                }
            }
        }

        long batches = 0;
        double perBatch = 0;
        if (topic is not null && root.TryGetProperty("topics", out var topics) && topics.TryGetProperty(topic, out var t))
        {
            batches = (long)Number(t, "batchcnt", "cnt");
            perBatch = Number(t, "batchcnt", "avg");
        }

        return new(batches, perBatch, queueP99, rttAvg, rttP99, requests, outbufP99, inFlight);
    }

    private static double Number(JsonElement e, string window, string field) =>
        e.TryGetProperty(window, out var w) && w.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;
}

/// <summary>The statistics emissions of one client during a run, each with the time it arrived (thread-safe).</summary>
/// <param name="topic">The topic whose produced sets to count, or null for a consumer.</param>
internal sealed class KafkaStatsLog(string? topic)
{
    /// <summary>The emission interval the bench sets on the clients it samples.</summary>
    public const int IntervalMs = 1000;

    private readonly List<(long At, KafkaStatsSample Sample)> _samples = [];
    private readonly Lock _gate = new();

    /// <summary>Statistics handler body: parses and stores one emission.</summary>
    public void Add(string json) => Add(json, Stopwatch.GetTimestamp());

    /// <summary>Stores one emission that arrived at <paramref name="at"/> (<see cref="Stopwatch"/> ticks).</summary>
    internal void Add(string json, long at)
    {
        var sample = KafkaStatsSample.Parse(json, topic);
        lock (_gate) _samples.Add((at, sample));
    }

    /// <summary>
    /// The emission covering each second after <paramref name="start"/> (an emission at time e covers e − 1 s … e, so it is
    /// filed under ⌊e − 0.5 s⌋), with the sets produced since the client started up to its end: the mock's log length in
    /// sets, warm-up included (emissions before <paramref name="start"/> count there but are not filed).
    /// </summary>
    public Dictionary<int, (KafkaStatsSample Sample, long SetsSoFar)> PerSecond(long start)
    {
        (long At, KafkaStatsSample Sample)[] samples;
        lock (_gate) samples = [.. _samples];
        var result = new Dictionary<int, (KafkaStatsSample, long)>();
        long sets = 0;
        foreach (var (at, s) in samples.OrderBy(s => s.At))
        {
            sets += s.Batches;
            var seconds = Stopwatch.GetElapsedTime(start, at).TotalSeconds - (IntervalMs / 2000.0);
            if (seconds < 0) continue;
            result[(int)seconds] = (s, sets);
        }

        return result;
    }
}
