using System.Collections.Concurrent;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Model.Delivery;

/// <summary>
/// The record of deliveries that were given up (a forecast, alert or dead letter that an output could not deliver after
/// its retries). Each one holds its input partition's commit position back: the consumer never stores an offset past
/// the earliest undelivered row of a partition, so a restart reads that row again (at-least-once, nothing skipped).
/// Shared by every output and the consumer; thread-safe.
/// </summary>
public sealed class DeliveryFailures
{
    private readonly ConcurrentDictionary<(SourceKind Kind, int Partition), long> _held = new();
    private long _count;
    private string _lastReason = "";

    /// <summary>Deliveries given up so far.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>The reason of the last one (empty when none).</summary>
    public string LastReason => Volatile.Read(ref _lastReason);

    /// <summary>Partitions whose commit position is held back, with the earliest undelivered input offset of each.</summary>
    public IReadOnlyDictionary<(SourceKind Kind, int Partition), long> Held => _held;

    /// <summary>Raised after a delivery was given up (the output, the input kind, partition, offset and reason).</summary>
    public event Action<string, SourceKind, int, long, string>? Recorded;

    /// <summary>Records that the row read from (<paramref name="kind"/>, <paramref name="partition"/>, <paramref name="offset"/>)
    /// was not delivered by <paramref name="output"/>.</summary>
    /// <param name="output">The output that gave up (for the log).</param>
    /// <param name="kind">Input source kind.</param>
    /// <param name="partition">Input partition.</param>
    /// <param name="offset">Input offset of the undelivered row.</param>
    /// <param name="reason">Why.</param>
    public void Record(string output, SourceKind kind, int partition, long offset, string reason)
    {
        _held.AddOrUpdate((kind, partition), offset, (_, existing) => Math.Min(existing, offset));
        Interlocked.Increment(ref _count);
        Volatile.Write(ref _lastReason, $"{output}: {reason}");
        Recorded?.Invoke(output, kind, partition, offset, reason);
    }

    /// <summary>The highest offset that may be committed for a partition: <paramref name="offset"/>, or the earliest
    /// undelivered offset of the partition when that is lower.</summary>
    /// <param name="kind">Input source kind.</param>
    /// <param name="partition">Input partition.</param>
    /// <param name="offset">The offset the partition would commit.</param>
    /// <returns>The offset it may commit.</returns>
    public long Cap(SourceKind kind, int partition, long offset) =>
        _held.TryGetValue((kind, partition), out var held) && held < offset ? held : offset;

    /// <summary>Forgets a partition's hold (it was revoked: its next owner reads from the committed, held-back offset).</summary>
    /// <param name="kind">Input source kind.</param>
    /// <param name="partition">Input partition.</param>
    public void Release(SourceKind kind, int partition) => _held.TryRemove((kind, partition), out _);
}
