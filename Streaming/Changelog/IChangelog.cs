using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Storage;

namespace StreamLstm.Streaming.Changelog;

/// <summary>
/// Where checkpoints are replicated so that a partition's state can follow the partition to another process: each
/// checkpoint's changed records and a per-partition marker with the offset they correspond to.
/// </summary>
public interface IChangelog
{
    /// <summary>Publishes a checkpoint's records, then each partition's marker, and waits until all are delivered; throws when any is not (then the checkpoint must not be written).</summary>
    /// <param name="batches">The checkpoint's parts.</param>
    void Publish(IReadOnlyList<CheckpointBatch> batches);

    /// <summary>
    /// Publishes a hot swap's records (<see cref="PartitionModelRecord"/> swap keys, no marker) when the swap happens and
    /// waits until they are delivered; throws when they are not. A rebuild applies swap records whatever marker follows.
    /// A transactional changelog (exactly-once) publishes them outside the open transaction (which holds the outputs until
    /// the next checkpoint): a partition that moves before that checkpoint commits is then stepped by its new owner with
    /// the swap at the same offset, as a restart from the local store steps it.
    /// </summary>
    /// <param name="swaps">The swap records.</param>
    void PublishSwaps(CheckpointBatch swaps);

    /// <summary>
    /// Brings a newly assigned partition's local store up to the changelog: when the changelog's newest marker is ahead
    /// of the store's offset (or the store has none), writes the changelog's records up to that marker, and the marker's
    /// offset, into the store.
    /// </summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="inputTopic">The partition's input topic (the changelog gets as many partitions).</param>
    /// <param name="partition">Input partition.</param>
    /// <param name="store">The local store.</param>
    /// <returns>What was done.</returns>
    ChangelogRestore Restore(SourceKind kind, string inputTopic, int partition, IStateStore store);
}

/// <summary>The outcome of <see cref="IChangelog.Restore"/>.</summary>
/// <param name="LocalOffset">The store's offset before (-1: none).</param>
/// <param name="MarkerOffset">The changelog's newest marker (-1: none).</param>
/// <param name="Records">Records written into the store (0 when the store was current).</param>
/// <param name="Rebuilt">True when the store was rebuilt from the changelog.</param>
/// <param name="Elapsed">Time spent reading the changelog and writing the store.</param>
public readonly record struct ChangelogRestore(long LocalOffset, long MarkerOffset, int Records, bool Rebuilt, TimeSpan Elapsed);
