using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StreamLstm.Ingest.Consumer;

/// <summary>What a <see cref="MessageChunk"/> carries to a worker.</summary>
public enum ChunkKind
{
    /// <summary>Up to <see cref="MessageChunk.Capacity"/> messages.</summary>
    Messages,

    /// <summary>Partitions were assigned: the worker registers them.</summary>
    Assigned,

    /// <summary>Partitions are being revoked: flush, publish final offsets, release their keys, then signal.</summary>
    Revoked,

    /// <summary>Partitions were lost: release their keys without committing.</summary>
    Lost,

    /// <summary>Flush every micro-batch so all offsets read so far become committable, then signal.</summary>
    Drain,

    /// <summary>Flush every micro-batch, capture the changed state of the lane's partitions into <see cref="MessageChunk.Capture"/>, then signal.</summary>
    Checkpoint,
}

/// <summary>
/// A pooled block of consumed messages (struct-of-arrays) or a control item, sent through a worker's bounded channel.
/// Sending blocks of messages keeps channel overhead off the per-event path.
/// </summary>
public sealed class MessageChunk
{
    // Buffers kept by a pooled chunk up to this size: a chunk that once carried huge messages gives its buffer back.
    private const int MaxRetainedBytes = 1 << 20;

    private readonly MessageChunkPool? _pool;

    // Native consume path: each message's key and value bytes copied one after the other into _bytes (pooled with the
    // chunk), instead of two arrays per message. _packedAt is −1 for a message that came as arrays (Keys/Values).
    private readonly int[] _packedAt;
    private readonly int[] _keyLength;
    private readonly int[] _valueLength;
    private byte[] _bytes = [];
    private int _bytesUsed;

    // The lane load this chunk's messages are counted in (and how many), until Release settles them.
    private LaneLoad? _load;
    private int _charged;

    /// <summary>Creates a chunk of <paramref name="capacity"/> messages.</summary>
    /// <param name="capacity">Messages per chunk.</param>
    /// <param name="pool">Pool it returns to.</param>
    public MessageChunk(int capacity, MessageChunkPool? pool = null)
    {
        _pool = pool;
        Partitions = new PartitionState[capacity];
        Keys = new byte[capacity][];
        Values = new byte[capacity][];
        Offsets = new long[capacity];
        ReceivedTicks = new long[capacity];
        _packedAt = new int[capacity];
        _keyLength = new int[capacity];
        _valueLength = new int[capacity];
    }

    /// <summary>What the chunk carries.</summary>
    public ChunkKind Kind { get; set; }

    /// <summary>Messages in use.</summary>
    public int Count { get; set; }

    /// <summary>Maximum messages.</summary>
    public int Capacity => Offsets.Length;

    /// <summary>True when no more messages fit.</summary>
    public bool IsFull => Count == Offsets.Length;

    /// <summary>Partition of each message.</summary>
    public PartitionState[] Partitions { get; }

    /// <summary>Kafka key bytes of each message added as arrays (null when absent, or packed: read keys with <see cref="KeyOf"/>).</summary>
    public byte[]?[] Keys { get; }

    /// <summary>Value bytes of each message added as arrays (null for a tombstone, or packed: read values with <see cref="ValueOf"/>).</summary>
    public byte[]?[] Values { get; }

    /// <summary>Offset of each message.</summary>
    public long[] Offsets { get; }

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamp when each event entered the process (latency origin).</summary>
    public long[] ReceivedTicks { get; }

    /// <summary>For control chunks: the partitions concerned.</summary>
    public List<PartitionState> Control { get; } = [];

    /// <summary>
    /// For <see cref="ChunkKind.Checkpoint"/>, and for <see cref="ChunkKind.Revoked"/> and <see cref="ChunkKind.Drain"/>
    /// when state is durable: where the worker puts its captured state (before completing <see cref="Done"/>).
    /// </summary>
    public CheckpointCapture? Capture { get; set; }

    /// <summary>For control chunks: completed by the worker when done.</summary>
    public TaskCompletionSource? Done { get; set; }

    /// <summary>Appends a message.</summary>
    /// <param name="partition">Its partition.</param>
    /// <param name="key">Key bytes.</param>
    /// <param name="value">Value bytes.</param>
    /// <param name="offset">Offset.</param>
    /// <param name="receivedTicks">Stopwatch timestamp of arrival.</param>
    public void Add(PartitionState partition, byte[]? key, byte[]? value, long offset, long receivedTicks)
    {
        var i = Count++;
        // Bounds-checked first (every array has the chunk's capacity): the stores below are unchecked.
        Offsets[i] = offset;
        ReceivedTicks[i] = receivedTicks;
        _packedAt[i] = -1;
        // Stores through refs, not indexers: an array-of-arrays store checks the element's type, which reads the key's and
        // value's object headers (a cache miss per event for scattered keys) on the source's thread.
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Partitions), i) = partition;
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Keys), i) = key;
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Values), i) = value;
    }

    /// <summary>
    /// Appends a message by copying its key and value bytes into the chunk's own pooled buffer (the native consume path:
    /// no array per message once the buffer has grown to the chunk's usual size).
    /// </summary>
    /// <param name="partition">Its partition.</param>
    /// <param name="key">Key bytes.</param>
    /// <param name="hasKey">False when the message has no key (null, not empty).</param>
    /// <param name="value">Value bytes.</param>
    /// <param name="hasValue">False for a tombstone (null value).</param>
    /// <param name="offset">Offset.</param>
    /// <param name="receivedTicks">Stopwatch timestamp of arrival.</param>
    public void AddPacked(PartitionState partition, ReadOnlySpan<byte> key, bool hasKey, ReadOnlySpan<byte> value, bool hasValue, long offset, long receivedTicks)
    {
        var need = _bytesUsed + key.Length + value.Length;
        if (need > _bytes.Length)
        {
            // A fresh chunk sizes its buffer for a full chunk of messages like those so far (one or two allocations, not
            // a doubling series); a pooled chunk keeps its buffer (see Release). Never pre-sized past what a pool keeps.
            var full = Math.Min((long)need * Capacity / (Count + 1), MaxRetainedBytes);
            var grown = new byte[Math.Max(need, Math.Max(full, Math.Max(4096, _bytes.Length * 2)))];
            _bytes.AsSpan(0, _bytesUsed).CopyTo(grown);
            _bytes = grown;
        }

        var i = Count++;
        Partitions[i] = partition;
        Keys[i] = null;
        Values[i] = null;
        Offsets[i] = offset;
        ReceivedTicks[i] = receivedTicks;
        _packedAt[i] = _bytesUsed;
        _keyLength[i] = hasKey ? key.Length : -1;
        _valueLength[i] = hasValue ? value.Length : -1;
        key.CopyTo(_bytes.AsSpan(_bytesUsed));
        _bytesUsed += key.Length;
        value.CopyTo(_bytes.AsSpan(_bytesUsed));
        _bytesUsed += value.Length;
    }

    /// <summary>Key bytes of message <paramref name="i"/> (empty when it has none).</summary>
    /// <param name="i">Message index.</param>
    /// <returns>The bytes, valid until the chunk is released.</returns>
    public ReadOnlySpan<byte> KeyOf(int i) => _packedAt[i] < 0 ? Keys[i] : _bytes.AsSpan(_packedAt[i], Math.Max(0, _keyLength[i]));

    /// <summary>Value bytes of message <paramref name="i"/> (empty for a tombstone).</summary>
    /// <param name="i">Message index.</param>
    /// <returns>The bytes, valid until the chunk is released.</returns>
    public ReadOnlySpan<byte> ValueOf(int i) => _packedAt[i] < 0 ? Values[i] : _bytes.AsSpan(_packedAt[i] + Math.Max(0, _keyLength[i]), Math.Max(0, _valueLength[i]));

    /// <summary>Message <paramref name="i"/>'s key as an array (null when it has none): the stored array, or a copy of packed bytes.</summary>
    /// <param name="i">Message index.</param>
    /// <returns>The key.</returns>
    public byte[]? KeyArray(int i) => _packedAt[i] < 0 ? Keys[i] : _keyLength[i] < 0 ? null : KeyOf(i).ToArray();

    /// <summary>Message <paramref name="i"/>'s value as an array (null for a tombstone): the stored array, or a copy of packed bytes.</summary>
    /// <param name="i">Message index.</param>
    /// <returns>The value.</returns>
    public byte[]? ValueArray(int i) => _packedAt[i] < 0 ? Values[i] : _valueLength[i] < 0 ? null : ValueOf(i).ToArray();

    /// <summary>Appends every message of <paramref name="other"/> (same order); the caller checks that they fit.</summary>
    /// <param name="other">A message chunk.</param>
    internal void Append(MessageChunk other)
    {
        for (var i = 0; i < other.Count; i++)
        {
            if (other._packedAt[i] < 0) Add(other.Partitions[i], other.Keys[i], other.Values[i], other.Offsets[i], other.ReceivedTicks[i]);
            else AddPacked(other.Partitions[i], other.KeyOf(i), other._keyLength[i] >= 0, other.ValueOf(i), other._valueLength[i] >= 0, other.Offsets[i], other.ReceivedTicks[i]);
        }
    }

    /// <summary>Counts this chunk's messages in <paramref name="load"/> (before it is written to the lane).</summary>
    internal void Charge(LaneLoad load)
    {
        _load = load;
        _charged = Count;
        load.Add(_charged);
    }

    /// <summary>Takes back <see cref="Charge"/> (the write did not happen).</summary>
    internal void Uncharge()
    {
        _load?.Settle(_charged);
        _load = null;
        _charged = 0;
    }

    /// <summary>Clears references and returns the chunk to its pool.</summary>
    public void Release()
    {
        // The lane's worker is done with these messages: they no longer count against its capacity.
        Uncharge();
        Array.Clear(Partitions, 0, Count);
        Array.Clear(Keys, 0, Count);
        Array.Clear(Values, 0, Count);
        Count = 0;
        _bytesUsed = 0;
        if (_bytes.Length > MaxRetainedBytes) _bytes = [];
        Kind = ChunkKind.Messages;
        Control.Clear();
        Done = null;
        Capture = null;
        _pool?.Return(this);
    }
}

/// <summary>A pool of <see cref="MessageChunk"/>s; its size is bounded by the channels' capacity plus chunks in flight.</summary>
/// <param name="chunkSize">Messages per chunk.</param>
public sealed class MessageChunkPool(int chunkSize)
{
    private readonly ConcurrentQueue<MessageChunk> _free = new();

    /// <summary>Messages per chunk.</summary>
    public int ChunkSize { get; } = chunkSize;

    /// <summary>Takes a free chunk (or makes one).</summary>
    /// <returns>An empty message chunk.</returns>
    public MessageChunk Rent() => _free.TryDequeue(out var c) ? c : new MessageChunk(ChunkSize, this);

    /// <summary>Takes a control chunk.</summary>
    /// <param name="kind">Control kind.</param>
    /// <param name="partitions">Partitions concerned.</param>
    /// <param name="capture">Where the worker captures state (checkpoint, revoke and drain with durable state).</param>
    /// <returns>The chunk, with <see cref="MessageChunk.Done"/> set.</returns>
    public MessageChunk RentControl(ChunkKind kind, IEnumerable<PartitionState> partitions, CheckpointCapture? capture = null)
    {
        var c = Rent();
        c.Kind = kind;
        c.Capture = capture;
        c.Control.AddRange(partitions);
        c.Done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return c;
    }

    internal void Return(MessageChunk chunk) => _free.Enqueue(chunk);
}
