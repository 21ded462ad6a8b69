using System.Text;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Storage.Memory;

/// <summary>
/// An in-process <see cref="IStateStore"/> (tests, benches): the same contract as the RocksDB store — an atomic batch per
/// checkpoint, an offset per partition — without durability across processes. Thread-safe (one lock).
/// </summary>
public sealed class MemoryStateStore : IStateStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(SourceKind, int), Dictionary<string, byte[]>> _records = [];
    private readonly Dictionary<(SourceKind, int), long> _offsets = [];

    /// <summary>Checkpoints written.</summary>
    public long Writes { get; private set; }

    /// <summary>Keys stored in a partition.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Partition.</param>
    /// <returns>The count.</returns>
    public int KeyCount(SourceKind kind, int partition)
    {
        lock (_lock) return _records.TryGetValue((kind, partition), out var d) ? d.Count : 0;
    }

    /// <inheritdoc />
    public long ReadOffset(SourceKind kind, int partition)
    {
        lock (_lock) return _offsets.TryGetValue((kind, partition), out var o) ? o : -1;
    }

    /// <inheritdoc />
    public int Read(SourceKind kind, int partition, byte[] key, int keyLength, ref byte[] buffer)
    {
        var k = Encoding.UTF8.GetString(key, 0, keyLength);
        lock (_lock)
        {
            if (!_records.TryGetValue((kind, partition), out var d) || !d.TryGetValue(k, out var v)) return -1;
            if (buffer.Length < v.Length) buffer = new byte[v.Length];
            v.CopyTo(buffer, 0);
            return v.Length;
        }
    }

    /// <inheritdoc />
    public void Scan(SourceKind kind, int partition, StateVisitor visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        List<KeyValuePair<string, byte[]>> copy;
        lock (_lock) copy = _records.TryGetValue((kind, partition), out var d) ? [.. d] : [];
        foreach (var (k, v) in copy.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!visitor(Encoding.UTF8.GetBytes(k), v)) return;
        }
    }

    /// <inheritdoc />
    public void Write(IReadOnlyList<CheckpointBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        lock (_lock)
        {
            foreach (var batch in batches)
            {
                Apply(batch);
            }

            Writes++;
        }
    }

    private void Apply(CheckpointBatch batch)
    {
        {
            foreach (var e in batch.Entries)
            {
                if (!_records.TryGetValue((e.Kind, e.Partition), out var d)) _records[(e.Kind, e.Partition)] = d = new Dictionary<string, byte[]>(StringComparer.Ordinal);
                if (e.ValueLength == 0) d.Remove(Encoding.UTF8.GetString(batch.Key(e)));
                else d[Encoding.UTF8.GetString(batch.Key(e))] = batch.Value(e).ToArray();
            }

            foreach (var (kind, partition, offset) in batch.Offsets) _offsets[(kind, partition)] = offset;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
