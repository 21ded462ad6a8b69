using System.ComponentModel.DataAnnotations;
using StreamLstm.Ingest.Decoding;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>Pipeline settings (configuration section <c>Pipeline</c>).</summary>
public sealed class PipelineOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Pipeline";

    /// <summary>Partition-affine workers (lanes); 0 = one per core.</summary>
    [Range(0, 256)]
    public int Workers { get; set; }

    /// <summary>Most events per micro-batch (one LSTM step call).</summary>
    [Range(1, 65536)]
    public int MaxBatch { get; set; } = 1024;

    /// <summary>Longest an event waits for its micro-batch to fill when input is idle (0 = flush as soon as idle).</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Capacity of each worker's input channel, in chunks.</summary>
    [Range(2, 1_000_000)]
    public int ChannelCapacity { get; set; } = 16;

    /// <summary>Messages per chunk sent from the consumer to a worker.</summary>
    [Range(1, 65536)]
    public int ChunkSize { get; set; } = 1024;

    /// <summary>Messages larger than this go to the DLQ as <c>oversized</c>.</summary>
    [Range(64, 100_000_000)]
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Events with an earlier <c>ts</c> go to the DLQ as <c>timestamp_out_of_range</c> (default: the Unix epoch).</summary>
    public DateTimeOffset MinEventTime { get; set; } = DateTimeOffset.UnixEpoch;

    /// <summary>Events with a <c>ts</c> further than this ahead of the wall clock go to the DLQ as <c>timestamp_out_of_range</c>.</summary>
    public TimeSpan MaxEventTimeAhead { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The event-time window the decoders apply (<see cref="MinEventTime"/>, <see cref="MaxEventTimeAhead"/>).</summary>
    /// <returns>A new window; throws when the two settings break the rules <see cref="TimestampWindow.Problems"/> checks at start-up.</returns>
    public TimestampWindow EventTimeWindow() => new(MinEventTime, MaxEventTimeAhead);

    /// <summary>Decay weight α of the per-key mean/variance normalisation.</summary>
    [Range(1e-6, 1.0)]
    public double NormalisationAlpha { get; set; } = 0.01;

    /// <summary>Coefficients per audio frame.</summary>
    [Range(1, 128)]
    public int AudioCoefficients { get; set; } = 13;

    /// <summary>State slots reserved per worker and kind at start (the slab grows beyond).</summary>
    [Range(1, 100_000_000)]
    public int InitialSlots { get; set; } = 1024;

    /// <summary>Worker count after resolving 0 to the core count.</summary>
    public int ResolvedWorkers => Workers > 0 ? Workers : Environment.ProcessorCount;
}
