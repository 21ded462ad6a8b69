using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Storage;

namespace StreamLstm.Streaming.Pipeline;

// Which model steps which partition. Normally one (the engine's); after a restore a partition may be on the version its
// checkpoint names, with swaps recorded after that checkpoint still to come at their offsets (a crash between a swap and
// the next checkpoint). Such partitions sit in _parts until they are back on the engine's model; a micro-batch is only
// ever stepped by one model, so the worker flushes before a row of another model (NeedsBoundary / EnterPartition).
internal sealed partial class KindEngine
{
    private ModelEntry _main;
    private ModelEntry? _batchModel;
    private readonly Dictionary<string, ModelEntry> _entries = new(StringComparer.Ordinal);
    private readonly Dictionary<PartitionState, PartitionModel> _parts = [];
    private readonly HashSet<PartitionState> _assigned = [];
    private readonly Dictionary<PartitionState, long> _since = [];
    private readonly HashSet<PartitionState> _modelDirty = [];
    private readonly HashSet<string> _coldVersions = new(StringComparer.Ordinal);

    // Swap records in each partition's store (offset, and the capture sequence whose checkpoint deletes it: 0 until one
    // does), so a checkpoint prunes those its model record makes useless without scanning the store.
    private readonly Dictionary<PartitionState, List<(long Offset, long PrunedAt)>> _storedSwaps = [];

    // The capture sequence that last wrote each partition's model record: one that did not become durable is written again.
    private readonly Dictionary<PartitionState, long> _modelCaptured = [];

    /// <summary>Where a swap record is replicated at the swap (null: the store only; the next checkpoint carries it).</summary>
    public Changelog.IChangelog? Changelog { get; set; }

    /// <summary>Partitions on another model than the engine's, or with recorded swaps still ahead (0 in steady state).</summary>
    public int PartitionModels => _parts.Count;

    /// <summary>Checkpointed or recorded model versions that could not be loaded (their keys started fresh).</summary>
    public long MissingModels { get; private set; }

    /// <summary>The last such failure, for the log and status.</summary>
    public string? LastModelError { get; private set; }

    /// <summary>The version stepping <paramref name="partition"/> now.</summary>
    public string VersionOf(PartitionState partition) => ModelOf(partition).Version;

    /// <summary>
    /// True when the message at <paramref name="offset"/> of <paramref name="partition"/> must wait for a batch boundary:
    /// a recorded swap takes effect at or before it, or its partition is on another model than the batch being filled.
    /// The worker then flushes everything pending and calls <see cref="EnterPartition"/>. Cheap when
    /// <see cref="PartitionModels"/> is 0 (callers check that first).
    /// </summary>
    public bool NeedsBoundary(PartitionState partition, long offset)
    {
        if (_parts.Count == 0) return false;
        var pm = _parts.GetValueOrDefault(partition);
        if (pm is not null && pm.Next < pm.Pending.Count && pm.Pending[pm.Next].Offset <= offset) return true;
        if (Pending == 0 && _deferred == 0) return false;
        return !ReferenceEquals(pm?.Current ?? _main, _batchModel);
    }

    /// <summary>With nothing pending: applies the partition's recorded swaps that take effect at or before <paramref name="offset"/> (re-warm included).</summary>
    public void EnterPartition(PartitionState partition, long offset)
    {
        if (Pending > 0 || _deferred > 0) throw new InvalidOperationException("A recorded swap is applied between micro-batches only.");
        if (!_parts.TryGetValue(partition, out var pm)) return;
        while (pm.Next < pm.Pending.Count && pm.Pending[pm.Next].Offset <= offset)
        {
            var (at, version) = pm.Pending[pm.Next++];
            var entry = Resolve(version);
            var slots = new List<int>(partition.KeySlots.Values);
            if (entry is null)
            {
                // The version is gone from the registry: the partition goes on with the engine's model, its keys fresh.
                entry = _main;
                foreach (var slot in slots)
                {
                    Slab.Zero(slot);
                    Slab.MarkDirty(slot);
                    _stale[slot] = false;
                }

                Online?.CountSwap();
                Online?.CountRewarm(0, slots.Count);
            }
            else
            {
                // As a live swap: each key is re-warmed by its next micro-batch, which this partition's model steps.
                MarkStale(slots);
                Online?.CountSwap();
            }

            pm.Current = entry;
            _since[partition] = at;
            _modelDirty.Add(partition);
            _swapLog.Add(new SwapRecord(entry.Version, partition.Partition, at));
        }

        if (pm.Next == pm.Pending.Count && ReferenceEquals(pm.Current, _main)) _parts.Remove(partition);
    }

    /// <summary>
    /// A partition was assigned to this worker: with online learning and a store, its checkpoint's model version and the
    /// swaps recorded after that checkpoint are loaded, so its replay is stepped as the first run stepped it.
    /// </summary>
    public void Assign(PartitionState partition)
    {
        _assigned.Add(partition);
        if (Online is null || _store is null) return;
        var (model, swaps) = PartitionModelRecord.Load(_store, Kind, partition.Partition);
        var since = model?.Since ?? long.MinValue;
        ModelEntry current = _main;
        if (model is { } m)
        {
            current = Resolve(m.Version) ?? Missing(m.Version, partition);
            _since[partition] = m.Since;
        }

        // Swaps after the one the checkpoint's state is in have not been applied to any stored key: they come at their offsets.
        var pending = swaps.Where(s => s.Offset > since).ToList();
        // Every stored one is tracked, older ones too (left by a build that did not prune): the next model record prunes them.
        _storedSwaps[partition] = swaps.Select(s => (s.Offset, 0L)).ToList();
        _parts.Remove(partition);
        if (!ReferenceEquals(current, _main) || pending.Count > 0) _parts[partition] = new PartitionModel(current, pending);
    }

    private ModelEntry Missing(string version, PartitionState partition)
    {
        // Keys stored under it start fresh (Import sees a cold version), counted; the engine's model steps the partition.
        _coldVersions.Add(version);
        MissingModels++;
        LastModelError = $"{Kind.ToWireName()}[{partition.Partition}]: the checkpoint names model version '{version}', which is not in the model registry; the partition's keys start fresh on {_main.Version}.";
        return _main;
    }

    private ModelEntry ModelOf(PartitionState partition) => _parts.TryGetValue(partition, out var pm) ? pm.Current : _main;

    /// <summary>The entry of <paramref name="version"/>: the engine's, a cached one, or loaded through <see cref="Online"/>; null when unknown.</summary>
    private ModelEntry? Resolve(string version)
    {
        if (_coldVersions.Contains(version)) return null;
        if (_main.Version == version) return _main;
        if (_entries.TryGetValue(version, out var e)) return e;
        var model = Online?.Resolve(version);
        if (model is null || model.Config != _main.Model.Config)
        {
            _coldVersions.Add(version);
            MissingModels++;
            LastModelError = model is null
                ? $"{Kind.ToWireName()}: model version '{version}' named by the state store is not in the model registry; keys stored under it start fresh."
                : $"{Kind.ToWireName()}: model version '{version}' has other sizes ({model.Config}) than the serving model; keys stored under it start fresh.";
            return null;
        }

        return _entries[version] = new ModelEntry(model, _maxBatch, _precision);
    }

    private ModelEntry EntryFor(LstmModel model)
    {
        var version = model.Metadata.Version;
        if (_entries.TryGetValue(version, out var e) && ReferenceEquals(e.Model, model)) return e;
        if (e is not null && !ReferenceEquals(e, _main)) e.Dispose();
        return _entries[version] = new ModelEntry(model, _maxBatch, _precision);
    }

    /// <summary>Forgets a released partition's model bookkeeping.</summary>
    private void ForgetPartitionModel(PartitionState partition)
    {
        _assigned.Remove(partition);
        _parts.Remove(partition);
        _since.Remove(partition);
        _modelDirty.Remove(partition);
        _storedSwaps.Remove(partition);
        _modelCaptured.Remove(partition);
    }

    /// <summary>
    /// Writes each captured partition's model record (version and the offset it took effect from) with its state, and
    /// deletes, in the same atomic batch, the partition's swap records that record makes useless (see <see cref="PruneSwaps"/>).
    /// </summary>
    private void WriteModelRecords(long sequence, CheckpointBatch batch, IReadOnlyList<(PartitionState Partition, long PreviousCapture)> previous, HashSet<PartitionState> written)
    {
        if (Online is null) return;
        foreach (var (ps, _) in previous)
        {
            if (ps.Kind != Kind || ps.CaptureSequence != sequence) continue;
            // A model record (and its prunes) captured for a checkpoint that did not become durable is captured again.
            var redo = _modelCaptured.TryGetValue(ps, out var captured) && captured > ps.StateSequence && captured != sequence;
            if (!written.Contains(ps) && !_modelDirty.Contains(ps) && !redo && !HasPrunable(ps)) continue;
            var version = ModelOf(ps).Version;
            var since = _since.TryGetValue(ps, out var s) ? s : -1;
            PartitionModelRecord.Write(batch.Add(Kind, ps.Partition, PartitionModelRecord.ModelKey, PartitionModelRecord.Size(version)), since, version);
            PruneSwaps(ps, since, sequence, batch);
            _modelDirty.Remove(ps);
            _modelCaptured[ps] = sequence;
            written.Add(ps);
        }
    }

    // Whether a stored swap record is useless under the partition's current model record and not yet deleted durably.
    private bool HasPrunable(PartitionState ps)
    {
        if (!_storedSwaps.TryGetValue(ps, out var swaps) || swaps.Count == 0) return false;
        var since = _since.TryGetValue(ps, out var s) ? s : -1;
        foreach (var (offset, prunedAt) in swaps)
        {
            if (Prunable(ps, offset, since) && (prunedAt == 0 || prunedAt > ps.StateSequence)) return true;
        }

        return false;
    }

    // A swap record no restore needs once the model record written beside it is durable: at or before that record's offset
    // (restore re-applies only later ones), and before the partition's read offset, so no later swap (always at or after
    // the read offset) can write the same key while the delete is on its way to the store.
    private static bool Prunable(PartitionState ps, long offset, long since) => offset <= since && offset < ps.ReadOffset;

    /// <summary>
    /// Deletes the swap records of <paramref name="ps"/> that the model record written beside them (effective from
    /// <paramref name="since"/>) makes useless (<see cref="Prunable"/>). A restore (<see cref="Assign"/>) re-applies only
    /// swaps after its model record's offset, and the delete is in the same atomic batch as that record (store write;
    /// changelog publish, where it is a tombstone that a rebuild applies only under a marker), so no restore meets the
    /// deletes without the record. Swaps after it (recorded since the capture, or still ahead of a restored partition)
    /// stay. A delete is forgotten once its checkpoint is durable; until then each capture of the partition repeats it.
    /// </summary>
    private void PruneSwaps(PartitionState ps, long since, long sequence, CheckpointBatch batch)
    {
        if (!_storedSwaps.TryGetValue(ps, out var swaps)) return;
        swaps.RemoveAll(x => x.PrunedAt > 0 && x.PrunedAt <= ps.StateSequence);
        for (var i = 0; i < swaps.Count; i++)
        {
            if (!Prunable(ps, swaps[i].Offset, since)) continue;
            batch.Delete(Kind, ps.Partition, PartitionModelRecord.SwapKey(swaps[i].Offset));
            swaps[i] = (swaps[i].Offset, sequence);
        }
    }

    /// <summary>Writes the swap of each partition (offset where <paramref name="version"/> takes effect) to the store and the changelog, before it steps a row.</summary>
    private void RecordSwaps(List<(PartitionState Partition, long Offset)> swaps, string version)
    {
        if (_store is null || swaps.Count == 0) return;
        var batch = new CheckpointBatch();
        foreach (var (ps, offset) in swaps)
        {
            PartitionModelRecord.Write(batch.Add(Kind, ps.Partition, PartitionModelRecord.SwapKey(offset), PartitionModelRecord.Size(version)), offset, version);
            if (!_storedSwaps.TryGetValue(ps, out var stored)) _storedSwaps[ps] = stored = [];
            // A second swap at the same offset overwrites the record: tracked once.
            stored.RemoveAll(x => x.Offset == offset);
            stored.Add((offset, 0));
        }

        _store.Write([batch]);
        try
        {
            Changelog?.PublishSwaps(batch);
        }
        catch (Exception ex) when (ex is InvalidOperationException or Confluent.Kafka.KafkaException)
        {
            // The next checkpoint's model record carries the swap to the changelog; until then a move would miss it.
            SwapPublishFailures++;
            LastModelError = $"{Kind.ToWireName()}: the swap to {version} was stored locally but not published to the changelog: {ex.Message}";
        }
    }

    /// <summary>Swap records the changelog did not take at the swap (the next checkpoint carries the model record).</summary>
    public long SwapPublishFailures { get; private set; }

    /// <summary>A model with its stepper and stored version bytes.</summary>
    private sealed class ModelEntry(LstmModel model, int maxBatch, WeightPrecision precision) : IDisposable
    {
        public LstmModel Model { get; } = model;

        public LstmStepper Stepper { get; } = new(model, maxBatch, 1, StepKernelKind.Auto, precision);

        public string Version { get; } = model.Metadata.Version;

        public byte[] VersionBytes { get; } = KeyStateRecord.VersionBytes(model.Metadata.Version);

        public void Dispose() => Stepper.Dispose();
    }

    /// <summary>A partition's model while it differs from the engine's: the current one and the recorded swaps ahead.</summary>
    private sealed class PartitionModel(ModelEntry current, List<(long Offset, string Version)> pending)
    {
        public ModelEntry Current { get; set; } = current;

        public List<(long Offset, string Version)> Pending { get; } = pending;

        public int Next { get; set; }
    }
}
