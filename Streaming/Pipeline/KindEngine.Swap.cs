using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Online.Replay;
using StreamLstm.Streaming.Storage;

namespace StreamLstm.Streaming.Pipeline;

// Online learning's hook in the engine: feeding the replay buffer once per micro-batch (no allocation per event: each
// slot caches its key's ring), and the hot swap to a promoted model between two micro-batches. Every resident key's
// (h, c) is then in the old model's representation: the key is marked stale, and its next micro-batch first re-warms it
// (the new model over the key's last inputs, its re-warm history), batched across the stale keys of that micro-batch
// through the new model's stepper. The result is the same bits as re-warming every key at the swap (the history does not
// change until the key's next event, and a key's step does not depend on the batch around it), but the worker never
// stalls on every resident key at once, and keys that never come back cost nothing. The swap is written durably (store
// and changelog) before the new model steps a row; a stale key's record is stored under StaleVersion, which no model
// has, so a restore re-warms it the same way.
internal sealed partial class KindEngine
{
    /// <summary>The model version a stale key's record is stored under: no model's, so loading it re-warms the key.</summary>
    private static readonly byte[] StaleVersion = KeyStateRecord.VersionBytes("\0rewarm");

    private KeyRing?[] _slotRing = [];
    private bool[] _stale = [];
    private readonly List<SwapRecord> _swapLog = [];
    private readonly List<int> _staleSlots = [];
    private float[] _rwInputs = [];
    private int[] _rwLengths = [];
    private int[] _rwSlots = [];
    private float[] _rwX = [];
    private float[] _rwMu = [];
    private float[] _rwLogSigma = [];

    /// <summary>Online learning state of this kind (null: no replay feed and no swaps).</summary>
    public OnlineKind? Online { get; set; }

    /// <summary>Swaps this engine made: version, partition and the first offset the new model stepped.</summary>
    public IReadOnlyList<SwapRecord> SwapLog => _swapLog;

    /// <summary>Before a micro-batch is stepped: swaps to a newly promoted model, then records each row in the replay buffer and the key's re-warm history.</summary>
    private void BeforeStep(int n)
    {
        var online = Online;
        if (online is null) return;
        if (!ReferenceEquals(online.Serving, Model) && !RecordedSwapsAhead()) SwapTo(online.Serving);
        RewarmStaleRows(n);
        var replay = online.Replay;
        if (_slotRing.Length < _slotKeys.Length) Array.Resize(ref _slotRing, _slotKeys.Length);
        replay.BeginFeed();
        try
        {
            for (var r = 0; r < n; r++)
            {
                var slot = _slots[r];
                var ring = _slotRing[slot];
                if (!ReplayBuffer.Owns(ring, _slotKeys[slot]!)) ring = _slotRing[slot] = replay.RingFor(_slotKeys[slot]!);
                replay.Record(ring!, _x.AsSpan(r * _inputs, _inputs), Slab, slot, Batch.TimestampsMs[r]);
                PushHistory(slot, _x.AsSpan(r * _inputs, _inputs));
            }
        }
        finally
        {
            replay.EndFeed();
        }
    }

    // A live promotion waits while a restored partition still has recorded swaps ahead: those come first, at their offsets.
    private bool RecordedSwapsAhead()
    {
        foreach (var pm in _parts.Values)
        {
            if (pm.Next < pm.Pending.Count) return true;
        }

        return false;
    }

    /// <summary>After a micro-batch is stepped: keeps each row's one-step forecast to score the key's next surprise.</summary>
    private void AfterStep(int n)
    {
        var online = Online;
        if (online is null) return;
        online.Replay.BeginFeed();
        try
        {
            for (var r = 0; r < n; r++)
            {
                var ring = _slotRing[_slots[r]];
                if (ring is not null && ReplayBuffer.Owns(ring, _slotKeys[_slots[r]]!)) ReplayBuffer.Forecast(ring, _mu[r * _horizons], _logSigma[r * _horizons]);
            }
        }
        finally
        {
            online.Replay.EndFeed();
        }
    }

    /// <summary>Re-warms the stale keys among the batch's rows with the model that steps the batch, before the replay feed snapshots their state.</summary>
    private void RewarmStaleRows(int n)
    {
        _staleSlots.Clear();
        for (var r = 0; r < n; r++)
        {
            if (_stale[_slots[r]]) _staleSlots.Add(_slots[r]);
        }

        if (_staleSlots.Count > 0) RewarmStale(_staleSlots, _batchModel ?? _main);
    }

    /// <summary>Re-warms every stale resident key now (tests; a key is otherwise re-warmed by its next micro-batch).</summary>
    /// <returns>Keys re-warmed or started fresh.</returns>
    public int CompleteRewarm()
    {
        var slots = new List<int>();
        for (var s = 0; s < _slotKeys.Length; s++)
        {
            if (_slotKeys[s] is not null && _stale[s]) slots.Add(s);
        }

        // Without recorded swaps ahead every partition is on the engine's model; otherwise each partition's own.
        foreach (var group in slots.GroupBy(s => _parts.Count == 0 ? _main : ModelOf(_slotPartition[s]!)))
        {
            RewarmStale(group.ToList(), group.Key);
        }

        return slots.Count;
    }

    private void RewarmStale(List<int> slots, ModelEntry model)
    {
        // A key restored stale had no ring cached in its slot when it was marked: find it now (it may hold old snapshots).
        InvalidateSnapshots(slots, findRings: true);
        var (rewarmed, fresh) = Rewarm(slots, model);
        foreach (var slot in slots) _stale[slot] = false;
        Online?.CountRewarm(rewarmed, fresh);
    }

    /// <summary>Marks resident keys stale after a swap: their state is re-warmed by their next micro-batch.</summary>
    private void MarkStale(IEnumerable<int> slots)
    {
        InvalidateSnapshots(slots, findRings: false);
        foreach (var slot in slots)
        {
            // Dirty: the next checkpoint stores it under StaleVersion, so no later load can mistake it for current state.
            _stale[slot] = true;
            Slab.MarkDirty(slot);
        }
    }

    /// <summary>Swaps now when a newer model was published (tests; the worker does it before each micro-batch).</summary>
    /// <returns>Whether a swap happened.</returns>
    public bool ApplyPendingSwap()
    {
        if (Online is not { } online || ReferenceEquals(online.Serving, Model) || RecordedSwapsAhead()) return false;
        SwapTo(online.Serving);
        return true;
    }

    private void SwapTo(LstmModel model)
    {
        var online = Online!;
        var entry = EntryFor(model);
        // Where the new model takes effect per partition: the first row waiting in this batch, else the next offset read.
        var swaps = new List<(PartitionState Partition, long Offset)>();
        var seen = new HashSet<PartitionState>();
        for (var r = 0; r < Pending; r++)
        {
            if (seen.Add(_rowPartitions[r])) swaps.Add((_rowPartitions[r], Batch.Offsets[r]));
        }

        foreach (var ps in _assigned.Concat(_slotPartition.OfType<PartitionState>()))
        {
            if (!ps.Released && seen.Add(ps)) swaps.Add((ps, ps.ReadOffset));
        }

        // Durable before the new model steps a row: a restart from an older checkpoint re-applies it at these offsets.
        RecordSwaps(swaps, entry.Version);
        foreach (var e in _entries.Values)
        {
            if (!ReferenceEquals(e, entry)) e.Dispose();
        }

        if (!ReferenceEquals(_main, entry) && !_entries.ContainsValue(_main)) _main.Dispose();
        _entries.Clear();
        _entries[entry.Version] = entry;
        _main = entry;
        _parts.Clear();
        _batchModel = entry;
        Batch.ModelVersion = entry.Version;
        var slots = new List<int>();
        for (var s = 0; s < _slotKeys.Length; s++)
        {
            if (_slotKeys[s] is not null) slots.Add(s);
        }

        MarkStale(slots);
        online.CountSwap();
        foreach (var (ps, offset) in swaps)
        {
            _since[ps] = offset;
            _modelDirty.Add(ps);
            _swapLog.Add(new SwapRecord(entry.Version, ps.Partition, offset));
        }
    }

    /// <summary>
    /// A restored key whose record is of another model (or stale): marked stale, so its next micro-batch re-warms it over
    /// its stored history with the model stepping it, batched with the others (false: nothing to re-warm over).
    /// </summary>
    private bool StaleOnImport(int slot, ReadOnlySpan<byte> recordVersion)
    {
        if (Online is null || _histCount[slot] == 0 || _coldVersions.Contains(System.Text.Encoding.UTF8.GetString(recordVersion))) return false;
        _stale[slot] = true;
        Slab.MarkDirty(slot);
        return true;
    }

    /// <summary>The model version the slot's record is written under: <see cref="StaleVersion"/> while it waits for its re-warm.</summary>
    private byte[] RecordVersion(PartitionState ps, int slot) =>
        slot < _stale.Length && _stale[slot] ? StaleVersion : (_parts.Count == 0 ? _main : ModelOf(ps)).VersionBytes;

    private void InvalidateSnapshots(IEnumerable<int> slots, bool findRings)
    {
        var replay = Online!.Replay;
        if (_slotRing.Length < _slotKeys.Length) Array.Resize(ref _slotRing, _slotKeys.Length);
        replay.BeginFeed();
        try
        {
            foreach (var slot in slots)
            {
                // The replay ring's snapshots are the old model's states: training windows start again from the next one.
                var ring = _slotRing[slot];
                if (findRings && !ReplayBuffer.Owns(ring, _slotKeys[slot]!)) ring = _slotRing[slot] = replay.RingFor(_slotKeys[slot]!);
                if (ReplayBuffer.Owns(ring, _slotKeys[slot]!)) ring!.InvalidateSnapshots();
            }
        }
        finally
        {
            replay.EndFeed();
        }
    }

    // Each key's state becomes the model's forward pass from zero over its last R inputs (its re-warm history, which
    // depends on the key's events only and is part of its stored record). Keys are right-aligned (a key with fewer
    // inputs joins later), so one LstmStepper call per step covers every key at once.
    private (int Rewarmed, int Fresh) Rewarm(List<int> slots, ModelEntry model)
    {
        var steps = Online!.RewarmSteps;
        Grow(ref _rwInputs, slots.Count * steps * _inputs);
        Grow(ref _rwLengths, slots.Count);
        Grow(ref _rwSlots, _maxBatch);
        Grow(ref _rwX, _maxBatch * _inputs);
        Grow(ref _rwMu, _maxBatch * _horizons);
        Grow(ref _rwLogSigma, _maxBatch * _horizons);
        var (inputs, lengths, batchSlots, x, mu, logSigma) = (_rwInputs, _rwLengths, _rwSlots, _rwX, _rwMu, _rwLogSigma);
        var fresh = 0;
        for (var i = 0; i < slots.Count; i++)
        {
            lengths[i] = CopyHistory(slots[i], inputs.AsSpan(i * steps * _inputs, steps * _inputs));
            if (lengths[i] == 0) fresh++;
        }

        foreach (var slot in slots)
        {
            Slab.Zero(slot);
            Slab.MarkDirty(slot);
        }

        for (var t = 0; t < steps; t++)
        {
            var b = 0;
            for (var i = 0; i < slots.Count; i++)
            {
                var offset = t - (steps - lengths[i]);
                if (offset < 0) continue;
                batchSlots[b] = slots[i];
                inputs.AsSpan((i * steps + offset) * _inputs, _inputs).CopyTo(x.AsSpan(b * _inputs));
                if (++b == _maxBatch)
                {
                    model.Stepper.Step(Slab, batchSlots.AsSpan(0, b), x.AsSpan(0, b * _inputs), mu.AsSpan(0, b * _horizons), logSigma.AsSpan(0, b * _horizons));
                    b = 0;
                }
            }

            if (b > 0) model.Stepper.Step(Slab, batchSlots.AsSpan(0, b), x.AsSpan(0, b * _inputs), mu.AsSpan(0, b * _horizons), logSigma.AsSpan(0, b * _horizons));
        }

        return (slots.Count - fresh, fresh);
    }

    private static void Grow<T>(ref T[] array, int length)
    {
        if (array.Length < length) array = new T[Math.Max(length, array.Length * 2)];
    }
}

/// <summary>Where a worker's engine swapped to a promoted model.</summary>
/// <param name="Version">The new model's version.</param>
/// <param name="Partition">Input partition.</param>
/// <param name="Offset">First offset of the partition stepped by the new model.</param>
public sealed record SwapRecord(string Version, int Partition, long Offset);
