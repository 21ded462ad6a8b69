using StreamLstm.Ingest.Consumer;
using StreamLstm.Streaming.Changelog;
using StreamLstm.Streaming.Storage;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>
/// Writes the workers' captured state to an <see cref="IStateStore"/> for the consumer's durability barrier. Writes are
/// serialised and never go backwards: a partition's part older than what was already stored for it (a checkpoint that
/// outlived its deadline and finished after a newer one) is skipped, so records and offsets always come from one capture.
/// With a changelog, each checkpoint is published to it before the store write (so neither the store nor the offset
/// commit is ever ahead of it), and a newly assigned partition's store is first brought up to the changelog.
/// </summary>
/// <param name="store">The local store.</param>
/// <param name="changelog">Where checkpoints are replicated (null: the state stays local).</param>
public sealed class StoreCheckpoints(IStateStore store, IChangelog? changelog = null) : IStateCheckpoints
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(Model.Forecasting.SourceKind, int), long> _lastWritten = [];
    private readonly List<CheckpointBatch> _batches = [];
    private readonly CheckpointBatch _filtered = new();
    private readonly HashSet<(Model.Forecasting.SourceKind, int)> _skip = [];

    /// <summary>The store.</summary>
    public IStateStore Store { get; } = store;

    /// <summary>Checkpoints written.</summary>
    public long Writes { get; private set; }

    /// <summary>Bytes of records and offsets written (all checkpoints).</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Bytes of the last checkpoint written.</summary>
    public long LastBytes { get; private set; }

    /// <inheritdoc />
    public long StoredOffset(PartitionState partition)
    {
        ArgumentNullException.ThrowIfNull(partition);
        // The partition may have moved here from another process: its state follows it through the changelog.
        changelog?.Restore(partition.Kind, partition.Topic, partition.Partition, Store);
        return Store.ReadOffset(partition.Kind, partition.Partition);
    }

    /// <inheritdoc />
    public void Write(CheckpointCapture capture)
    {
        ArgumentNullException.ThrowIfNull(capture);
        lock (_lock)
        {
            _batches.Clear();
            _filtered.Clear();
            var skip = _skip;
            skip.Clear();
            foreach (var lane in capture.Lanes)
            {
                if (lane is not WorkerCheckpoint w) continue;
                var filter = false;
                foreach (var p in w.Partitions)
                {
                    var id = (p.Partition.Kind, p.Partition.Partition);
                    if (p.Excluded || (_lastWritten.TryGetValue(id, out var last) && last > capture.Sequence))
                    {
                        skip.Add(id);
                        filter = true;
                    }
                }

                if (!filter)
                {
                    _batches.Add(w.Batch);
                    continue;
                }

                // Rare (an output gave up a row, or a stale part): copy what may be written.
                foreach (var e in w.Batch.Entries)
                {
                    if (!skip.Contains((e.Kind, e.Partition))) w.Batch.Value(e).CopyTo(_filtered.Add(e.Kind, e.Partition, System.Text.Encoding.UTF8.GetString(w.Batch.Key(e)), e.ValueLength));
                }

                foreach (var (kind, partition, offset) in w.Batch.Offsets)
                {
                    if (!skip.Contains((kind, partition))) _filtered.SetOffset(kind, partition, offset);
                }
            }

            if (_filtered.Count > 0 || _filtered.Offsets.Count > 0) _batches.Add(_filtered);
            changelog?.Publish(_batches);
            capture.BeforeStore?.Invoke();
            Store.Write(_batches);
            long bytes = 0;
            foreach (var b in _batches) bytes += b.Bytes + 8L * b.Offsets.Count;
            LastBytes = bytes;
            BytesWritten += bytes;
            Writes++;
            foreach (var p in capture.Partitions)
            {
                var id = (p.Partition.Kind, p.Partition.Partition);
                if (skip.Contains(id)) continue;
                p.Written = true;
                _lastWritten[id] = capture.Sequence;
            }
        }
    }
}
