namespace StreamLstm.Ingest.Consumer;

/// <summary>
/// The consumer's side of durable per-key state (implemented where the state store lives). The consumer asks it where a
/// newly assigned partition's state stands, and — at the durability barrier, after the outputs flushed — writes the
/// workers' captured state with the offsets it corresponds to, as one atomic batch.
/// </summary>
public interface IStateCheckpoints
{
    /// <summary>The input offset the partition's stored state corresponds to (where reading resumes); -1 when none.</summary>
    /// <param name="partition">A newly assigned partition.</param>
    /// <returns>The offset, or -1.</returns>
    long StoredOffset(PartitionState partition);

    /// <summary>
    /// Writes every part of <paramref name="capture"/> not <see cref="PartitionCheckpoint.Excluded"/> atomically and sets
    /// <see cref="PartitionCheckpoint.Written"/> on what was written (a part older than what its partition already stored
    /// is skipped). Throws when the store failed; then nothing was written.
    /// </summary>
    /// <param name="capture">The captured state.</param>
    void Write(CheckpointCapture capture);
}

/// <summary>
/// One checkpoint in the making: the consumer sends it to every lane in a control chunk; each worker, between two
/// micro-batches and with nothing pending, puts its partitions' changed state and their offsets in its slot of
/// <see cref="Lanes"/>. Every lane's part is then consistent with its offsets: it holds exactly the effect of the
/// messages before them.
/// </summary>
public sealed class CheckpointCapture
{
    /// <summary>Creates a capture.</summary>
    /// <param name="sequence">Increasing number of the checkpoint.</param>
    /// <param name="lanes">Lane count.</param>
    public CheckpointCapture(long sequence, int lanes)
    {
        Sequence = sequence;
        Lanes = new LaneCheckpoint?[lanes];
    }

    /// <summary>Increasing number of the checkpoint (per process).</summary>
    public long Sequence { get; }

    /// <summary>
    /// Run by <see cref="IStateCheckpoints.Write"/> after the changelog took the checkpoint and before the store write
    /// (exactly-once: the transaction commits there); a throw stops the write.
    /// </summary>
    public Action? BeforeStore { get; set; }

    /// <summary>Each lane's part (set by that lane's worker before it completes the control chunk).</summary>
    public LaneCheckpoint?[] Lanes { get; }

    /// <summary>Every partition of every part.</summary>
    public IEnumerable<PartitionCheckpoint> Partitions => Lanes.OfType<LaneCheckpoint>().SelectMany(l => l.Partitions);

    /// <summary>Returns every part to its worker for reuse (after the write, or when the capture is abandoned).</summary>
    public void Release()
    {
        for (var i = 0; i < Lanes.Length; i++)
        {
            Lanes[i]?.Release();
            Lanes[i] = null;
        }
    }
}

/// <summary>A worker's part of a <see cref="CheckpointCapture"/>: its partitions' offsets (the records are the implementation's).</summary>
public abstract class LaneCheckpoint
{
    /// <summary>The partitions captured, each with the offset its state corresponds to.</summary>
    public List<PartitionCheckpoint> Partitions { get; } = [];

    /// <summary>Hands the part back to its worker for reuse.</summary>
    public abstract void Release();
}

/// <summary>One partition in a checkpoint.</summary>
/// <param name="partition">The partition.</param>
/// <param name="offset">The offset its captured state corresponds to (next to read).</param>
public sealed class PartitionCheckpoint(PartitionState partition, long offset)
{
    /// <summary>The partition.</summary>
    public PartitionState Partition { get; } = partition;

    /// <summary>Next offset to read once this state is restored.</summary>
    public long Offset { get; } = offset;

    /// <summary>Set by the barrier when an output gave up a row of this partition before <see cref="Offset"/>: its state must not be stored past that row.</summary>
    public bool Excluded { get; set; }

    /// <summary>Set by <see cref="IStateCheckpoints.Write"/> when stored.</summary>
    public bool Written { get; set; }
}
