using StreamLstm.Ingest.Decoding;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>
/// A worker's counters: plain fields written only by the worker thread and read (possibly slightly stale) by status.
/// </summary>
public sealed class WorkerMetrics
{
    /// <summary>Messages read from the channel (good, bad, late and duplicates).</summary>
    public long Events;

    /// <summary>Forecast rows handed to the outputs.</summary>
    public long Forecasts;

    /// <summary>Micro-batches stepped.</summary>
    public long Batches;

    /// <summary>Late events sent to the late topic.</summary>
    public long Late;

    /// <summary>Redelivered messages skipped (offset already processed).</summary>
    public long Duplicates;

    /// <summary>Dead letters by <see cref="DeadLetterReason"/>.</summary>
    public readonly long[] DeadLetters = new long[DeadLetterReasonNames.Count];

    /// <summary>Event→forecast latency.</summary>
    public LatencyHistogram Latency { get; } = new();

    /// <summary>Event→forecast latency per source kind (index: <c>(int)SourceKind</c>); its count is the kind's forecasts.</summary>
    public LatencyHistogram[] KindLatency { get; } = [new(), new(), new()];

    /// <summary>Time of one micro-batch's LSTM step (and de-normalisation), per batch.</summary>
    public LatencyHistogram StepLatency { get; } = new();

    /// <summary>Times the worker found its input empty and waited for more (idle, or a micro-batch waiting to fill).</summary>
    public long InputWaits;

    /// <summary>Nanoseconds the worker spent waiting for input: with <see cref="Events"/> and the run's length, whether the
    /// workers were starved (the consumer or the client slower than they are) or busy.</summary>
    public long InputWaitNs;

    /// <summary>Timestamp (<see cref="TimeProvider"/> ticks) at which the wait for input now in progress began; 0 when the
    /// worker is not waiting. <see cref="InputWaitNs"/> grows only when a wait ends, so a worker idle at the end of a
    /// measured window would otherwise show no wait at all.</summary>
    public long InputWaitSince;

    /// <summary>Keys currently held.</summary>
    public long Keys;

    /// <summary>Keys restored from the state store (on first event after a restart, a move, or hibernation; or eagerly).</summary>
    public long Restored;

    /// <summary>Stored records that could not be used (unknown format, other kind or model): the key started fresh, or cold.</summary>
    public long RestoreRejected;

    /// <summary>Idle keys hibernated (evicted from memory; their state is in the store).</summary>
    public long Evicted;

    /// <summary>Key records captured for checkpoints.</summary>
    public long CheckpointRecords;

    /// <summary>Bytes of key records captured for checkpoints.</summary>
    public long CheckpointBytes;

    /// <summary>Sum of dead letters over all reasons.</summary>
    public long DeadLetterTotal => DeadLetters.Sum();
}
