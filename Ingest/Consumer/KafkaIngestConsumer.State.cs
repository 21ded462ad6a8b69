using Confluent.Kafka;

namespace StreamLstm.Ingest.Consumer;

// Durable state: where an assigned partition resumes, and the per-lane captures behind each checkpoint.
public sealed partial class KafkaIngestConsumer
{
    /// <summary>
    /// Where a newly assigned partition starts: at the offset its stored state corresponds to (the store is the truth;
    /// the group's committed offset is at most that far), or — with no stored state — where the group left off.
    /// </summary>
    private Offset ResumeFromStore(PartitionState ps)
    {
        if (_state is null) return Offset.Unset;
        var stored = _state.StoredOffset(ps);
        if (stored < 0) return Offset.Unset;
        ps.StateOffset = stored;
        // Everything before the stored offset is already in the state: it counts as read, handed over and durable.
        ps.ReadOffset = stored;
        ps.MarkCommittable(stored);
        ps.Durable = stored;
        ps.StoredOffset = stored;
        return new Offset(stored);
    }

    /// <summary>
    /// Asks every lane holding partitions to capture its state (a <see cref="ChunkKind.Checkpoint"/> control chunk in the
    /// lane's mailbox, or behind what the lane already has; never blocks). Completes when all did.
    /// </summary>
    private Task<CheckpointCapture> CaptureState(long sequence)
    {
        var capture = new CheckpointCapture(sequence, _dispatcher.LaneCount);
        var waits = new List<Task>();
        foreach (var group in _partitions.Values.GroupBy(p => p.Lane))
        {
            var control = _pool.RentControl(ChunkKind.Checkpoint, group, capture);
            waits.Add(control.Done!.Task);
            if (_mailboxes is { } mailboxes)
            {
                // Ahead of the backlog: the worker takes it between two chunks. An idle worker is woken by an empty
                // checkpoint chunk (a busy one has a full channel and looks at its mailbox after the current chunk).
                mailboxes[group.Key].Post(control);
                var wake = _pool.RentControl(ChunkKind.Checkpoint, []);
                if (!_dispatcher.TryWake(group.Key, wake)) wake.Release();
                continue;
            }

            if (_filling[group.Key] is { Count: > 0 } filling)
            {
                _filling[group.Key] = null;
                Dispatch(_consumer!, group.Key, filling);
            }

            Dispatch(_consumer!, group.Key, control);
        }

        return Task.WhenAll(waits).ContinueWith(t => t.IsCompletedSuccessfully ? capture : throw (Exception?)t.Exception?.GetBaseException() ?? new OperationCanceledException(),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}
