using System.Text;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Streaming.Storage;

namespace StreamLstm.Streaming.Pipeline;

// Durable state of one engine: a key's record (export/import), checkpoint capture, restore from the store, and
// hibernation of idle keys (least recently seen first) under Pipeline:MaxResidentKeys.
internal sealed partial class KindEngine
{
    private readonly IStateStore? _store;
    private readonly WorkerMetrics _metrics;
    private readonly int _maxResident;
    private readonly float[] _row;
    private readonly byte[] _featureState;
    private readonly List<int> _dirty = [];
    private readonly List<PartitionState> _redo = [];

    // The names of hibernated keys, per partition: a restore takes its key's string back instead of making a new one, so
    // keys cycling through the resident cap allocate nothing per event (a string per restore was what young collections
    // copied: ~40 ms pauses in `bench state`). About 70 bytes per hibernated key, against ~1 KB resident.
    private readonly Dictionary<PartitionState, HashSet<string>> _hibernatedNames = [];
    private PartitionState?[] _slotPartition = [];
    private long[] _captured = [];
    private int[] _lruPrev = [];
    private int[] _lruNext = [];
    private int _lruHead = -1;
    private int _lruTail = -1;
    private byte[] _keyBuffer = new byte[256];
    private byte[] _recordBuffer = new byte[1024];

    /// <summary>Bytes of one key's record (under the engine's model, without re-warm history).</summary>
    public int RecordBytes => KeyStateRecord.Size(Slab.RowFloats, Features.StateBytes, _main.VersionBytes, _scoring.StateBytes);

    /// <summary>
    /// Adds the changed state of the partitions in <paramref name="previous"/> (each with
    /// <see cref="PartitionState.CaptureSequence"/> already set to <paramref name="sequence"/> by the caller, who kept
    /// the previous values in <paramref name="previous"/>) to <paramref name="batch"/>. Called between micro-batches with
    /// nothing pending, so every record matches its partition's <see cref="PartitionState.ReadOffset"/>. A slot is
    /// captured when it changed since the last capture, or when its last capture did not become durable (that
    /// checkpoint failed or was abandoned). Adds the partitions that had records written to <paramref name="written"/>.
    /// </summary>
    public void Capture(long sequence, CheckpointBatch batch, IReadOnlyList<(PartitionState Partition, long PreviousCapture)> previous, HashSet<PartitionState> written)
    {
        ExpireKeys(sequence, batch, previous, written);
        _dirty.Clear();
        Slab.TakeDirty(_dirty);
        foreach (var slot in _dirty)
        {
            var ps = _slotPartition[slot];
            if (ps is null || ps.CaptureSequence != sequence)
            {
                // Another partition's key (a revoke captures only the revoked ones): it stays dirty for the next capture.
                Slab.MarkDirty(slot);
                continue;
            }

            WriteRecord(batch, ps, slot, sequence);
            written.Add(ps);
        }

        WriteModelRecords(sequence, batch, previous, written);
        _redo.Clear();
        foreach (var (ps, prev) in previous)
        {
            if (ps.Kind == Kind && prev > ps.StateSequence) _redo.Add(ps);
        }

        foreach (var ps in _redo)
        {
            foreach (var slot in ps.KeySlots.Values)
            {
                if (_captured[slot] > ps.StateSequence && _captured[slot] != sequence)
                {
                    WriteRecord(batch, ps, slot, sequence);
                    written.Add(ps);
                }
            }
        }
    }

    /// <summary>Loads every stored key of <paramref name="partition"/> (eager restore; stops at the resident cap).</summary>
    public int RestoreAll(PartitionState partition)
    {
        if (_store is null || partition.StateOffset < 0) return 0;
        var loaded = 0;
        _store.Scan(Kind, partition.Partition, (key, record) =>
        {
            if (_maxResident > 0 && Slab.Count >= _maxResident) return false;
            var name = System.Text.Encoding.UTF8.GetString(key);
            if (partition.KeySlots.ContainsKey(name) || PartitionModelRecord.IsReserved(key)) return true;
            var slot = Slab.Allocate();
            if (slot >= _slotStamp.Length) GrowSlotArrays();
            ResetHistory(slot);
            if (!Import(partition, record, slot))
            {
                Slab.Free(slot);
                return true;
            }

            _slotKeys[slot] = name;
            _slotPartition[slot] = partition;
            partition.KeySlots[name] = slot;
            _table.Add(partition, key, slot);
            LinkTail(slot);
            loaded++;
            return true;
        });
        return loaded;
    }

    /// <summary>Keys resident in memory.</summary>
    public int Resident => Slab.Count;

    private void WriteRecord(CheckpointBatch batch, PartitionState ps, int slot, long sequence)
    {
        var version = RecordVersion(ps, slot);
        var history = ExportHistory(slot);
        var size = KeyStateRecord.Size(Slab.RowFloats, Features.StateBytes, version, _scoring.StateBytes, history.Length);
        var dest = batch.Add(Kind, ps.Partition, _slotKeys[slot]!, size);
        Slab.Export(slot, _row);
        Features.ExportState(slot, _featureState);
        KeyStateRecord.Write(dest, Kind, Slab.Layers, Slab.Hidden, version, _row, _featureState, ExportScoring(slot), history);
        _captured[slot] = sequence;
        _metrics.CheckpointRecords++;
        _metrics.CheckpointBytes += size;
    }

    private bool TryRestore(PartitionState partition, ReadOnlySpan<byte> utf8Key, int slot)
    {
        _captured[slot] = 0;
        ResetHistory(slot);
        if (_store is null || partition.StateOffset < 0) return false;
        if (_keyBuffer.Length < utf8Key.Length) _keyBuffer = new byte[Math.Max(utf8Key.Length, _keyBuffer.Length * 2)];
        utf8Key.CopyTo(_keyBuffer);
        var n = _store.Read(Kind, partition.Partition, _keyBuffer, utf8Key.Length, ref _recordBuffer);
        return n >= 0 && Import(partition, _recordBuffer.AsSpan(0, n), slot);
    }

    /// <summary>Imports a stored record into a fresh slot; false (the key starts fresh) when the record cannot be used.</summary>
    private bool Import(PartitionState partition, ReadOnlySpan<byte> record, int slot)
    {
        if (!KeyStateRecord.TryRead(record, out var view, out _) || view.Kind != Kind || view.Features.Length != Features.StateBytes)
        {
            _metrics.RestoreRejected++;
            return false;
        }

        Features.ImportState(slot, view.Features);
        // A record from before scoring state was stored (or with another window) starts the key's scoring fresh.
        _scoring.TryImport(slot, view.Scoring);
        ImportHistory(slot, view.History);
        var model = _parts.Count == 0 ? _main : ModelOf(partition);
        if (view.Layers == Slab.Layers && view.Hidden == Slab.Hidden && view.ModelVersion.SequenceEqual(model.VersionBytes))
        {
            Slab.Import(slot, view.Row);
            // Equal to what is stored: clean, and evictable again right away.
            _captured[slot] = partition.StateSequence;
        }
        else if (view.Layers == Slab.Layers && view.Hidden == Slab.Hidden && StaleOnImport(slot, view.ModelVersion))
        {
            // A record from before a swap (or of a key still waiting for its re-warm): stale, so its next micro-batch gives
            // it the new model's state over its stored history, exactly what the swap's re-warm would have given it.
            Slab.Import(slot, view.Row);
            Slab.MarkDirty(slot);
        }
        else
        {
            // Another model's h and c mean nothing to this one: the LSTM starts cold, the normaliser carries on.
            Slab.Zero(slot);
            Slab.MarkDirty(slot);
            _metrics.RestoreRejected++;
        }

        _metrics.Restored++;
        return true;
    }

    /// <summary>Evicts least recently seen keys whose state is durable until below the cap (looks at a few at most).</summary>
    private void Hibernate()
    {
        var slot = _lruHead;
        for (var examined = 0; slot >= 0 && examined < 8 && Slab.Count >= _maxResident; examined++)
        {
            var next = _lruNext[slot];
            var ps = _slotPartition[slot]!;
            if (!Slab.IsDirty(slot) && _slotStamp[slot] != _stamp && _deferredCount[slot] == 0 && ps.StateOffset >= 0 && _captured[slot] <= ps.StateSequence)
            {
                ps.KeySlots.Remove(_slotKeys[slot]!);
                HibernatedNames(ps).Add(_slotKeys[slot]!);
                _table.Remove(slot);
                Unlink(slot);
                Slab.Free(slot);
                _slotKeys[slot] = null;
                _slotPartition[slot] = null;
                _metrics.Evicted++;
            }
            else
            {
                // Not durable yet (changed since the last written checkpoint): look again after a round.
                Touch(slot);
            }

            slot = next;
        }
    }

    private void GrowSlotArrays()
    {
        var cap = Slab.Capacity;
        if (cap <= _slotStamp.Length) return;
        // Per-slot bookkeeping (not the state itself, which the slab holds in chunks that never move).
        Array.Resize(ref _slotStamp, cap);
        Array.Resize(ref _slotKeys, cap);
        Array.Resize(ref _slotPartition, cap);
        Array.Resize(ref _captured, cap);
        Array.Resize(ref _lruPrev, cap);
        Array.Resize(ref _lruNext, cap);
        Array.Resize(ref _deferredCount, cap);
        Array.Resize(ref _deferredTs, cap);
        Array.Resize(ref _hist, cap);
        Array.Resize(ref _histCount, cap);
        Array.Resize(ref _histPos, cap);
        Array.Resize(ref _stale, cap);
        _table.EnsureCapacity(cap);
        Features.EnsureCapacity(cap);
        _scoring.EnsureCapacity(cap);
    }

    private void Touch(int slot)
    {
        if (_lruTail == slot) return;
        Unlink(slot);
        LinkTail(slot);
    }

    private void LinkTail(int slot)
    {
        _lruPrev[slot] = _lruTail;
        _lruNext[slot] = -1;
        if (_lruTail >= 0) _lruNext[_lruTail] = slot;
        else _lruHead = slot;
        _lruTail = slot;
    }

    private void Unlink(int slot)
    {
        int prev = _lruPrev[slot], next = _lruNext[slot];
        if (prev >= 0) _lruNext[prev] = next;
        else if (_lruHead == slot) _lruHead = next;
        if (next >= 0) _lruPrev[next] = prev;
        else if (_lruTail == slot) _lruTail = prev;
        _lruPrev[slot] = _lruNext[slot] = -1;
    }

    private HashSet<string> HibernatedNames(PartitionState partition)
    {
        if (!_hibernatedNames.TryGetValue(partition, out var names)) _hibernatedNames[partition] = names = new HashSet<string>(StringComparer.Ordinal);
        return names;
    }

    /// <summary>The key's string: a hibernated key's own (taken back from the hibernated names), else a new one.</summary>
    private string KeyName(PartitionState partition, ReadOnlySpan<byte> utf8Key)
    {
        var max = Encoding.UTF8.GetMaxCharCount(utf8Key.Length);
        if (max <= 512 && _hibernatedNames.TryGetValue(partition, out var names) && names.Count > 0)
        {
            Span<char> chars = stackalloc char[max];
            var n = Encoding.UTF8.GetChars(utf8Key, chars);
            var lookup = names.GetAlternateLookup<ReadOnlySpan<char>>();
            if (lookup.TryGetValue(chars[..n], out var name))
            {
                lookup.Remove(chars[..n]);
                return name;
            }
        }

        return Encoding.UTF8.GetString(utf8Key);
    }

    /// <summary>Forgets a hibernated key's name (its stored state was deleted).</summary>
    private void ForgetHibernatedName(PartitionState partition, string key)
    {
        if (_hibernatedNames.TryGetValue(partition, out var names)) names.Remove(key);
    }
}
