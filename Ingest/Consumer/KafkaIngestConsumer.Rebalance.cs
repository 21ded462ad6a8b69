using Confluent.Kafka;

namespace StreamLstm.Ingest.Consumer;

// Rebalance: partitions arriving (resuming where their stored state stands), being revoked (drained, checkpointed,
// committed) or lost (dropped without committing).
public sealed partial class KafkaIngestConsumer
{
    /// <summary>Registers newly assigned partitions with their lanes; returns where each starts reading.</summary>
    private List<TopicPartitionOffset> OnAssigned(List<TopicPartition> parts)
    {
        var added = new List<PartitionState>();
        var starts = new List<TopicPartitionOffset>(parts.Count);
        foreach (var tp in parts)
        {
            if (_partitions.ContainsKey(tp) || !_options.Topics.TryGetValue(tp.Topic, out var kind))
            {
                starts.Add(new TopicPartitionOffset(tp, Offset.Unset));
                continue;
            }

            var ps = new PartitionState(tp.Topic, tp.Partition.Value, kind, LaneOf((int)kind, tp.Partition.Value, _dispatcher.LaneCount));
            starts.Add(new TopicPartitionOffset(tp, ResumeFromStore(ps)));
            _partitions[tp] = ps;
            added.Add(ps);
        }

        var deadline = DrainDeadline();
        foreach (var group in added.GroupBy(p => p.Lane))
        {
            SendControl(group.Key, ChunkKind.Assigned, group, deadline);
        }

        LogAssigned(_logger, parts.Count, string.Join(",", starts.Select(p => p.Offset == Offset.Unset ? $"{p.Topic}[{p.Partition.Value}]" : $"{p.Topic}[{p.Partition.Value}]@{p.Offset.Value}")));
        return starts;
    }

    private void OnRevoked(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartitionOffset> parts)
    {
        // Drain the lanes' work for these partitions, flush the outputs, then commit exactly what they took durably.
        var states = parts.Select(p => _partitions.GetValueOrDefault(p.TopicPartition)).OfType<PartitionState>().ToList();
        var deadline = DrainDeadline();
        var waits = new List<Task?>();
        // With durable state the workers capture these partitions' state before they release it: the revoke checkpoints them.
        var capture = _state is null || _transactionFailed ? null : new CheckpointCapture(_barrier.NextSequence(), _dispatcher.LaneCount);
        foreach (var group in states.GroupBy(p => p.Lane))
        {
            waits.Add(SendControl(group.Key, ChunkKind.Revoked, group, deadline, capture));
        }

        var drained = WaitAll(waits, deadline);
        if (!drained)
        {
            LogDrainTimeout(_logger, states.Count);
        }

        if (!CommitCheckpoint(consumer, states, drained ? capture : null, deadline) && _transactions is not null && !_transactionFailed)
        {
            // The aborted transaction also carried the kept partitions' outputs: the next round stops the service (restart from the store).
            _transactionFailed = true;
            try
            {
                _transactions.Abort();
            }
            catch (KafkaException ex)
            {
                LogAbortFailed(_logger, ex.Error.Reason);
            }
        }

        var commits = new List<TopicPartitionOffset>();
        foreach (var ps in states)
        {
            var next = ps.Durable;
            if (next >= 0)
            {
                commits.Add(new TopicPartitionOffset(ps.TopicPartition, next));
            }

            _partitions.Remove(ps.TopicPartition);
            // The next owner reads from the held-back offset; its hold is for it to keep, not us.
            _failures?.Release(ps.Kind, ps.Partition);
        }

        if (commits.Count > 0)
        {
            try
            {
                consumer.Commit(commits);
            }
            catch (KafkaException ex)
            {
                LogCommitFailed(_logger, ex.Error.Reason);
            }
        }

        RefreshPaused();
        LogRevoked(_logger, parts.Count);
    }

    private void OnLost(List<TopicPartitionOffset> parts)
    {
        var states = parts.Select(p => _partitions.GetValueOrDefault(p.TopicPartition)).OfType<PartitionState>().ToList();
        var deadline = DrainDeadline();
        foreach (var group in states.GroupBy(p => p.Lane))
        {
            SendControl(group.Key, ChunkKind.Lost, group, deadline);
        }

        foreach (var ps in states)
        {
            _partitions.Remove(ps.TopicPartition);
            _failures?.Release(ps.Kind, ps.Partition);
        }

        RefreshPaused();
        LogLost(_logger, parts.Count);
    }

    private void RefreshPaused()
    {
        foreach (var lane in _pausedLanes.ToList())
        {
            if (!_dispatcher.IsBlocked(lane)) _pausedLanes.Remove(lane);
        }

        PausedLanes = _pausedLanes.Count;
    }
}
