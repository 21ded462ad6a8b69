using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Ingest.Features;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;
using StreamLstm.Streaming.Storage;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>
/// One worker's machinery for one source kind: decoder, feature state, model stepper and state slab (same slot index),
/// and the micro-batch being filled (struct-of-arrays, reused). Owned by a single worker thread: no locks.
/// </summary>
internal sealed partial class KindEngine
{
    private readonly int _inputs;
    private readonly int _horizons;
    private readonly int _maxBatch;
    private readonly int[] _slots;
    private readonly float[] _x;
    private readonly float[] _mu;
    private readonly float[] _logSigma;
    private readonly PartitionState[] _rowPartitions;
    private readonly double[] _raw;
    private int[] _slotStamp = [];
    private string?[] _slotKeys = [];
    private int _stamp = 1;
    private readonly KeySlotTable _table = new();
    private readonly int[] _dSlots;
    private readonly long[] _dTs;
    private readonly long[] _dOffsets;
    private readonly long[] _dTicks;
    private readonly PartitionState[] _dPartitions;
    private readonly double[] _dRaw;
    private readonly List<PartitionState> _marked = [];
    private int[] _deferredCount = [];
    private long[] _deferredTs = [];
    private int _deferred;
    private readonly WeightPrecision _precision;

    public KindEngine(SourceKind kind, LstmModel model, PipelineOptions options, TimeProvider? time = null, EventDecoder? decoder = null,
        IStateStore? store = null, WorkerMetrics? metrics = null, TimeSpan? keyTtl = null)
    {
        Kind = kind;
        Decoder = decoder ?? EventDecoder.For(kind, options.AudioCoefficients, options.EventTimeWindow(), time);
        Features = FeatureExtractor.For(kind, options.NormalisationAlpha, options.AudioCoefficients);
        if (model.Config.InputSize != Features.FeatureCount)
        {
            throw new ArgumentException($"The {kind.ToWireName()} model takes {model.Config.InputSize} inputs but {kind.ToWireName()} events give {Features.FeatureCount} features ({string.Join(", ", Features.FeatureNames)}); train or load a model with InputSize={Features.FeatureCount}.");
        }

        _maxBatch = options.MaxBatch;
        _precision = options.WeightPrecision;
        _main = new ModelEntry(model, _maxBatch, _precision);
        Slab = new StateSlab(model.Config, options.InitialSlots);
        _inputs = model.Config.InputSize;
        _horizons = model.Config.Horizons;
        _slots = new int[_maxBatch];
        _x = new float[_maxBatch * _inputs];
        _mu = new float[_maxBatch * _horizons];
        _logSigma = new float[_maxBatch * _horizons];
        _rowPartitions = new PartitionState[_maxBatch];
        _raw = new double[Decoder.ValueCount];
        _dSlots = new int[_maxBatch];
        _dTs = new long[_maxBatch];
        _dOffsets = new long[_maxBatch];
        _dTicks = new long[_maxBatch];
        _dPartitions = new PartitionState[_maxBatch];
        _dRaw = new double[_maxBatch * _raw.Length];
        Batch = new ForecastBatch(kind, _horizons, _maxBatch) { ModelVersion = model.Metadata.Version };
        _store = store;
        _metrics = metrics ?? new WorkerMetrics();
        _maxResident = options.MaxResidentKeys;
        _row = new float[Slab.RowFloats];
        _featureState = new byte[Features.StateBytes];
        InitScoring(options, time);
        InitTtl(keyTtl);
        GrowSlotArrays();
    }

    public SourceKind Kind { get; }

    /// <summary>How the current stepper stores its weights (<see cref="PipelineOptions.WeightPrecision"/>).</summary>
    public WeightPrecision StepperPrecision => _main.Stepper.Precision;

    public EventDecoder Decoder { get; }

    public FeatureExtractor Features { get; }

    /// <summary>The engine's model: the one every partition is stepped by, except one restored on another version (see <see cref="NeedsBoundary"/>).</summary>
    public LstmModel Model => _main.Model;

    public StateSlab Slab { get; }

    public ForecastBatch Batch { get; }

    /// <summary>Rows in the micro-batch being filled.</summary>
    public int Pending { get; private set; }

    /// <summary>Stopwatch timestamp of the oldest pending row.</summary>
    public long OldestTicks => Pending > 0 ? Batch.ReceivedTicks[0] : long.MaxValue;

    public double[] Raw => _raw;

    /// <summary>The key's slot in <paramref name="partition"/>, allocating a fresh one for a new key.</summary>
    public int SlotFor(PartitionState partition, ReadOnlySpan<byte> utf8Key)
    {
        // Looked up by the key's bytes: no transcoding and no string per event; only a new key allocates.
        var slot = _table.Find(partition, utf8Key);
        if (slot >= 0)
        {
            // Recency matters only to hibernation: without a resident cap the list is never read, so not kept in order.
            if (_maxResident > 0) Touch(slot);
            if (_ttlMs >= 0) ResetIfExpired(slot, partition);
            return slot;
        }

        var key = KeyName(partition, utf8Key);
        // Hibernation: at the cap, idle keys whose state is already durable make room first.
        if (_maxResident > 0 && Slab.Count >= _maxResident) Hibernate();
        slot = Slab.Allocate();
        if (slot >= _slotStamp.Length) GrowSlotArrays();
        // A key not in memory may be stored: restored from there (a restart, a moved partition, a hibernated key).
        if (!TryRestore(partition, utf8Key, slot))
        {
            Features.Reset(slot);
            _scoring.Reset(slot);
        }
        else if (_ttlMs >= 0)
        {
            ResetIfExpired(slot, partition);
        }

        _slotKeys[slot] = key;
        _slotPartition[slot] = partition;
        partition.KeySlots[key] = slot;
        _table.Add(partition, utf8Key, slot);
        LinkTail(slot);
        _assigned.Add(partition);
        return slot;
    }

    /// <summary>The key table (for the worker's prefetch hints).</summary>
    public KeySlotTable Table => _table;

    /// <summary>Hint: starts loading what handling an event of <paramref name="slot"/> reads (batch stamp, deferred count, feature state).</summary>
    public unsafe void PrefetchSlot(int slot)
    {
        if (!Sse.IsSupported || (uint)slot >= (uint)_slotStamp.Length) return;
        fixed (int* stamp = &_slotStamp[slot]) Sse.Prefetch0(stamp);
        fixed (int* deferred = &_deferredCount[slot]) Sse.Prefetch0(deferred);
        Features.Prefetch(slot);
    }

    /// <summary>Hint: starts loading what filling a stepped row of <paramref name="slot"/> reads (its key reference, feature state).</summary>
    private unsafe void PrefetchRow(int slot)
    {
        if (!Sse.IsSupported) return;
        // A reference's slot: the address is only a hint (not pinned).
        Sse.Prefetch0(Unsafe.AsPointer(ref _slotKeys[slot]));
        Features.Prefetch(slot);
    }

    /// <summary>The slot holding <paramref name="key"/> (-1 when absent); a scan, for tests and diagnostics.</summary>
    public int FindSlot(string key) => Array.IndexOf(_slotKeys, key);

    /// <summary>Forgets every key of <paramref name="partition"/>.</summary>
    public void Release(PartitionState partition)
    {
        foreach (var slot in partition.KeySlots.Values)
        {
            Unlink(slot);
            _table.Remove(slot);
            Slab.Free(slot);
            _slotKeys[slot] = null;
            _slotPartition[slot] = null;
        }

        partition.KeySlots.Clear();
        ForgetPartitionModel(partition);
        _hibernatedNames.Remove(partition);
        _newest.Remove(partition);
        _sweptAt.Remove(partition);
    }

    /// <summary>True when the batch being filled is full.</summary>
    public bool IsFull => Pending == _maxBatch;

    /// <summary>
    /// True when an event of <paramref name="slot"/> cannot join the batch being filled: the key already has a row in it,
    /// or earlier events of the key wait deferred (they must be stepped first). Such an event is <see cref="Defer"/>red.
    /// </summary>
    public bool MustDefer(int slot) => _slotStamp[slot] == _stamp || _deferredCount[slot] > 0;

    /// <summary>The time of the key's last accepted event, deferred ones included (an older event is late).</summary>
    public long LastTimestamp(int slot) => _deferredCount[slot] > 0 ? _deferredTs[slot] : Features.LastTimestamp(slot);

    /// <summary>True when the deferred queue is full: the batch must be flushed before more events are read.</summary>
    public bool DeferredFull => _deferred == _maxBatch;

    /// <summary>Events deferred to the next batch.</summary>
    public int Deferred => _deferred;

    /// <summary>Adds an event (raw values already decoded into <see cref="Raw"/>) to the micro-batch.</summary>
    public void Add(int slot, long timestampMs, PartitionState partition, long offset, long receivedTicks)
    {
        partition.PendingRows++;
        NoteEventTime(partition, timestampMs);
        AddRow(slot, _raw, timestampMs, partition, offset, receivedTicks);
    }

    /// <summary>
    /// Keeps an event (raw values in <see cref="Raw"/>) of a key that already has a row in the batch for the next batch,
    /// so a hot key does not cut the batch short. Its features are computed when it joins a batch, as they would be had
    /// the batch been flushed first, so results are the same bits.
    /// </summary>
    public void Defer(int slot, long timestampMs, PartitionState partition, long offset, long receivedTicks)
    {
        var d = _deferred++;
        _raw.AsSpan().CopyTo(_dRaw.AsSpan(d * _raw.Length, _raw.Length));
        _dSlots[d] = slot;
        _dTs[d] = timestampMs;
        _dPartitions[d] = partition;
        _dOffsets[d] = offset;
        _dTicks[d] = receivedTicks;
        _deferredCount[slot]++;
        _deferredTs[slot] = timestampMs;
        partition.PendingRows++;
        NoteEventTime(partition, timestampMs); // on arrival, like Add: the TTL's clock must not depend on batch boundaries
    }

    private void AddRow(int slot, ReadOnlySpan<double> raw, long timestampMs, PartitionState partition, long offset, long receivedTicks)
    {
        var r = Pending++;
        // A batch is stepped by one model: the first row decides (the worker flushes before a row of another model).
        if (r == 0) _batchModel = _parts.Count == 0 ? _main : ModelOf(partition);
        _slotStamp[slot] = _stamp;
        _slots[r] = slot;
        Batch.Observed[r] = Features.Extract(slot, raw, timestampMs, _x.AsSpan(r * _inputs, _inputs));
        Batch.TimestampsMs[r] = timestampMs;
        Batch.Partitions[r] = partition.Partition;
        Batch.Offsets[r] = offset;
        Batch.ReceivedTicks[r] = receivedTicks;
        _rowPartitions[r] = partition;
    }

    /// <summary>
    /// Steps every pending row, fills <see cref="Batch"/> and hands it to the outputs; then publishes offsets and moves
    /// deferred events into the fresh batch (so <see cref="Pending"/> may be non-zero afterwards, never more than before).
    /// </summary>
    public async ValueTask FlushAsync(IReadOnlyList<IForecastOutput> outputs, WorkerMetrics metrics, CancellationToken ct)
    {
        var n = Pending;
        if (n == 0) return;
        var stepStart = Stopwatch.GetTimestamp();
        BeforeStep(n);
        StepAndFill(n);
        AfterStep(n);
        metrics.StepLatency.Record(stepStart, Stopwatch.GetTimestamp());
        for (var i = 0; i < outputs.Count; i++)
        {
            await outputs[i].WriteAsync(Batch, ct).ConfigureAwait(false);
        }

        var now = Stopwatch.GetTimestamp();
        var kindLatency = metrics.KindLatency[(int)Kind];
        for (var r = 0; r < n; r++)
        {
            metrics.Latency.Record(Batch.ReceivedTicks[r], now);
            kindLatency.Record(Batch.ReceivedTicks[r], now);
            _rowPartitions[r].PendingRows--;
        }

        for (var r = 0; r < n; r++)
        {
            var ps = _rowPartitions[r];
            // All this partition read is handed over once none of its rows waits (deferred rows are marked below).
            if (ps.PendingRows == 0) ps.MarkCommittable(ps.ReadOffset);
            _rowPartitions[r] = null!;
        }

        metrics.Forecasts += n;
        metrics.Batches++;
        Pending = 0;
        _stamp++;
        if (_deferred > 0) TakeDeferred();
    }

    /// <summary>Moves deferred events, in order, into the fresh batch; a key's second deferred event waits again.</summary>
    private void TakeDeferred()
    {
        // A partition with deferred rows has handed over everything before its first deferred row.
        _marked.Clear();
        for (var d = 0; d < _deferred; d++)
        {
            var ps = _dPartitions[d];
            if (_marked.Contains(ps)) continue;
            _marked.Add(ps);
            ps.MarkCommittable(_dOffsets[d]);
        }

        var kept = 0;
        var width = _raw.Length;
        for (var d = 0; d < _deferred; d++)
        {
            var slot = _dSlots[d];
            if (_slotStamp[slot] == _stamp)
            {
                // Keep it (compacting in order) for the batch after.
                if (kept != d)
                {
                    _dRaw.AsSpan(d * width, width).CopyTo(_dRaw.AsSpan(kept * width, width));
                    _dSlots[kept] = slot;
                    _dTs[kept] = _dTs[d];
                    _dPartitions[kept] = _dPartitions[d];
                    _dOffsets[kept] = _dOffsets[d];
                    _dTicks[kept] = _dTicks[d];
                }

                kept++;
                continue;
            }

            _deferredCount[slot]--;
            AddRow(slot, _dRaw.AsSpan(d * width, width), _dTs[d], _dPartitions[d], _dOffsets[d], _dTicks[d]);
        }

        for (var d = kept; d < _deferred; d++) _dPartitions[d] = null!;
        _deferred = kept;
    }

    private void StepAndFill(int n)
    {
        var model = _batchModel ?? _main;
        Batch.ModelVersion = model.Version;
        model.Stepper.Step(Slab, _slots.AsSpan(0, n), _x.AsSpan(0, n * _inputs), _mu.AsSpan(0, n * _horizons), _logSigma.AsSpan(0, n * _horizons));
        var k = _horizons;
        // The rows' slots are scattered: start loading a later row's feature state and key while this row is denormalised.
        const int ahead = 8;
        for (var r = 0; r < Math.Min(ahead, n); r++) PrefetchRow(_slots[r]);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(n, Batch.Keys.Length);
        ref var keys = ref MemoryMarshal.GetArrayDataReference(Batch.Keys);
        for (var r = 0; r < n; r++)
        {
            var slot = _slots[r];
            if (r + ahead < n) PrefetchRow(_slots[r + ahead]);
            // A store through a ref, not the indexer: the indexer's type check would read the key string's header (a miss).
            Unsafe.Add(ref keys, r) = _slotKeys[slot]!;
            Features.Denormalise(slot, _mu.AsSpan(r * k, k), _logSigma.AsSpan(r * k, k), Batch.Mu.AsSpan(r * k, k), Batch.Sigma.AsSpan(r * k, k));
        }

        ScoreRows(n);
        Batch.Count = n;
    }
}
