using System.Collections.Concurrent;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;

namespace StreamLstm.Sink.Anomaly;

/// <summary>Scores of one row. <see cref="HasScore"/> is false for a key's first row (no earlier forecast) or a non-positive sigma.</summary>
public struct RowScore
{
    /// <summary>Whether the other fields are set.</summary>
    public bool HasScore;

    /// <summary>Negative log-likelihood (nats) of the observed value under the previous row's horizon-1 forecast.</summary>
    public double Nll;

    /// <summary>Two-sided tail probability of the observed value.</summary>
    public double TailP;

    /// <summary>Smoothed surprise (<c>-log10</c> tail p, averaged over the window).</summary>
    public double Score;

    /// <summary><c>1 - TailP</c>.</summary>
    public double PAnomaly;
}

/// <summary>
/// Per-key anomaly scoring and alert state machine. Row r of a key is scored against the horizon-1 forecast of that key's
/// previous row (the forecast made one step earlier). The smoothed score drives a state machine
/// Idle → Pending (score ≥ enter) → Open (still ≥ enter after MinDuration of event time; Raised) → Idle (score &lt; exit; Resolved),
/// then a cooldown in event time before the next raise; at most one open alert per key. All durations use event time, so
/// replays give identical alerts; the injected <see cref="TimeProvider"/> only stamps <see cref="AlertEvent.EmittedAt"/>.
/// Thread-safety: different keys may be scored concurrently; one key must come from one caller at a time, in event order.
/// </summary>
public sealed class AnomalyDetector
{
    private readonly AnomalyOptions _options;
    private readonly TimeProvider _time;
    private readonly SourceCalibration[] _calibration;
    private readonly ConcurrentDictionary<string, KeyState>[] _keys;
    private long _nonFinite;

    /// <summary>Creates a detector.</summary>
    /// <param name="options">Validated options.</param>
    /// <param name="time">Clock for <see cref="AlertEvent.EmittedAt"/>.</param>
    public AnomalyDetector(AnomalyOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        var kinds = Enum.GetValues<SourceKind>();
        _calibration = new SourceCalibration[kinds.Length];
        _keys = new ConcurrentDictionary<string, KeyState>[kinds.Length];
        foreach (var k in kinds)
        {
            _calibration[(int)k] = options.For(k.ToWireName());
            _keys[(int)k] = new ConcurrentDictionary<string, KeyState>(StringComparer.Ordinal);
        }
    }

    /// <summary>Rows not scored because the forecast (μ, σ) or the observed value was NaN or infinite, or σ not positive.</summary>
    public long NonFiniteRows => Interlocked.Read(ref _nonFinite);

    /// <summary>Keys with state.</summary>
    public int KeyCount => _keys.Sum(k => k.Count);

    /// <summary>Whether a key has an open alert.</summary>
    /// <param name="source">Source.</param>
    /// <param name="key">Key.</param>
    /// <returns>True when open.</returns>
    public bool IsOpen(SourceKind source, string key) => _keys[(int)source].TryGetValue(key, out var s) && s.Phase == Phase.Open;

    /// <summary>Scores every row of <paramref name="batch"/> and advances the alert state machines.</summary>
    /// <param name="batch">The batch.</param>
    /// <param name="scores">Receives one score per row (length ≥ <see cref="ForecastBatch.Count"/>).</param>
    /// <param name="alerts">Receives alert events in row order.</param>
    public void Process(ForecastBatch batch, Span<RowScore> scores, List<AlertEvent> alerts)
    {
        var cal = _calibration[(int)batch.Source];
        var keys = _keys[(int)batch.Source];
        var k = batch.Horizons;
        for (var r = 0; r < batch.Count; r++)
        {
            var key = batch.Keys[r];
            if (!keys.TryGetValue(key, out var state))
            {
                state = keys.GetOrAdd(key, static (_, w) => new KeyState(w), _options.Window);
            }

            var ts = batch.TimestampsMs[r];
            var observed = batch.Observed[r];
            scores[r] = default;
            if (state.HasPrevious && ts > state.PreviousTs)
            {
                var sigma = state.PreviousSigma * cal.SigmaScale;
                var z = (observed - state.PreviousMu) / sigma;
                if (sigma > 0 && double.IsFinite(sigma) && double.IsFinite(observed) && double.IsFinite(z))
                {
                    var logP = GaussianTail.LogTwoSidedP(z);
                    var surprise = Math.Min(GaussianTail.Surprise(logP), 300.0);
                    var smoothed = state.Push(surprise);
                    var p = Math.Exp(logP);
                    scores[r] = new RowScore { HasScore = true, Nll = GaussianTail.Nll(observed, state.PreviousMu, sigma), TailP = p, Score = smoothed, PAnomaly = 1.0 - p };
                    if (++state.Scored > _options.WarmupEvents)
                    {
                        Step(state, batch, r, key, smoothed, observed, sigma, cal, alerts);
                    }
                }
                else
                {
                    // A NaN/infinite forecast or observation gives no score: it must not enter the smoothing window (it would
                    // poison the next Window scores) nor drive the state machine (NaN compares false, so an alert could open
                    // and never resolve). The row is written unscored and counted.
                    Interlocked.Increment(ref _nonFinite);
                }
            }

            if (ts > state.PreviousTs || !state.HasPrevious)
            {
                // Late or duplicate rows neither score against nor replace the newer forecast.
                state.HasPrevious = true;
                state.PreviousTs = ts;
                state.PreviousMu = batch.Mu[r * k];
                state.PreviousSigma = batch.Sigma[r * k];
            }
        }
    }

    private void Step(KeyState s, ForecastBatch batch, int r, string key, double score, double observed, double sigma, SourceCalibration cal, List<AlertEvent> alerts)
    {
        var t = batch.TimestampsMs[r];
        var minMs = (long)cal.MinDuration.TotalMilliseconds;
        switch (s.Phase)
        {
            case Phase.Idle:
                if (t >= s.CooldownUntilMs && score >= cal.EnterThreshold)
                {
                    s.Phase = Phase.Pending;
                    s.StartMs = t;
                    s.Peak = double.NegativeInfinity;
                }

                break;
            case Phase.Pending:
                if (score < cal.EnterThreshold)
                {
                    s.Phase = Phase.Idle;
                }

                break;
        }

        if (s.Phase is Phase.Pending or Phase.Open && score > s.Peak)
        {
            s.Peak = score;
            s.ViolatedObserved = observed;
            s.ViolatedMu = s.PreviousMu;
            s.ViolatedSigma = sigma;
            s.ViolatedMadeAt = s.PreviousTs;
        }

        if (s.Phase == Phase.Pending && t - s.StartMs >= minMs)
        {
            s.Phase = Phase.Open;
            s.Severity = SeverityOf(s.Peak, cal);
            alerts.Add(Event(s, batch, key, AlertEventKind.Raised, t, score));
            return;
        }

        if (s.Phase != Phase.Open)
        {
            return;
        }

        if (score < cal.ExitThreshold)
        {
            s.Phase = Phase.Idle;
            s.CooldownUntilMs = t + (long)cal.Cooldown.TotalMilliseconds;
            alerts.Add(Event(s, batch, key, AlertEventKind.Resolved, t, score));
            return;
        }

        var severity = SeverityOf(s.Peak, cal);
        if (severity > s.Severity)
        {
            s.Severity = severity;
            alerts.Add(Event(s, batch, key, AlertEventKind.Updated, t, score));
        }
    }

    private static AlertSeverity SeverityOf(double peak, SourceCalibration cal) => peak >= cal.CriticalThreshold ? AlertSeverity.Critical : AlertSeverity.Warning;

    private AlertEvent Event(KeyState s, ForecastBatch batch, string key, AlertEventKind kind, long t, double score) => new()
    {
        AlertId = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{batch.Source.ToWireName()}/{key}/{s.StartMs}"),
        Kind = kind,
        Severity = s.Severity,
        Source = batch.Source,
        Key = key,
        Model = batch.ModelVersion,
        StartMs = s.StartMs,
        EventMs = t,
        PeakScore = s.Peak,
        Score = score,
        Observed = s.ViolatedObserved,
        ForecastMu = s.ViolatedMu,
        ForecastSigma = s.ViolatedSigma,
        ForecastMadeAtMs = s.ViolatedMadeAt,
        EmittedAt = _time.GetUtcNow(),
    };

    private enum Phase
    {
        Idle,
        Pending,
        Open,
    }

    private sealed class KeyState(int window)
    {
        private readonly double[] _ring = new double[window];
        private int _next;
        private int _filled;

        public bool HasPrevious;
        public int Scored;
        public long PreviousTs = long.MinValue;
        public double PreviousMu;
        public double PreviousSigma;
        public Phase Phase;
        public long StartMs;
        public long CooldownUntilMs = long.MinValue;
        public double Peak;
        public AlertSeverity Severity;
        public double ViolatedObserved;
        public double ViolatedMu;
        public double ViolatedSigma;
        public long ViolatedMadeAt;

        /// <summary>Adds a surprise and returns the window mean (summed oldest-first, so the result is reproducible).</summary>
        public double Push(double surprise)
        {
            _ring[_next] = surprise;
            _next = (_next + 1) % _ring.Length;
            if (_filled < _ring.Length)
            {
                _filled++;
            }

            var sum = 0.0;
            var start = (_next - _filled + _ring.Length) % _ring.Length;
            for (var i = 0; i < _filled; i++)
            {
                sum += _ring[(start + i) % _ring.Length];
            }

            return sum / _filled;
        }
    }
}
