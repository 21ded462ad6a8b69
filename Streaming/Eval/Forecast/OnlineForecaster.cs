namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>
/// A forecaster fed one row at a time, in time order. <see cref="Step"/> takes row t's value, forecasts rows t+1..t+K
/// (means and standard deviations), then learns. Standard deviations are calibrated online: each horizon's raw σ is
/// multiplied by the root-mean-square of its recent realised errors in units of raw σ (a forecaster without its own σ
/// reports raw σ = 1, so its σ is simply the RMS of its recent errors). With a <see cref="Tail"/>, σ is further multiplied by
/// the tail factor: the recent 95 % quantile of the errors in units of that RMS-calibrated σ over 1.96, so heavy-tailed
/// errors (whose RMS understates the 95 % quantile) still get a 95 % interval that covers 95 %.
/// </summary>
public abstract class OnlineForecaster
{
    private readonly ErrorScale _scale;
    private readonly double[] _raw;
    private readonly double[] _lastMu;
    private readonly double[] _lastSigma;

    /// <summary>Creates the shared part.</summary>
    /// <param name="horizons">K.</param>
    protected OnlineForecaster(int horizons)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(horizons, 1);
        Horizons = horizons;
        _scale = new ErrorScale(horizons);
        _raw = new double[horizons];
        _lastMu = new double[horizons];
        _lastSigma = new double[horizons];
    }

    /// <summary>The means of the latest <see cref="Step"/> (row t's forecasts of rows t+1..t+K).</summary>
    public ReadOnlySpan<double> LastMu => _lastMu;

    /// <summary>The calibrated standard deviations of the latest <see cref="Step"/>.</summary>
    public ReadOnlySpan<double> LastSigma => _lastSigma;

    /// <summary>Name in reports.</summary>
    public abstract string Name { get; }

    /// <summary>K.</summary>
    public int Horizons { get; }

    /// <summary>Rows seen.</summary>
    public int Rows { get; private set; }

    /// <summary>Tail calibration, shared by the same model of every key of a series (null: RMS calibration only).</summary>
    public TailCalibration? Tail
    {
        get => _scale.Tail;
        set => _scale.Tail = value;
    }

    /// <summary>Takes row t's value, writes the forecasts of rows t+1..t+K (NaN where it has none), then learns.</summary>
    /// <param name="value">Row t's value.</param>
    /// <param name="timeMs">Row t's Unix time in milliseconds (null: the series has no dates).</param>
    /// <param name="mu">Means <c>[K]</c>.</param>
    /// <param name="sigma">Calibrated standard deviations <c>[K]</c>.</param>
    public void Step(double value, long? timeMs, Span<double> mu, Span<double> sigma)
    {
        _scale.Observe(value);
        Predict(value, timeMs, mu, _raw);
        for (var k = 0; k < Horizons; k++) sigma[k] = CalibratesOwnErrors ? _raw[k] * _scale.Factor(k) : _raw[k];
        _scale.Remember(mu, _raw, sigma);
        if (Tail is { } tail)
        {
            for (var k = 0; k < Horizons; k++) sigma[k] *= tail.Factor(k);
        }

        if (Pooled is { } pooled)
        {
            var floor = pooled.Floor;
            for (var k = 0; k < Horizons; k++)
            {
                if (sigma[k] < floor) sigma[k] = floor;
            }
        }

        mu.CopyTo(_lastMu);
        sigma.CopyTo(_lastSigma);

        Rows++;
        Learn();
    }

    /// <summary>Change pooled over every key of a series; when set, σ is never below its floor (null: no floor).</summary>
    public PooledChange? Pooled { get; set; }

    /// <summary>Lowest <see cref="Tail"/> factor this model's σ takes (see <see cref="TailCalibration(int, double)"/>).</summary>
    public virtual double TailMinFactor => 1.0;

    /// <summary>Whether σ is scaled by the RMS of this forecaster's own recent errors (false: its raw σ is already calibrated,
    /// e.g. built from calibrated components; the <see cref="Tail"/> factor still applies).</summary>
    protected virtual bool CalibratesOwnErrors => true;

    /// <summary>Forecasts rows t+1..t+K from everything up to row t.</summary>
    /// <param name="value">Row t's value.</param>
    /// <param name="timeMs">Row t's time (null without dates).</param>
    /// <param name="mu">Means (NaN: no forecast).</param>
    /// <param name="rawSigma">Uncalibrated σ (1 when the forecaster has none of its own).</param>
    protected abstract void Predict(double value, long? timeMs, Span<double> mu, Span<double> rawSigma);

    /// <summary>Updates after the forecast (default: nothing).</summary>
    protected virtual void Learn()
    {
    }
}

/// <summary>Per horizon, an exponentially weighted mean of squared realised errors in units of the raw σ they were forecast with.</summary>
internal sealed class ErrorScale
{
    /// <summary>Realised errors needed before σ is reported.</summary>
    public const int MinErrors = 10;

    private const double Alpha = 1.0 / 256;
    private const double MaxZ = 5;
    private readonly int _k;
    private readonly double[] _mu;
    private readonly double[] _raw;
    private readonly double[] _cal;
    private readonly double[] _sum;
    private readonly double[] _weight;
    private readonly int[] _count;
    private int _row;

    public TailCalibration? Tail { get; set; }

    public ErrorScale(int horizons)
    {
        _k = horizons;
        _mu = new double[horizons * horizons];
        _raw = new double[horizons * horizons];
        _cal = new double[horizons * horizons];
        _mu.AsSpan().Fill(double.NaN);
        _sum = new double[horizons];
        _weight = new double[horizons];
        _count = new int[horizons];
    }

    // Row t's value: the forecast of horizon k made at row t−k (slot (t−k) mod K) meets its target.
    public void Observe(double value)
    {
        for (var k = 1; k <= _k && k <= _row; k++)
        {
            var slot = (_row - k) % _k;
            var mu = _mu[(slot * _k) + k - 1];
            var raw = _raw[(slot * _k) + k - 1];
            if (!double.IsFinite(mu) || !(raw > 0)) continue;
            var cal = _cal[(slot * _k) + k - 1];
            if (Tail is not null && cal > 0 && double.IsFinite(cal) && double.IsFinite(value)) Tail.Add(k - 1, Math.Abs(value - mu) / cal);
            // Clipped at |z| = 5: one outlier should not inflate every σ after it.
            var z = Math.Clamp((value - mu) / raw, -MaxZ, MaxZ);
            // Bias-corrected exponential average: the plain mean until 1/α errors are in.
            _sum[k - 1] = ((1 - Alpha) * _sum[k - 1]) + (Alpha * z * z);
            _weight[k - 1] = ((1 - Alpha) * _weight[k - 1]) + Alpha;
            _count[k - 1]++;
        }
    }

    public void Remember(ReadOnlySpan<double> mu, ReadOnlySpan<double> raw, ReadOnlySpan<double> calibrated)
    {
        var slot = _row % _k;
        calibrated.CopyTo(_cal.AsSpan(slot * _k, _k));
        mu.CopyTo(_mu.AsSpan(slot * _k, _k));
        raw.CopyTo(_raw.AsSpan(slot * _k, _k));
        _row++;
    }

    public double Factor(int k) => _count[k] < MinErrors ? double.NaN : Math.Sqrt(Math.Max(_sum[k] / _weight[k], 1e-12));
}

/// <summary>
/// The RMS one-row change pooled over every key of a series, as a floor for σ. A key charted with the same value many times
/// in a row (a vital sign re-entered unchanged) would otherwise learn a σ near zero from its own errors, and the first change
/// after it would cost an NLL of 1e9 and more; the other keys of the series say how much such a value moves.
/// </summary>
public sealed class PooledChange
{
    /// <summary>Floor as a fraction of the pooled RMS change (as <c>SeriesHistory</c> floors a key's own scale).</summary>
    public const double Fraction = 0.25;

    private double _sumSq;
    private long _count;

    /// <summary>The floor: <see cref="Fraction"/> of the RMS change so far (0 before any).</summary>
    public double Floor => _count == 0 ? 0 : Fraction * Math.Sqrt(_sumSq / _count);

    /// <summary>Adds one row's change from its key's previous row.</summary>
    /// <param name="change">The change.</param>
    public void Add(double change)
    {
        if (!double.IsFinite(change)) return;
        _sumSq += change * change;
        _count++;
    }
}
