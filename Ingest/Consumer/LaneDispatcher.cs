using System.Diagnostics;
using System.Threading.Channels;

namespace StreamLstm.Ingest.Consumer;

/// <summary>
/// Backpressure between the consumer thread and the worker lanes. A chunk goes straight into its lane's bounded channel
/// when there is room; otherwise it is held, in order, and the lane reports that its partitions must be paused (the
/// client then stops fetching them, so only what was already fetched can pile up here). Held chunks move on when the
/// channel is half empty. Nothing is ever dropped: a chunk either reaches its lane or, if the lane is gone (its worker
/// failed and closed the channel) or a deadline passes, stays undelivered and its offsets are never made committable.
/// Consumer thread only.
/// </summary>
internal sealed class LaneDispatcher
{
    private readonly Channel<MessageChunk>[] _lanes;
    private readonly int _resumeAt;
    private readonly Queue<MessageChunk>[] _held;

    public LaneDispatcher(IReadOnlyList<Channel<MessageChunk>> lanes, int laneCapacity)
    {
        _lanes = [.. lanes];
        _resumeAt = Math.Max(0, laneCapacity / 2);
        _held = new Queue<MessageChunk>[_lanes.Length];
        for (var i = 0; i < _held.Length; i++) _held[i] = new Queue<MessageChunk>();
    }

    public int LaneCount => _lanes.Length;

    /// <summary>Chunks held back, over all lanes.</summary>
    public int HeldChunks => _held.Sum(q => q.Count);

    /// <summary>True while <paramref name="lane"/> has chunks held back (its partitions should be paused).</summary>
    public bool IsBlocked(int lane) => _held[lane].Count > 0;

    /// <summary>Hands <paramref name="chunk"/> to its lane or holds it; returns true when the lane just became blocked.</summary>
    public bool Dispatch(int lane, MessageChunk chunk)
    {
        var held = _held[lane];
        if (held.Count == 0 && _lanes[lane].Writer.TryWrite(chunk)) return false;
        held.Enqueue(chunk);
        return held.Count == 1;
    }

    /// <summary>Moves held chunks on where the lane has drained to half its capacity; returns true when
    /// <paramref name="lane"/> has nothing held any more (its partitions may resume).</summary>
    public bool TryUnblock(int lane)
    {
        var held = _held[lane];
        if (held.Count == 0) return true;
        var channel = _lanes[lane];
        if (channel.Reader.Count > _resumeAt) return false;
        while (held.Count > 0 && channel.Writer.TryWrite(held.Peek())) held.Dequeue();
        return held.Count == 0;
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
            if (!WriteOne(lane, held.Peek(), deadline)) return false;
            held.Dequeue();
        }

        return chunk is null || WriteOne(lane, chunk, deadline);
    }

    /// <summary>Writes <paramref name="chunk"/> only if the lane has nothing held and room right now (a wake-up for an idle worker).</summary>
    public bool TryWake(int lane, MessageChunk chunk) => _held[lane].Count == 0 && _lanes[lane].Writer.TryWrite(chunk);

    /// <summary>Forgets everything held for <paramref name="lane"/> (the lane is gone); returns the chunks to complete.</summary>
    public List<MessageChunk> Abandon(int lane)
    {
        var list = _held[lane].ToList();
        _held[lane].Clear();
        return list;
    }

    private bool WriteOne(int lane, MessageChunk chunk, long deadline)
    {
        var writer = _lanes[lane].Writer;
        if (writer.TryWrite(chunk)) return true;
        var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
        if (remaining <= TimeSpan.Zero) return false;
        using var timeout = new CancellationTokenSource(remaining);
        try
        {
            writer.WriteAsync(chunk, timeout.Token).AsTask().GetAwaiter().GetResult();
            return true;
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            return false;
        }
    }
}
