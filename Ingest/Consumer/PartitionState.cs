using Confluent.Kafka;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Consumer;

/// <summary>
/// One input partition's state, kept together so a later checkpoint can snapshot a partition's keys and offset as a unit.
/// The worker that owns the partition (its <see cref="Lane"/>) is the only writer of everything except
/// <see cref="Durable"/> and <see cref="StoredOffset"/>, which belong to the consumer thread; <see cref="Committable"/>
/// is the hand-over point.
/// </summary>
public sealed class PartitionState
{
    private long _committable = -1;
    private long _stateOffset = -1;
    private long _stateSequence;

    /// <summary>Creates the state for a newly assigned partition.</summary>
    /// <param name="topic">Topic.</param>
    /// <param name="partition">Partition.</param>
    /// <param name="kind">Source kind of the topic.</param>
    /// <param name="lane">Worker lane that owns it.</param>
    public PartitionState(string topic, int partition, SourceKind kind, int lane)
    {
        Topic = topic;
        Partition = partition;
        Kind = kind;
        Lane = lane;
        TopicPartition = new TopicPartition(topic, partition);
    }

    /// <summary>Topic.</summary>
    public string Topic { get; }

    /// <summary>Partition number.</summary>
    public int Partition { get; }

    /// <summary>Topic and partition.</summary>
    public TopicPartition TopicPartition { get; }

    /// <summary>Source kind.</summary>
    public SourceKind Kind { get; }

    /// <summary>Worker lane.</summary>
    public int Lane { get; }

    /// <summary>The partition's keys and their state slots (owned by the lane's worker).</summary>
    public Dictionary<string, int> KeySlots { get; } = new(StringComparer.Ordinal);

    /// <summary>Next offset the worker expects (one past the last message it read); earlier ones are duplicates.</summary>
    public long ReadOffset { get; set; } = -1;

    /// <summary>Rows of this partition waiting in a micro-batch.</summary>
    public int PendingRows { get; set; }

    /// <summary>True once the partition was revoked or lost; the worker has released its keys.</summary>
    public bool Released { get; set; }

    /// <summary>One past the last offset whose forecast (or dead letter) has been handed over; -1 before any.</summary>
    public long Committable => Volatile.Read(ref _committable);

    /// <summary>
    /// One past the last offset whose forecasts every output has flushed (consumer thread only); -1 before any. Only this
    /// offset is stored for commit, so a process kill never commits forecasts still buffered in an output.
    /// </summary>
    public long Durable { get; set; } = -1;

    /// <summary>The offset last stored with the consumer (consumer thread only).</summary>
    public long StoredOffset { get; set; } = -1;

    /// <summary>
    /// The offset the partition's durable state (state store) corresponds to, -1 when none is stored. Set by the consumer
    /// thread at assignment and after each checkpoint write; read by the worker (whether a missing key may be stored).
    /// </summary>
    public long StateOffset
    {
        get => Volatile.Read(ref _stateOffset);
        set => Volatile.Write(ref _stateOffset, value);
    }

    /// <summary>The sequence of the last checkpoint whose capture of this partition was written (consumer thread writes, worker reads).</summary>
    public long StateSequence
    {
        get => Volatile.Read(ref _stateSequence);
        set => Volatile.Write(ref _stateSequence, value);
    }

    /// <summary>The sequence of the last checkpoint that captured this partition (worker only).</summary>
    public long CaptureSequence { get; set; }

    /// <summary>Publishes <paramref name="nextOffset"/> as safe to commit.</summary>
    /// <param name="nextOffset">One past the last fully handled offset.</param>
    public void MarkCommittable(long nextOffset) => Volatile.Write(ref _committable, nextOffset);
}
