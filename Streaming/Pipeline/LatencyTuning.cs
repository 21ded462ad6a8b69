using System.Globalization;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Sink.Kafka;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>The latency/throughput trade-off chosen with <c>Pipeline:Latency</c>.</summary>
public enum LatencyProfile
{
    /// <summary>Lowest event→forecast latency: the broker answers a fetch at once, producers send at once, micro-batches do not wait.</summary>
    Low,

    /// <summary>A few milliseconds of batching on every hop: most of the throughput at a p99 of a few milliseconds.</summary>
    Balanced,

    /// <summary>Largest batches: fetches and produce requests wait to fill; latency in the tens of milliseconds.</summary>
    Throughput,
}

/// <summary>
/// The settings a <see cref="LatencyProfile"/> stands for, applied at start-up to the consumer (fetch wait, poll timeout,
/// Nagle), the forecasts producer (linger, Nagle) and the workers (micro-batch wait). Explicit librdkafka properties (<c>Kafka:Client</c>)
/// still win over the profile's.
/// </summary>
/// <param name="FetchWaitMaxMs">Consumer <c>fetch.wait.max.ms</c>: how long the broker holds a fetch that has no data.</param>
/// <param name="PollTimeout">How long one consumer poll round waits when nothing is ready.</param>
/// <param name="ProducerLinger">Producer <c>linger.ms</c> of the forecasts topic.</param>
/// <param name="MaxWait">How long an event waits for its micro-batch to fill (<see cref="PipelineOptions.MaxWait"/>).</param>
/// <param name="ChannelCapacity">
/// Chunks a worker lane holds (<see cref="PipelineOptions.ChannelCapacity"/>, at least this). Lanes pause at their capacity
/// in messages (channel capacity × chunk size) and coalesce small held chunks, so short polls no longer pause them; the
/// minimum only sets how far behind a worker may fall before backpressure.
/// </param>
/// <param name="DisableNagle">
/// Sets <c>socket.nagle.disable=true</c> on the consumer and the forecasts producer: small requests and responses go out at
/// once instead of waiting for the previous segment's ACK (which delayed ACK can hold back for tens of milliseconds).
/// </param>
public sealed record LatencyTuning(int FetchWaitMaxMs, TimeSpan PollTimeout, TimeSpan ProducerLinger, TimeSpan MaxWait, int ChannelCapacity, bool DisableNagle = false)
{
    /// <summary>The librdkafka property that turns Nagle's algorithm off (<c>TCP_NODELAY</c>) on a client's broker sockets.</summary>
    public const string NagleDisableProperty = "socket.nagle.disable";

    /// <summary>The settings of <paramref name="profile"/> (measured with <c>bench pipeline</c>; see docs/benchmarks.md).</summary>
    /// <param name="profile">Profile.</param>
    /// <returns>Its settings.</returns>
    public static LatencyTuning For(LatencyProfile profile) => profile switch
    {
        // Linger and micro-batch wait stay ≥ 1 ms even at Low: at 0 every row is its own produce request and every chunk its
        // own batch, and on a busy 2-core host that CPU cost queued events for seconds (docs/benchmarks.md; MaxWait 0 measured
        // again with the latency split: in-process p99 87-102 ms against 7-40 ms at 8 partitions). Nagle off: small requests
        // are not held for an ACK (with Nagle on both ends, 0.2-0.6 s stalls in the same runs).
        LatencyProfile.Low => new(1, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1), 64, DisableNagle: true),
        LatencyProfile.Balanced => new(5, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(2), 64),
        LatencyProfile.Throughput => new(100, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(5), 256),
        _ => throw new ArgumentOutOfRangeException(nameof(profile), profile, "Unknown latency profile."),
    };

    /// <summary>Sets the workers' micro-batch wait and raises their lane capacity to the profile's.</summary>
    /// <param name="options">Pipeline options (changed in place).</param>
    public void ApplyTo(PipelineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.MaxWait = MaxWait;
        options.ChannelCapacity = Math.Max(options.ChannelCapacity, ChannelCapacity);
    }

    /// <summary>
    /// Sets the consumer's fetch wait and, with <see cref="DisableNagle"/>, <c>socket.nagle.disable</c> (each unless set
    /// explicitly), and its poll timeout.
    /// </summary>
    /// <param name="options">Consumer options (changed in place).</param>
    public void ApplyTo(KafkaConsumerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PollTimeout = PollTimeout;
        // A copy: the extra properties may be the shared Kafka:Client dictionary.
        options.Extra = new Dictionary<string, string>(options.Extra);
        options.Extra.TryAdd("fetch.wait.max.ms", FetchWaitMaxMs.ToString(CultureInfo.InvariantCulture));
        if (DisableNagle) options.Extra.TryAdd(NagleDisableProperty, "true");
    }

    /// <summary>
    /// Sets the forecasts producer's linger (unless <c>linger.ms</c> is set explicitly in its extra properties) and, with
    /// <see cref="DisableNagle"/>, <c>socket.nagle.disable</c> (unless set explicitly).
    /// </summary>
    /// <param name="options">Forecasts output options (changed in place).</param>
    public void ApplyTo(KafkaForecastOutputOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Linger = ProducerLinger;
        if (!DisableNagle) return;
        // A copy: the extra properties may be the shared Kafka:Client dictionary.
        options.Extra = new Dictionary<string, string>(options.Extra);
        options.Extra.TryAdd(NagleDisableProperty, "true");
    }
}
