using System.Text;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Storage;

/// <summary>
/// One checkpoint's changes, gathered before they are written as one atomic batch: per (kind, partition) the records of
/// the keys that changed and the input offset they correspond to. Keys and records live in one growing byte arena, so
/// a batch reused across checkpoints allocates nothing once it has reached its working size. Not thread-safe.
/// </summary>
public sealed class CheckpointBatch
{
    private byte[] _arena = new byte[4096];
    private int _used;
    private readonly List<Entry> _entries = [];
    private readonly List<(SourceKind Kind, int Partition, long Offset)> _offsets = [];

    /// <summary>A record in the arena.</summary>
    /// <param name="Kind">Source kind.</param>
    /// <param name="Partition">Input partition.</param>
    /// <param name="KeyStart">Key's first byte in the arena.</param>
    /// <param name="KeyLength">Key bytes.</param>
    /// <param name="ValueStart">Record's first byte.</param>
    /// <param name="ValueLength">Record bytes.</param>
    public readonly record struct Entry(SourceKind Kind, int Partition, int KeyStart, int KeyLength, int ValueStart, int ValueLength);

    /// <summary>Records in the batch.</summary>
    public int Count => _entries.Count;

    /// <summary>Bytes of keys and records in the batch.</summary>
    public long Bytes => _used;

    /// <summary>The records.</summary>
    public IReadOnlyList<Entry> Entries => _entries;

    /// <summary>The partitions' offsets.</summary>
    public IReadOnlyList<(SourceKind Kind, int Partition, long Offset)> Offsets => _offsets;

    /// <summary>The arena (keys and records at the positions <see cref="Entries"/> give).</summary>
    public ReadOnlySpan<byte> Arena => _arena.AsSpan(0, _used);

    /// <summary>The arena as an array (for stores whose API takes arrays).</summary>
    internal byte[] ArenaArray => _arena;

    /// <summary>Key bytes of an entry.</summary>
    /// <param name="e">Entry.</param>
    /// <returns>The key's UTF-8 bytes.</returns>
    public ReadOnlySpan<byte> Key(in Entry e) => _arena.AsSpan(e.KeyStart, e.KeyLength);

    /// <summary>Record bytes of an entry.</summary>
    /// <param name="e">Entry.</param>
    /// <returns>The record.</returns>
    public ReadOnlySpan<byte> Value(in Entry e) => _arena.AsSpan(e.ValueStart, e.ValueLength);

    /// <summary>Adds a key's deletion (a record of zero bytes: stores delete the key, a changelog writes a tombstone).</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Input partition.</param>
    /// <param name="key">The key.</param>
    public void Delete(SourceKind kind, int partition, string key) => Add(kind, partition, key, 0);

    /// <summary>Adds a key's record; returns the span to write the record's <paramref name="valueLength"/> bytes into.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Input partition.</param>
    /// <param name="key">The key.</param>
    /// <param name="valueLength">Record bytes.</param>
    /// <returns>Where to write the record (valid until the next call).</returns>
    public Span<byte> Add(SourceKind kind, int partition, string key, int valueLength)
    {
        ArgumentNullException.ThrowIfNull(key);
        var keyLength = Encoding.UTF8.GetByteCount(key);
        Reserve(keyLength + valueLength);
        var keyStart = _used;
        Encoding.UTF8.GetBytes(key, _arena.AsSpan(keyStart, keyLength));
        var valueStart = keyStart + keyLength;
        _used = valueStart + valueLength;
        _entries.Add(new Entry(kind, partition, keyStart, keyLength, valueStart, valueLength));
        return _arena.AsSpan(valueStart, valueLength);
    }

    /// <summary>Sets the input offset a partition's stored state corresponds to.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Input partition.</param>
    /// <param name="offset">Next offset to read.</param>
    public void SetOffset(SourceKind kind, int partition, long offset) => _offsets.Add((kind, partition, offset));

    /// <summary>Appends another batch's records and offsets.</summary>
    /// <param name="other">The batch to copy.</param>
    public void AddAll(CheckpointBatch other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Reserve(other._used);
        var delta = _used;
        other._arena.AsSpan(0, other._used).CopyTo(_arena.AsSpan(_used));
        _used += other._used;
        foreach (var e in other._entries) _entries.Add(e with { KeyStart = e.KeyStart + delta, ValueStart = e.ValueStart + delta });
        _offsets.AddRange(other._offsets);
    }

    /// <summary>Empties the batch (keeps its buffers).</summary>
    public void Clear()
    {
        _used = 0;
        _entries.Clear();
        _offsets.Clear();
    }

    private void Reserve(int bytes)
    {
        if (_used + bytes <= _arena.Length) return;
        var size = (int)Math.Min(Array.MaxLength, Math.Max((long)_arena.Length * 2, (long)_used + bytes));
        Array.Resize(ref _arena, size);
    }
}
