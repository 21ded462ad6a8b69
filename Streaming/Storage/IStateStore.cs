using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Storage;

/// <summary>Receives one stored record during <see cref="IStateStore.Scan"/>.</summary>
/// <param name="key">The key's UTF-8 bytes.</param>
/// <param name="record">The key's <see cref="KeyStateRecord"/>.</param>
/// <returns>False to stop the scan.</returns>
public delegate bool StateVisitor(ReadOnlySpan<byte> key, ReadOnlySpan<byte> record);

/// <summary>
/// Durable per-key state, one logical store per (kind, input partition): key → <see cref="KeyStateRecord"/>, plus the
/// input offset that the partition's stored state corresponds to. A checkpoint is written as one atomic batch
/// (<see cref="Write"/>), so a reader never sees a partition's records from one checkpoint with the offset of another.
/// Implementations are thread-safe: workers read (lazy restore) while the consumer side writes.
/// </summary>
public interface IStateStore : IDisposable
{
    /// <summary>The input offset the partition's stored state corresponds to (the next offset to read); -1 when nothing is stored.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Input partition.</param>
    /// <returns>The offset, or -1.</returns>
    long ReadOffset(SourceKind kind, int partition);

    /// <summary>Reads a key's record into <paramref name="buffer"/> (grown when too small).</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Input partition.</param>
    /// <param name="key">Buffer holding the key's UTF-8 bytes.</param>
    /// <param name="keyLength">Bytes of <paramref name="key"/> in use.</param>
    /// <param name="buffer">Receives the record.</param>
    /// <returns>The record's length, or -1 when the key has no record.</returns>
    int Read(SourceKind kind, int partition, byte[] key, int keyLength, ref byte[] buffer);

    /// <summary>Visits every record of a partition (eager restore).</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Input partition.</param>
    /// <param name="visitor">Called once per key, until it returns false.</param>
    void Scan(SourceKind kind, int partition, StateVisitor visitor);

    /// <summary>Writes a checkpoint's records and offsets (one batch per worker) atomically: all of it is stored, or (on an exception) none.</summary>
    /// <param name="batches">The checkpoint's parts.</param>
    void Write(IReadOnlyList<CheckpointBatch> batches);
}
