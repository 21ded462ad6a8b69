using System.Buffers.Binary;
using System.Globalization;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Sink.Anomaly;

/// <summary>
/// The anomaly scoring and alert state of many keys of one source kind, struct-of-arrays by slot (the pipeline uses the
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
    private bool[] _hasPrevious = [];
    private int[] _scored = [];
    private long[] _previousTs = [];
    private double[] _previousMu = [];
    private double[] _previousSigma = [];
    private byte[] _phase = [];
    private long[] _startMs = [];
    private long[] _cooldownUntil = [];
    private double[] _peak = [];
    private byte[] _severity = [];
    private double[] _violatedObserved = [];
    private double[] _violatedMu = [];
    private double[] _violatedSigma = [];
    private long[] _violatedMadeAt = [];
    private double[] _ring = [];
    private int[] _ringNext = [];
    private int[] _ringFilled = [];
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
    public int Capacity => _scored.Length;

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
        Array.Resize(ref _hasPrevious, cap);
        Array.Resize(ref _scored, cap);
        Array.Resize(ref _previousTs, cap);
        Array.Resize(ref _previousMu, cap);
        Array.Resize(ref _previousSigma, cap);
        Array.Resize(ref _phase, cap);
        Array.Resize(ref _startMs, cap);
        Array.Resize(ref _cooldownUntil, cap);
        Array.Resize(ref _peak, cap);
        Array.Resize(ref _severity, cap);
        Array.Resize(ref _violatedObserved, cap);
        Array.Resize(ref _violatedMu, cap);
        Array.Resize(ref _violatedSigma, cap);
        Array.Resize(ref _violatedMadeAt, cap);
        Array.Resize(ref _ring, cap * _window);
        Array.Resize(ref _ringNext, cap);
        Array.Resize(ref _ringFilled, cap);
        for (var s = old; s < cap; s++) Reset(s);
    }

    /// <summary>Makes <paramref name="slot"/> a fresh key (no previous forecast, idle, warm-up from zero).</summary>
    /// <param name="slot">Slot.</param>
    public void Reset(int slot)
    {
        _hasPrevious[slot] = false;
        _scored[slot] = 0;
        _previousTs[slot] = long.MinValue;
        _previousMu[slot] = _previousSigma[slot] = 0;
        _phase[slot] = (byte)Phase.Idle;
        _startMs[slot] = 0;
        _cooldownUntil[slot] = long.MinValue;
        _peak[slot] = 0;
        _severity[slot] = 0;
        _violatedObserved[slot] = _violatedMu[slot] = _violatedSigma[slot] = 0;
        _violatedMadeAt[slot] = 0;
        _ring.AsSpan(slot * _window, _window).Clear();
        _ringNext[slot] = _ringFilled[slot] = 0;
    }

    /// <summary>Event time of the key's last row; null for a key with no row yet.</summary>
    /// <param name="slot">Slot.</param>
    /// <returns>Unix ms, or null.</returns>
    public long? LastEventMs(int slot) => _hasPrevious[slot] ? _previousTs[slot] : null;

    /// <summary>Event time of the key's last row, read from exported state; null when unknown (empty, another format, no row yet).</summary>
    /// <param name="state">Exported bytes.</param>
    /// <returns>Unix ms, or null.</returns>
    public static long? LastEventMs(ReadOnlySpan<byte> state) =>
        state.Length >= FixedBytes && state[0] == FormatVersion && state[1] != 0 ? BinaryPrimitives.ReadInt64LittleEndian(state[14..]) : null;

    /// <summary>Whether the key in <paramref name="slot"/> has an open alert.</summary>
    /// <param name="slot">Slot.</param>
    /// <returns>True when open.</returns>
    public bool IsOpen(int slot) => _phase[slot] == (byte)Phase.Open;

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
    /// <returns>The row's score.</returns>
    public RowScore Score(int slot, string key, long timestampMs, double observed, double mu, double sigma, string model, List<AlertEvent> alerts)
    {
        var score = default(RowScore);
        var ts = timestampMs;
        if (_hasPrevious[slot] && ts > _previousTs[slot])
        {
            var scaled = _previousSigma[slot] * _cal.SigmaScale;
            var z = (observed - _previousMu[slot]) / scaled;
            if (scaled > 0 && double.IsFinite(scaled) && double.IsFinite(observed) && double.IsFinite(z))
            {
                var logP = GaussianTail.LogTwoSidedP(z);
                var surprise = Math.Min(GaussianTail.Surprise(logP), 300.0);
                var smoothed = Push(slot, surprise);
                var p = Math.Exp(logP);
                score = new RowScore { HasScore = true, Nll = GaussianTail.Nll(observed, _previousMu[slot], scaled), TailP = p, Score = smoothed, PAnomaly = 1.0 - p };
                if (++_scored[slot] > _options.WarmupEvents)
                {
                    Step(slot, key, ts, smoothed, observed, scaled, model, alerts);
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

        if (ts > _previousTs[slot] || !_hasPrevious[slot])
        {
            _hasPrevious[slot] = true;
            _previousTs[slot] = ts;
            _previousMu[slot] = mu;
            _previousSigma[slot] = sigma;
        }

        return score;
    }

    /// <summary>Writes <paramref name="slot"/>'s state (<see cref="StateBytes"/> bytes, little-endian, format first).</summary>
    /// <param name="slot">Slot.</param>
    /// <param name="destination">At least <see cref="StateBytes"/> bytes.</param>
    public void Export(int slot, Span<byte> destination)
    {
        destination[0] = FormatVersion;
        destination[1] = _hasPrevious[slot] ? (byte)1 : (byte)0;
        destination[2] = _phase[slot];
        destination[3] = _severity[slot];
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], (ushort)_window);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], (ushort)_ringFilled[slot]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], (ushort)_ringNext[slot]);
        BinaryPrimitives.WriteInt32LittleEndian(destination[10..], _scored[slot]);
        var d = destination[14..];
        BinaryPrimitives.WriteInt64LittleEndian(d, _previousTs[slot]);
        BinaryPrimitives.WriteDoubleLittleEndian(d[8..], _previousMu[slot]);
        BinaryPrimitives.WriteDoubleLittleEndian(d[16..], _previousSigma[slot]);
        BinaryPrimitives.WriteInt64LittleEndian(d[24..], _startMs[slot]);
        BinaryPrimitives.WriteInt64LittleEndian(d[32..], _cooldownUntil[slot]);
        BinaryPrimitives.WriteDoubleLittleEndian(d[40..], _peak[slot]);
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

        _hasPrevious[slot] = source[1] != 0;
        _phase[slot] = source[2];
        _severity[slot] = source[3];
        _ringFilled[slot] = filled;
        _ringNext[slot] = next;
        _scored[slot] = BinaryPrimitives.ReadInt32LittleEndian(source[10..]);
        var d = source[14..];
        _previousTs[slot] = BinaryPrimitives.ReadInt64LittleEndian(d);
        _previousMu[slot] = BinaryPrimitives.ReadDoubleLittleEndian(d[8..]);
        _previousSigma[slot] = BinaryPrimitives.ReadDoubleLittleEndian(d[16..]);
        _startMs[slot] = BinaryPrimitives.ReadInt64LittleEndian(d[24..]);
        _cooldownUntil[slot] = BinaryPrimitives.ReadInt64LittleEndian(d[32..]);
        _peak[slot] = BinaryPrimitives.ReadDoubleLittleEndian(d[40..]);
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
    private double Push(int slot, double surprise)
    {
        var w = _window;
        var ring = _ring.AsSpan(slot * w, w);
        var next = _ringNext[slot];
        ring[next] = surprise;
        next = (next + 1) % w;
        _ringNext[slot] = next;
        var filled = _ringFilled[slot];
        if (filled < w) _ringFilled[slot] = ++filled;
        var sum = 0.0;
        var start = (next - filled + w) % w;
        for (var i = 0; i < filled; i++)
        {
            sum += ring[(start + i) % w];
        }

        return sum / filled;
    }

    private void Step(int s, string key, long t, double score, double observed, double sigma, string model, List<AlertEvent> alerts)
    {
        switch ((Phase)_phase[s])
        {
            case Phase.Idle:
                if (t >= _cooldownUntil[s] && score >= _cal.EnterThreshold)
                {
                    _phase[s] = (byte)Phase.Pending;
                    _startMs[s] = t;
                    _peak[s] = double.NegativeInfinity;
                }

                break;
            case Phase.Pending:
                if (score < _cal.EnterThreshold)
                {
                    _phase[s] = (byte)Phase.Idle;
                }

                break;
        }

        var phase = (Phase)_phase[s];
        if (phase is Phase.Pending or Phase.Open && score > _peak[s])
        {
            _peak[s] = score;
            _violatedObserved[s] = observed;
            _violatedMu[s] = _previousMu[s];
            _violatedSigma[s] = sigma;
            _violatedMadeAt[s] = _previousTs[s];
        }

        if (phase == Phase.Pending && t - _startMs[s] >= _minMs)
        {
            _phase[s] = (byte)Phase.Open;
            _severity[s] = (byte)SeverityOf(_peak[s]);
            alerts.Add(Event(s, key, AlertEventKind.Raised, t, score, model));
            return;
        }

        if (phase != Phase.Open)
        {
            return;
        }

        if (score < _cal.ExitThreshold)
        {
            _phase[s] = (byte)Phase.Idle;
            _cooldownUntil[s] = t + _cooldownMs;
            alerts.Add(Event(s, key, AlertEventKind.Resolved, t, score, model));
            return;
        }

        var severity = SeverityOf(_peak[s]);
        if (severity > (AlertSeverity)_severity[s])
        {
            _severity[s] = (byte)severity;
            alerts.Add(Event(s, key, AlertEventKind.Updated, t, score, model));
        }
    }

    private AlertSeverity SeverityOf(double peak) => peak >= _cal.CriticalThreshold ? AlertSeverity.Critical : AlertSeverity.Warning;

    private AlertEvent Event(int s, string key, AlertEventKind kind, long t, double score, string model) => new()
    {
        AlertId = string.Create(CultureInfo.InvariantCulture, $"{_source.ToWireName()}/{key}/{_startMs[s]}"),
        Kind = kind,
        Severity = (AlertSeverity)_severity[s],
        Source = _source,
        Key = key,
        Model = model,
        StartMs = _startMs[s],
        EventMs = t,
        PeakScore = _peak[s],
        Score = score,
        Observed = _violatedObserved[s],
        ForecastMu = _violatedMu[s],
        ForecastSigma = _violatedSigma[s],
        ForecastMadeAtMs = _violatedMadeAt[s],
        EmittedAt = _time.GetUtcNow(),
    };

    private enum Phase : byte
    {
        Idle,
        Pending,
        Open,
    }
}
