using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace StreamLstm.Ingest.Consumer;

// Exactly-once: the barrier as a stop-the-world point. The consumer stops dispatching, every lane finishes what it was
// handed and captures its state, the outputs flush into the open transaction, the changelog takes the checkpoint, the
// input offsets go into the transaction, it commits, the store is written, the next transaction opens, dispatch resumes.
// Because nothing is dispatched between the capture and the commit, a transaction's outputs are exactly those of the
// messages before its offsets.
public sealed partial class KafkaIngestConsumer
{
    private readonly ICheckpointTransaction? _transactions;
    private long _transactionDueAt;
    private bool _transactionFailed;

    /// <summary>Exactly-once checkpoints committed (each one transaction).</summary>
    public long TransactionsCommitted { get; private set; }

    /// <summary>The periodic exactly-once checkpoint (consumer thread; blocks while it runs). Throws when it failed, after aborting.</summary>
    private void TransactionalBarrier(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (_transactionFailed) AbortAndFail("a revoke's checkpoint did not commit");
        var now = Stopwatch.GetTimestamp();
        var interval = (long)(_options.CommitInterval.TotalSeconds * Stopwatch.Frequency);
        if (_partitions.Count == 0) return;
        // The first checkpoint comes one interval after the first assignment, not at once.
        if (_transactionDueAt == 0) _transactionDueAt = now + interval;
        if (now < _transactionDueAt) return;
        _transactionDueAt = now + interval;
        var deadline = DrainDeadline();
        var states = _partitions.Values.ToList();
        var capture = new CheckpointCapture(_barrier.NextSequence(), _dispatcher.LaneCount);
        var waits = new List<Task?>();
        // Behind everything each lane holds: the worker captures once it has processed all it was handed.
        foreach (var group in states.GroupBy(p => p.Lane)) waits.Add(SendControl(group.Key, ChunkKind.Checkpoint, group, deadline, capture));
        if (!WaitAll(waits, deadline))
        {
            capture.Release();
            AbortAndFail("the workers did not finish what they were handed before the drain deadline");
        }

        if (!CommitCheckpoint(consumer, states, capture, deadline)) AbortAndFail("the checkpoint did not commit (see the barrier warning above)");
    }

    /// <summary>
    /// Under exactly-once, makes the checkpoint's write commit the transaction (with its offsets) just before the store
    /// write, runs it and opens the next transaction; otherwise just runs it. False when it failed.
    /// </summary>
    private bool CommitCheckpoint(IConsumer<byte[]?, byte[]?> consumer, IReadOnlyCollection<PartitionState> states, CheckpointCapture? capture, long deadline)
    {
        if (_transactions is not { } transactions || capture is null) return _barrier.FlushNow(states, deadline, capture);
        var group = consumer.ConsumerGroupMetadata;
        capture.BeforeStore = () => transactions.Commit(
            [.. capture.Partitions.Where(p => !p.Excluded).Select(p => new TopicPartitionOffset(p.Partition.TopicPartition, p.Offset))], group);
        if (!_barrier.FlushNow(states, deadline, capture)) return false;
        TransactionsCommitted++;
        transactions.Begin();
        return true;
    }

    /// <summary>
    /// Aborts the open transaction and stops: the in-memory state is ahead of the store now, and the outputs behind it were
    /// aborted, so nothing more may be committed; the host exits 1 and its restart resumes from the store.
    /// </summary>
    private void AbortAndFail(string reason)
    {
        _transactionFailed = true;
        try
        {
            // Abort does nothing when no transaction is open (already aborted).
            _transactions!.Abort();
        }
        catch (KafkaException ex)
        {
            LogAbortFailed(_logger, ex.Error.Reason);
        }

        LogTransactionAborted(_logger, reason);
        throw new InvalidOperationException($"exactly-once checkpoint failed ({reason}); the transaction was aborted and the service stops so that a restart resumes from the state store");
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Exactly-once checkpoint failed ({Reason}): transaction aborted; stopping so that the restart restores every partition from the state store")]
    private static partial void LogTransactionAborted(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Aborting the transaction failed: {Reason}")]
    private static partial void LogAbortFailed(ILogger logger, string reason);
}
