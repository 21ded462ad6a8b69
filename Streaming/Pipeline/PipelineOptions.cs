using System.ComponentModel.DataAnnotations;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Sink.Anomaly;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>Pipeline settings (configuration section <c>Pipeline</c>).</summary>
public sealed class PipelineOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Pipeline";

    /// <summary>Anomaly scoring and alert thresholds the workers score each row with; the host sets it from <c>Sink:Anomaly</c> when the pipeline starts.</summary>
    public AnomalyOptions Anomaly { get; set; } = new();

    /// <summary>Partition-affine workers (lanes); 0 = one per core.</summary>
    [Range(0, 256, ErrorMessage = "Pipeline:Workers must be {1} (one per core) to {2}.")]
    public int Workers { get; set; }

    /// <summary>Most events per micro-batch (one LSTM step call).</summary>
    [Range(1, 65536, ErrorMessage = "Pipeline:MaxBatch must be {1}..{2} events.")]
    public int MaxBatch { get; set; } = 1024;

    /// <summary>
    /// How the workers' steppers store the LSTM gate weights: <c>float32</c> (default, the reference results) or
    /// <c>bfloat16</c> (16-bit weights, float32 arithmetic: the one-key path streams half the bytes; results change by
    /// up to ~1e-3 relative, see docs/model.md). Applies to every kind and to models swapped in while serving.
    /// </summary>
    public StreamLstm.Model.Inference.WeightPrecision WeightPrecision { get; set; } = StreamLstm.Model.Inference.WeightPrecision.Float32;

    /// <summary>Longest an event waits for its micro-batch to fill when input is idle (0 = flush as soon as idle).</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Capacity of each worker's input channel, in chunks. Default 128 (× 1024 messages): a lane at its capacity pauses its
    /// partitions and resumes at half, and a resumed partition's first messages arrive only after the client refetches them
    /// (hundreds of ms on the mock cluster); half a lane must outlast that or the worker starves. At 16 a backlog ran at a
    /// third of the rate with the workers idle most of the time (docs/benchmarks.md, "Kafka path: where the wall time went").
    /// </summary>
    [Range(2, 1_000_000, ErrorMessage = "Pipeline:ChannelCapacity must be {1}..{2} chunks.")]
    public int ChannelCapacity { get; set; } = DefaultChannelCapacity;

    /// <summary>The default of <see cref="ChannelCapacity"/>.</summary>
    public const int DefaultChannelCapacity = 128;

    /// <summary>
    /// Messages a worker lane may hold (its channel, the chunk being processed, chunks the consumer holds back) before the
    /// consumer pauses the lane's partitions: <see cref="ChannelCapacity"/> × <see cref="ChunkSize"/>, the memory full chunks
    /// would take. Counted in messages so short poll rounds (small chunks) never pause a lane that is only a few ms behind.
    /// </summary>
    public int LaneCapacityMessages => (int)Math.Min(int.MaxValue, (long)ChannelCapacity * ChunkSize);

    /// <summary>Messages per chunk sent from the consumer to a worker.</summary>
    [Range(1, 65536, ErrorMessage = "Pipeline:ChunkSize must be {1}..{2} messages.")]
    public int ChunkSize { get; set; } = 1024;

    /// <summary>Messages larger than this go to the DLQ as <c>oversized</c>.</summary>
    [Range(64, 100_000_000, ErrorMessage = "Pipeline:MaxMessageBytes must be {1}..{2} bytes.")]
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Events with an earlier <c>ts</c> go to the DLQ as <c>timestamp_out_of_range</c> (default: the Unix epoch).</summary>
    public DateTimeOffset MinEventTime { get; set; } = DateTimeOffset.UnixEpoch;

    /// <summary>Events with a <c>ts</c> further than this ahead of the wall clock go to the DLQ as <c>timestamp_out_of_range</c>.</summary>
    public TimeSpan MaxEventTimeAhead { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The event-time window the decoders apply (<see cref="MinEventTime"/>, <see cref="MaxEventTimeAhead"/>).</summary>
    /// <returns>A new window; throws when the two settings break the rules <see cref="TimestampWindow.Problems"/> checks at start-up.</returns>
    public TimestampWindow EventTimeWindow() => new(MinEventTime, MaxEventTimeAhead);

    /// <summary>Decay weight α of the per-key mean/variance normalisation.</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true, ErrorMessage = "Pipeline:NormalisationAlpha must be in ({1}, {2}].")]
    public double NormalisationAlpha { get; set; } = 0.01;

    /// <summary>Coefficients per audio frame.</summary>
    [Range(1, 128, ErrorMessage = "Pipeline:AudioCoefficients must be {1}..{2}.")]
    public int AudioCoefficients { get; set; } = 13;

    /// <summary>State slots reserved per worker and kind at start (the slab grows beyond).</summary>
    [Range(1, 100_000_000, ErrorMessage = "Pipeline:InitialSlots must be {1}..{2} slots per worker and kind.")]
    public int InitialSlots { get; set; } = 1024;

    /// <summary>
    /// Most keys held in memory per worker and kind (0 = no cap). Needs durable state (<c>State:Directory</c>): beyond the
    /// cap the least recently seen keys whose state is already stored are hibernated — dropped from memory and restored
    /// from the store on their next event, with identical results. Keys changed since the last written checkpoint are
    /// never evicted, so the cap is exceeded by at most the keys seen within one commit interval.
    /// </summary>
    [Range(0, 100_000_000, ErrorMessage = "Pipeline:MaxResidentKeys must be {1} (no cap) to {2} keys per worker and kind.")]
    public int MaxResidentKeys { get; set; }

    /// <summary>
    /// Bound of a graceful stop (and of each partition revoke): draining the lanes, flushing the outputs and committing.
    /// What is not handed over by then stays uncommitted and is read again after the restart.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Pipeline:ShutdownTimeout must be {1}..{2}.")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The latency/throughput trade-off (<c>low</c>, <c>balanced</c>, <c>throughput</c>; see <see cref="LatencyTuning"/>), applied at
    /// start-up to the consumer's fetch wait and poll timeout, the forecasts producer's linger and <see cref="MaxWait"/>. Unset: those
    /// settings keep their own values.
    /// </summary>
    public LatencyProfile? Latency { get; set; }

    /// <summary>Worker count after resolving 0 to the core count.</summary>
    public int ResolvedWorkers => Workers > 0 ? Workers : Environment.ProcessorCount;
}
