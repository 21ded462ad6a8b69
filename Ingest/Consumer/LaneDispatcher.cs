using System.Diagnostics;
using System.Threading.Channels;

namespace StreamLstm.Ingest.Consumer;

/// <summary>
/// Backpressure between the consumer thread and the worker lanes, counted in <em>messages</em>. A lane's load is what it
/// holds: the messages of chunks in its channel or being processed (until the worker releases them) plus the messages
/// held back here. A chunk goes straight into the lane's bounded channel when nothing is held and there is room;
/// otherwise it is held, in order, and coalesced into the last held chunk when it fits, so many small chunks (short poll
/// rounds) never fill a channel that is counted in chunks. The lane asks for its partitions to be paused only when its
/// load reaches the capacity in messages (real backpressure: the worker is that far behind), and may resume once the load
/// is down to half of it. Nothing is ever dropped: a chunk either reaches its lane or, if the lane is gone (its worker
/// failed and closed the channel) or a deadline passes, stays undelivered and its offsets are never made committable.
/// Consumer thread only (the workers only settle what they release).
/// </summary>
internal sealed class LaneDispatcher
{
    private readonly Channel<MessageChunk>[] _lanes;
    private readonly int _capacity;
    private readonly int _resumeAt;
    private readonly Queue<MessageChunk>[] _held;
    private readonly int[] _heldMessages;
    private readonly LaneLoad[] _loads;
    private readonly bool[] _blocked;

    /// <summary>Creates the dispatcher.</summary>
    /// <param name="lanes">One bounded channel per lane.</param>
    /// <param name="laneCapacity">Messages a lane may hold (channel, being processed and held back) before its partitions pause.</param>
    public LaneDispatcher(IReadOnlyList<Channel<MessageChunk>> lanes, int laneCapacity)
    {
        _lanes = [.. lanes];
        _capacity = Math.Max(1, laneCapacity);
        _resumeAt = _capacity / 2;
        _held = new Queue<MessageChunk>[_lanes.Length];
        _heldMessages = new int[_lanes.Length];
        _loads = new LaneLoad[_lanes.Length];
        _blocked = new bool[_lanes.Length];
        for (var i = 0; i < _held.Length; i++)
        {
            _held[i] = new Queue<MessageChunk>();
            _loads[i] = new LaneLoad();
        }
    }

    public int LaneCount => _lanes.Length;

    /// <summary>Chunks held back, over all lanes.</summary>
    public int HeldChunks => _held.Sum(q => q.Count);

    /// <summary>Messages of <paramref name="lane"/> in its channel or being processed (handed over, not yet released).</summary>
    public long InLane(int lane) => _loads[lane].Messages;

    /// <summary>Messages held back for <paramref name="lane"/>.</summary>
    public int Held(int lane) => _heldMessages[lane];

    /// <summary>True while <paramref name="lane"/> is over its capacity in messages (its partitions should be paused).</summary>
    public bool IsBlocked(int lane) => _blocked[lane];

    /// <summary>True when <paramref name="lane"/> has chunks held back (to be moved on by <see cref="TryUnblock"/>).</summary>
    public bool HasHeld(int lane) => _held[lane].Count > 0;

    /// <summary>Hands <paramref name="chunk"/> to its lane or holds it; returns true when the lane just became blocked.</summary>
    public bool Dispatch(int lane, MessageChunk chunk)
    {
        var held = _held[lane];
        if (held.Count > 0) MoveHeld(lane);
        if (held.Count > 0 || !TryWrite(lane, chunk)) Hold(lane, chunk);
        if (_blocked[lane] || Load(lane) < _capacity) return false;
        _blocked[lane] = true;
        return true;
    }

    /// <summary>Moves held chunks on as the channel has room; returns true when <paramref name="lane"/> is not blocked
    /// (any more): its load is down to half its capacity, so its partitions may resume.</summary>
    public bool TryUnblock(int lane)
    {
        MoveHeld(lane);
        if (_blocked[lane] && Load(lane) <= _resumeAt) _blocked[lane] = false;
        return !_blocked[lane];
    }

    /// <summary>
    /// Writes the lane's held chunks and then <paramref name="chunk"/> (a control chunk, or the last partial chunk),
    /// waiting for room until <paramref name="deadline"/> (a <see cref="Stopwatch"/> timestamp). Returns false when the
    /// lane is closed or the deadline passed; what was not written stays out of the lane, so its offsets never commit.
    /// </summary>
    public bool WriteAll(int lane, MessageChunk? chunk, long deadline)
    {
        var held = _held[lane];
        while (held.Count > 0)
        {
            var next = held.Peek();
            // Counted before the write: once written, the worker may release (and clear) the chunk at any moment.
            var count = next.Count;
            if (!WriteOne(lane, next, deadline)) return false;
            held.Dequeue();
            _heldMessages[lane] -= count;
        }

        // Nothing is held back any more: the caller resumes the lane's partitions (a later dispatch blocks it again if needed).
        _blocked[lane] = false;
        return chunk is null || WriteOne(lane, chunk, deadline);
    }

    /// <summary>Writes <paramref name="chunk"/> only if the lane has nothing held and room right now (a wake-up for an idle worker).</summary>
    public bool TryWake(int lane, MessageChunk chunk) => _held[lane].Count == 0 && TryWrite(lane, chunk);

    /// <summary>Forgets everything held for <paramref name="lane"/> (the lane is gone); returns the chunks to complete.</summary>
    public List<MessageChunk> Abandon(int lane)
    {
        var list = _held[lane].ToList();
        _held[lane].Clear();
        _heldMessages[lane] = 0;
        _blocked[lane] = false;
        return list;
    }

    private long Load(int lane) => _loads[lane].Messages + _heldMessages[lane];

    private void Hold(int lane, MessageChunk chunk)
    {
        var held = _held[lane];
        _heldMessages[lane] += chunk.Count;
        // Coalesce small message chunks: the channel counts chunks, so many partial ones would fill it with few messages.
        if (chunk.Kind == ChunkKind.Messages && held.Count > 0 && held.Last() is { Kind: ChunkKind.Messages } tail && tail.Capacity - tail.Count >= chunk.Count)
        {
            tail.Append(chunk);
            chunk.Release();
            return;
        }

        held.Enqueue(chunk);
    }

    private void MoveHeld(int lane)
    {
        var held = _held[lane];
        while (held.Count > 0)
        {
            // Counted before the write: once written, the worker may release (and clear) the chunk at any moment.
            var count = held.Peek().Count;
            if (!TryWrite(lane, held.Peek())) return;
            held.Dequeue();
            _heldMessages[lane] -= count;
        }
    }

    private bool TryWrite(int lane, MessageChunk chunk)
    {
        // Charged before the write: the worker may release the chunk before TryWrite even returns.
        chunk.Charge(_loads[lane]);
        if (_lanes[lane].Writer.TryWrite(chunk)) return true;
        chunk.Uncharge();
        return false;
    }

    private bool WriteOne(int lane, MessageChunk chunk, long deadline)
    {
        if (TryWrite(lane, chunk)) return true;
        var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
        if (remaining <= TimeSpan.Zero) return false;
        using var timeout = new CancellationTokenSource(remaining);
        chunk.Charge(_loads[lane]);
        try
        {
            _lanes[lane].Writer.WriteAsync(chunk, timeout.Token).AsTask().GetAwaiter().GetResult();
            return true;
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            chunk.Uncharge();
            return false;
        }
    }
}

/// <summary>Messages a lane's worker has been handed and not yet released (written by the consumer, settled by the worker).</summary>
internal sealed class LaneLoad
{
    private long _messages;

    /// <summary>Messages outstanding.</summary>
    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>Counts <paramref name="count"/> more messages.</summary>
    public void Add(int count) => Interlocked.Add(ref _messages, count);

    /// <summary>Settles <paramref name="count"/> messages (released by the worker, or not handed over after all).</summary>
    public void Settle(int count) => Interlocked.Add(ref _messages, -count);
}
