using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.Intrinsics.X86;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Sink.Anomaly;

/// <summary>
/// The anomaly scoring and alert state of many keys of one source kind, by slot (a row's fields in one struct per slot, the
/// smoothing window and alert evidence in arrays beside it; the pipeline uses the
/// key's state-slab slot), so scoring a row allocates nothing; only an alert event (rare) allocates.
/// Row r of a key is scored against the horizon-1 forecast of that key's previous row (the forecast made one step
/// earlier). The smoothed score drives a state machine
/// Idle → Pending (score ≥ enter) → Open (still ≥ enter after MinDuration of event time; Raised) → Idle (score &lt; exit; Resolved),
/// then a cooldown in event time before the next raise; at most one open alert per key. All durations use event time, so
/// replays give identical alerts; the injected <see cref="TimeProvider"/> only stamps <see cref="AlertEvent.EmittedAt"/>.
/// A slot's state exports to a versioned binary form (<see cref="Export"/>, <see cref="TryImport"/>) so a restart or a
/// hibernated key resumes scoring exactly. Not thread-safe: one owner (a pipeline worker) per instance.
/// </summary>
public sealed class ScoringSlab
{
    /// <summary>The export format this code writes.</summary>
    public const byte FormatVersion = 1;

    // u8 format, u8 flags, u8 phase, u8 severity, u16 window, u16 filled, u16 next, i32 scored, then 10 × 8-byte fields.
    private const int FixedBytes = 14 + (10 * 8);

    private readonly SourceKind _source;
    private readonly AnomalyOptions _options;
    private readonly SourceCalibration _cal;
    private readonly TimeProvider _time;
    private readonly int _window;
    private readonly long _minMs;
    private readonly long _cooldownMs;
    // A row reads and writes its key's hot fields in one 64-byte struct (two cache lines at most), not twelve arrays (twelve
    // misses at 100 K keys); the fields only an open or pending alert needs stay apart.
    private Hot[] _hot = [];
    private double[] _violatedObserved = [];
    private double[] _violatedMu = [];
    private double[] _violatedSigma = [];
    private long[] _violatedMadeAt = [];
    private double[] _ring = [];
    private long _nonFinite;

    /// <summary>Creates the state for <paramref name="capacity"/> slots (it grows with <see cref="EnsureCapacity"/>).</summary>
    /// <param name="source">Source kind of every key.</param>
    /// <param name="options">Validated options.</param>
    /// <param name="time">Clock for <see cref="AlertEvent.EmittedAt"/>.</param>
    /// <param name="capacity">Initial slots.</param>
    public ScoringSlab(SourceKind source, AnomalyOptions options, TimeProvider time, int capacity = 0)
    {
        _source = source;
        _options = options;
        _cal = options.For(source.ToWireName());
        _time = time;
        _window = options.Window;
        _minMs = (long)_cal.MinDuration.TotalMilliseconds;
        _cooldownMs = (long)_cal.Cooldown.TotalMilliseconds;
        EnsureCapacity(capacity);
    }

    /// <summary>Slots held.</summary>
    public int Capacity => _hot.Length;

    /// <summary>Bytes of one slot's exported state.</summary>
    public int StateBytes => FixedBytes + (_window * sizeof(double));

    /// <summary>Rows not scored because the forecast (μ, σ) or the observed value was NaN or infinite, or σ not positive.</summary>
    public long NonFiniteRows => _nonFinite;

    /// <summary>Grows to at least <paramref name="slots"/> slots (new slots are fresh).</summary>
    /// <param name="slots">Slots needed.</param>
    public void EnsureCapacity(int slots)
    {
        var old = Capacity;
        if (slots <= old) return;
        var cap = Math.Max(slots, old * 2);
        Array.Resize(ref _hot, cap);
        Array.Resize(ref _violatedObserved, cap);
        Array.Resize(ref _violatedMu, cap);
        Array.Resize(ref _violatedSigma, cap);
        Array.Resize(ref _violatedMadeAt, cap);
        Array.Resize(ref _ring, cap * _window);
        for (var s = old; s < cap; s++) Reset(s);
    }

    /// <summary>Makes <paramref name="slot"/> a fresh key (no previous forecast, idle, warm-up from zero).</summary>
    /// <param name="slot">Slot.</param>
    public void Reset(int slot)
    {
        _hot[slot] = new Hot { PreviousTs = long.MinValue, CooldownUntil = long.MinValue, Phase = (byte)Phase.Idle };
        _violatedObserved[slot] = _violatedMu[slot] = _violatedSigma[slot] = 0;
        _violatedMadeAt[slot] = 0;
        _ring.AsSpan(slot * _window, _window).Clear();
    }

    /// <summary>Event time of the key's last row; null for a key with no row yet.</summary>
    /// <param name="slot">Slot.</param>
    /// <returns>Unix ms, or null.</returns>
    public long? LastEventMs(int slot) => _hot[slot].HasPrevious ? _hot[slot].PreviousTs : null;

    /// <summary>Event time of the key's last row, read from exported state; null when unknown (empty, another format, no row yet).</summary>
    /// <param name="state">Exported bytes.</param>
    /// <returns>Unix ms, or null.</returns>
    public static long? LastEventMs(ReadOnlySpan<byte> state) =>
        state.Length >= FixedBytes && state[0] == FormatVersion && state[1] != 0 ? BinaryPrimitives.ReadInt64LittleEndian(state[14..]) : null;

    /// <summary>Whether the key in <paramref name="slot"/> has an open alert.</summary>
    /// <param name="slot">Slot.</param>
    /// <returns>True when open.</returns>
    public bool IsOpen(int slot) => _hot[slot].Phase == (byte)Phase.Open;

    /// <summary>
    /// Scores one row of the key in <paramref name="slot"/> against its previous horizon-1 forecast, advances its alert
    /// state, then keeps this row's horizon-1 forecast for the key's next row. Late or duplicate rows (event time not after
    /// the previous row's) are neither scored nor kept.
    /// </summary>
    /// <param name="slot">The key's slot.</param>
    /// <param name="key">The key (only read when an alert event is made).</param>
    /// <param name="timestampMs">The row's event time.</param>
    /// <param name="observed">The row's observed value.</param>
    /// <param name="mu">The row's horizon-1 forecast mean.</param>
    /// <param name="sigma">The row's horizon-1 forecast standard deviation.</param>
    /// <param name="model">Model version (for alert events).</param>
    /// <param name="alerts">Receives alert events.</param>
    /// <param name="featureSurprise">Surprise of the row's watched input features (<see cref="SourceCalibration.WatchFeatures"/>);
    /// the smoothed score takes the larger of it and the forecast's surprise. 0 (none) leaves the score the forecast's.</param>
    /// <returns>The row's score.</returns>
    public RowScore Score(int slot, string key, long timestampMs, double observed, double mu, double sigma, string model, List<AlertEvent> alerts, double featureSurprise = 0)
    {
        var score = default(RowScore);
        var ts = timestampMs;
        ref var h = ref _hot[slot];
        if (h.HasPrevious && ts > h.PreviousTs)
        {
            var scaled = h.PreviousSigma * _cal.SigmaScale;
            var z = (observed - h.PreviousMu) / scaled;
            if (scaled > 0 && double.IsFinite(scaled) && double.IsFinite(observed) && double.IsFinite(z))
            {
                var logP = GaussianTail.LogTwoSidedP(z);
                var surprise = Math.Min(Math.Max(GaussianTail.Surprise(logP), featureSurprise), 300.0);
                var smoothed = Push(ref h, slot, surprise);
                var p = Math.Exp(logP);
                score = new RowScore { HasScore = true, Nll = GaussianTail.Nll(observed, h.PreviousMu, scaled), TailP = p, Score = smoothed, PAnomaly = 1.0 - p };
                if (++h.Scored > _options.WarmupEvents)
                {
                    Step(ref h, slot, key, ts, smoothed, observed, scaled, model, alerts);
                }
            }
            else
            {
                // A NaN/infinite forecast or observation gives no score: it must not enter the smoothing window (it would
                // poison the next Window scores) nor drive the state machine (NaN compares false, so an alert could open
                // and never resolve). The row is written unscored and counted.
                _nonFinite++;
            }
        }

        if (ts > h.PreviousTs || !h.HasPrevious)
        {
            h.HasPrevious = true;
            h.PreviousTs = ts;
            h.PreviousMu = mu;
            h.PreviousSigma = sigma;
        }

        return score;
    }

    /// <summary>
    /// Asks the CPU to start loading <paramref name="slot"/>'s state (a hint only: nothing is read or changed), so scoring
    /// a batch's rows in turn does not wait on one cache miss after another.
    /// </summary>
    /// <param name="slot">A slot below <see cref="Capacity"/>.</param>
    public unsafe void Prefetch(int slot)
    {
        if (!Sse.IsSupported) return;
        fixed (Hot* hot = &_hot[slot])
        {
            Sse.Prefetch0(hot);
            Sse.Prefetch0((byte*)hot + sizeof(Hot) - 1);
        }

        fixed (double* ring = &_ring[slot * _window])
        {
            Sse.Prefetch0(ring);
        }
    }

    /// <summary>Writes <paramref name="slot"/>'s state (<see cref="StateBytes"/> bytes, little-endian, format first).</summary>
    /// <param name="slot">Slot.</param>
    /// <param name="destination">At least <see cref="StateBytes"/> bytes.</param>
    public void Export(int slot, Span<byte> destination)
    {
        ref readonly var h = ref _hot[slot];
        destination[0] = FormatVersion;
        destination[1] = h.HasPrevious ? (byte)1 : (byte)0;
        destination[2] = h.Phase;
        destination[3] = h.Severity;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], (ushort)_window);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], h.RingFilled);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], h.RingNext);
        BinaryPrimitives.WriteInt32LittleEndian(destination[10..], h.Scored);
        var d = destination[14..];
        BinaryPrimitives.WriteInt64LittleEndian(d, h.PreviousTs);
        BinaryPrimitives.WriteDoubleLittleEndian(d[8..], h.PreviousMu);
        BinaryPrimitives.WriteDoubleLittleEndian(d[16..], h.PreviousSigma);
        BinaryPrimitives.WriteInt64LittleEndian(d[24..], h.StartMs);
        BinaryPrimitives.WriteInt64LittleEndian(d[32..], h.CooldownUntil);
        BinaryPrimitives.WriteDoubleLittleEndian(d[40..], h.Peak);
        BinaryPrimitives.WriteDoubleLittleEndian(d[48..], _violatedObserved[slot]);
        BinaryPrimitives.WriteDoubleLittleEndian(d[56..], _violatedMu[slot]);
        BinaryPrimitives.WriteDoubleLittleEndian(d[64..], _violatedSigma[slot]);
        BinaryPrimitives.WriteInt64LittleEndian(d[72..], _violatedMadeAt[slot]);
        d = d[80..];
        for (var i = 0; i < _window; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(d[(i * 8)..], _ring[(slot * _window) + i]);
        }
    }

    /// <summary>
    /// Loads <paramref name="slot"/>'s state from <see cref="Export"/>'s bytes. False, with the slot reset to a fresh key,
    /// when the bytes are empty (a record written before scoring state was stored), of an unknown format, or made with
    /// another smoothing window (its ring would not mean the same).
    /// </summary>
    /// <param name="slot">Slot.</param>
    /// <param name="source">Exported bytes.</param>
    /// <returns>True when the state was loaded.</returns>
    public bool TryImport(int slot, ReadOnlySpan<byte> source)
    {
        if (source.Length != StateBytes || source[0] != FormatVersion || BinaryPrimitives.ReadUInt16LittleEndian(source[4..]) != _window
            || source[2] > (byte)Phase.Open || source[3] > (byte)AlertSeverity.Critical)
        {
            Reset(slot);
            return false;
        }

        var filled = BinaryPrimitives.ReadUInt16LittleEndian(source[6..]);
        var next = BinaryPrimitives.ReadUInt16LittleEndian(source[8..]);
        if (filled > _window || next >= _window)
        {
            Reset(slot);
            return false;
        }

        var d = source[14..];
        _hot[slot] = new Hot
        {
            HasPrevious = source[1] != 0,
            Phase = source[2],
            Severity = source[3],
            RingFilled = filled,
            RingNext = next,
            Scored = BinaryPrimitives.ReadInt32LittleEndian(source[10..]),
            PreviousTs = BinaryPrimitives.ReadInt64LittleEndian(d),
            PreviousMu = BinaryPrimitives.ReadDoubleLittleEndian(d[8..]),
            PreviousSigma = BinaryPrimitives.ReadDoubleLittleEndian(d[16..]),
            StartMs = BinaryPrimitives.ReadInt64LittleEndian(d[24..]),
            CooldownUntil = BinaryPrimitives.ReadInt64LittleEndian(d[32..]),
            Peak = BinaryPrimitives.ReadDoubleLittleEndian(d[40..]),
        };
        _violatedObserved[slot] = BinaryPrimitives.ReadDoubleLittleEndian(d[48..]);
        _violatedMu[slot] = BinaryPrimitives.ReadDoubleLittleEndian(d[56..]);
        _violatedSigma[slot] = BinaryPrimitives.ReadDoubleLittleEndian(d[64..]);
        _violatedMadeAt[slot] = BinaryPrimitives.ReadInt64LittleEndian(d[72..]);
        d = d[80..];
        for (var i = 0; i < _window; i++)
        {
            _ring[(slot * _window) + i] = BinaryPrimitives.ReadDoubleLittleEndian(d[(i * 8)..]);
        }

        return true;
    }

    /// <summary>Adds a surprise and returns the window mean (summed oldest-first, so the result is reproducible).</summary>
    private double Push(ref Hot h, int slot, double surprise)
    {
        var w = _window;
        var ring = _ring.AsSpan(slot * w, w);
        int next = h.RingNext;
        ring[next] = surprise;
        next = next + 1 == w ? 0 : next + 1;
        h.RingNext = (ushort)next;
        int filled = h.RingFilled;
        if (filled < w) h.RingFilled = (ushort)++filled;
        // Oldest-first in two runs (start..end of the ring, then from its head) instead of an index modulo w per value:
        // the same additions in the same order, so the same bits.
        var start = next - filled;
        if (start < 0) start += w;
        var sum = 0.0;
        var first = Math.Min(filled, w - start);
        for (var i = 0; i < first; i++) sum += ring[start + i];
        for (var i = 0; i < filled - first; i++) sum += ring[i];
        return sum / filled;
    }

    private void Step(ref Hot h, int s, string key, long t, double score, double observed, double sigma, string model, List<AlertEvent> alerts)
    {
        switch ((Phase)h.Phase)
        {
            case Phase.Idle:
                if (t >= h.CooldownUntil && score >= _cal.EnterThreshold)
                {
                    h.Phase = (byte)Phase.Pending;
                    h.StartMs = t;
                    h.Peak = double.NegativeInfinity;
                }

                break;
            case Phase.Pending:
                if (score < _cal.EnterThreshold)
                {
                    h.Phase = (byte)Phase.Idle;
                }

                break;
        }

        var phase = (Phase)h.Phase;
        if (phase is Phase.Pending or Phase.Open && score > h.Peak)
        {
            h.Peak = score;
            _violatedObserved[s] = observed;
            _violatedMu[s] = h.PreviousMu;
            _violatedSigma[s] = sigma;
            _violatedMadeAt[s] = h.PreviousTs;
        }

        if (phase == Phase.Pending && t - h.StartMs >= _minMs)
        {
            h.Phase = (byte)Phase.Open;
            h.Severity = (byte)SeverityOf(h.Peak);
            alerts.Add(Event(s, key, AlertEventKind.Raised, t, score, model));
            return;
        }

        if (phase != Phase.Open)
        {
            return;
        }

        if (score < _cal.ExitThreshold)
        {
            h.Phase = (byte)Phase.Idle;
            h.CooldownUntil = t + _cooldownMs;
            alerts.Add(Event(s, key, AlertEventKind.Resolved, t, score, model));
            return;
        }

        var severity = SeverityOf(h.Peak);
        if (severity > (AlertSeverity)h.Severity)
        {
            h.Severity = (byte)severity;
            alerts.Add(Event(s, key, AlertEventKind.Updated, t, score, model));
        }
    }

    private AlertSeverity SeverityOf(double peak) => peak >= _cal.CriticalThreshold ? AlertSeverity.Critical : AlertSeverity.Warning;

    private AlertEvent Event(int s, string key, AlertEventKind kind, long t, double score, string model) => new()
    {
        AlertId = string.Create(CultureInfo.InvariantCulture, $"{_source.ToWireName()}/{key}/{_hot[s].StartMs}"),
        Kind = kind,
        Severity = (AlertSeverity)_hot[s].Severity,
        Source = _source,
        Key = key,
        Model = model,
        StartMs = _hot[s].StartMs,
        EventMs = t,
        PeakScore = _hot[s].Peak,
        Score = score,
        Observed = _violatedObserved[s],
        ForecastMu = _violatedMu[s],
        ForecastSigma = _violatedSigma[s],
        ForecastMadeAtMs = _violatedMadeAt[s],
        EmittedAt = _time.GetUtcNow(),
    };

    /// <summary>A slot's fields that scoring a row reads or writes (64 bytes).</summary>
    private struct Hot
    {
        public long PreviousTs;
        public double PreviousMu;
        public double PreviousSigma;
        public long CooldownUntil;
        public long StartMs;
        public double Peak;
        public int Scored;
        public ushort RingNext;
        public ushort RingFilled;
        public bool HasPrevious;
        public byte Phase;
        public byte Severity;
    }

    private enum Phase : byte
    {
        Idle,
        Pending,
        Open,
    }
}
