using System.Collections.Concurrent;

namespace StreamLstm.Ingest.Consumer;

/// <summary>
/// Control items a lane's worker takes between two chunks, ahead of whatever the lane's channel still holds. A
/// checkpoint capture goes here: its state matches the offsets the worker has reached, wherever that is, so it need not
/// wait behind a full channel (which would delay every checkpoint by the whole backlog). Revokes and drains do not: they
/// must follow everything dispatched before them. Thread-safe.
/// </summary>
public sealed class LaneMailbox
{
    private readonly ConcurrentQueue<MessageChunk> _items = new();

    /// <summary>Control items waiting.</summary>
    public int Count => _items.Count;

    /// <summary>Leaves a control chunk for the worker (the caller also wakes an idle worker).</summary>
    /// <param name="control">The control chunk.</param>
    public void Post(MessageChunk control) => _items.Enqueue(control);

    /// <summary>Takes the next control chunk (worker only).</summary>
    /// <param name="control">The chunk.</param>
    /// <returns>False when none waits.</returns>
    public bool TryTake(out MessageChunk control) => _items.TryDequeue(out control!);
}
