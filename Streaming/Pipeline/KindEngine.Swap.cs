using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Online.Replay;
using StreamLstm.Streaming.Storage;

namespace StreamLstm.Streaming.Pipeline;

// Online learning's hook in the engine: feeding the replay buffer once per micro-batch (no allocation per event: each
// slot caches its key's ring), and the hot swap to a promoted model between two micro-batches, re-warming every resident
// key's (h, c) with the new model over its last inputs (its re-warm history), batched across keys through the new
// model's stepper. The swap is written durably (store and changelog) before the new model steps a row.
internal sealed partial class KindEngine
{
    private KeyRing?[] _slotRing = [];
    private readonly List<SwapRecord> _swapLog = [];

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
                replay.Record(ring!, _x.AsSpan(r * _inputs, _inputs), Slab, slot);
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

        var (rewarmed, fresh) = Rewarm(slots, entry);
        online.CountSwap(rewarmed, fresh);
        foreach (var (ps, offset) in swaps)
        {
            _since[ps] = offset;
            _modelDirty.Add(ps);
            _swapLog.Add(new SwapRecord(entry.Version, ps.Partition, offset));
        }
    }

    /// <summary>A restored key whose record is of another model: re-warmed alone over its stored history (false: nothing to re-warm over).</summary>
    private bool RewarmOnImport(int slot, ModelEntry model, ReadOnlySpan<byte> recordVersion)
    {
        if (Online is null || _histCount[slot] == 0 || _coldVersions.Contains(System.Text.Encoding.UTF8.GetString(recordVersion))) return false;
        Rewarm([slot], model);
        Online.CountSwap(1, 0);
        return true;
    }

    // Each key's state becomes the model's forward pass from zero over its last R inputs (its re-warm history, which
    // depends on the key's events only and is part of its stored record). Keys are right-aligned (a key with fewer
    // inputs joins later), so one LstmStepper call per step covers every key at once.
    private (int Rewarmed, int Fresh) Rewarm(List<int> slots, ModelEntry model)
    {
        var online = Online!;
        var replay = online.Replay;
        var steps = online.RewarmSteps;
        if (_slotRing.Length < _slotKeys.Length) Array.Resize(ref _slotRing, _slotKeys.Length);
        var inputs = new float[slots.Count * steps * _inputs];
        var lengths = new int[slots.Count];
        var fresh = 0;
        for (var i = 0; i < slots.Count; i++)
        {
            lengths[i] = CopyHistory(slots[i], inputs.AsSpan(i * steps * _inputs, steps * _inputs));
            if (lengths[i] == 0) fresh++;
        }

        replay.BeginFeed();
        try
        {
            foreach (var slot in slots)
            {
                // The replay ring's snapshots are the old model's states: training windows start again from the next one.
                var ring = _slotRing[slot];
                if (ReplayBuffer.Owns(ring, _slotKeys[slot]!)) ring!.InvalidateSnapshots();
            }
        }
        finally
        {
            replay.EndFeed();
        }

        foreach (var slot in slots)
        {
            Slab.Zero(slot);
            Slab.MarkDirty(slot);
        }

        var batchSlots = new int[_maxBatch];
        var x = new float[_maxBatch * _inputs];
        var mu = new float[_maxBatch * _horizons];
        var logSigma = new float[_maxBatch * _horizons];
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
}

/// <summary>Where a worker's engine swapped to a promoted model.</summary>
/// <param name="Version">The new model's version.</param>
/// <param name="Partition">Input partition.</param>
/// <param name="Offset">First offset of the partition stepped by the new model.</param>
public sealed record SwapRecord(string Version, int Partition, long Offset);
