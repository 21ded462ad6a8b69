namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>Last value: every horizon forecasts the latest observation.</summary>
public sealed class LastValueForecaster(int horizons) : OnlineForecaster(horizons)
{
    /// <inheritdoc/>
    public override string Name => "last-value";

    /// <inheritdoc/>
    protected override void Predict(double value, long? timeMs, Span<double> mu, Span<double> rawSigma)
    {
        mu.Fill(value);
        rawSigma.Fill(1);
    }
}

/// <summary>Seasonal naive: row t+k is forecast by the value one season earlier (<c>y[t+k−P·⌈k/P⌉]</c>); last value while no period is known.</summary>
public sealed class SeasonalNaiveForecaster : OnlineForecaster
{
    private readonly SeriesHistory _history;

    /// <summary>Creates the forecaster over a history the caller appends to.</summary>
    /// <param name="horizons">K.</param>
    /// <param name="history">Values so far and the current period.</param>
    public SeasonalNaiveForecaster(int horizons, SeriesHistory history)
        : base(horizons)
    {
        _history = history;
    }

    /// <inheritdoc/>
    public override string Name => "seasonal-naive";

    /// <inheritdoc/>
    protected override void Predict(double value, long? timeMs, Span<double> mu, Span<double> rawSigma)
    {
        for (var k = 1; k <= Horizons; k++) mu[k - 1] = _history.SeasonalValue(k);
        rawSigma.Fill(1);
    }
}

/// <summary>
/// Online linear AR by recursive least squares with forgetting, one model per horizon (direct forecasts): the change
/// <c>(y[t+k] − y[t]) / s</c> regressed on a constant, the last <see cref="Lags"/> changes <c>(y[t−i] − y[t−i−1]) / s</c>
/// and the level's deviation from its exponential mean, where s is the running RMS of one-step changes.
/// </summary>
public sealed class LinearArForecaster : OnlineForecaster
{
    /// <summary>Lagged changes used.</summary>
    public const int Lags = 8;

    private const double Forgetting = 0.999;
    private const double MaxCovariance = 1e4;
    private const int Dim = Lags + 2;
    private readonly SeriesHistory _history;
    private readonly double[][] _w;
    private readonly double[][] _p;
    private readonly double[] _z;
    private readonly double[] _zs;
    private readonly double[] _scales;
    private readonly double[] _pz = new double[Dim];

    /// <summary>Creates the forecaster.</summary>
    /// <param name="horizons">K.</param>
    /// <param name="history">Values so far.</param>
    public LinearArForecaster(int horizons, SeriesHistory history)
        : base(horizons)
    {
        _history = history;
        _w = new double[horizons][];
        _p = new double[horizons][];
        for (var k = 0; k < horizons; k++)
        {
            _w[k] = new double[Dim];
            _p[k] = new double[Dim * Dim];
            for (var i = 0; i < Dim; i++) _p[k][(i * Dim) + i] = 100;
        }

        _z = new double[Dim];
        _zs = new double[(horizons + 1) * Dim];
        _scales = new double[horizons + 1];
    }

    /// <inheritdoc/>
    public override string Name => "linear-ar";

    /// <inheritdoc/>
    protected override void Predict(double value, long? timeMs, Span<double> mu, Span<double> rawSigma)
    {
        var t = _history.Count - 1;
        var s = _history.DiffScale;
        rawSigma.Fill(1);
        _z[0] = 1;
        for (var i = 0; i < Lags; i++) _z[1 + i] = t - i >= 1 ? Clamp((_history[t - i] - _history[t - i - 1]) / s) : 0;
        _z[Lags + 1] = Clamp(_history.LevelZ);

        // Learn first from the targets that row t completes (regressors kept from row t−k), then forecast.
        for (var k = 1; k <= Horizons; k++)
        {
            var from = t - k;
            if (from < Lags + 1) continue;
            var slot = from % (Horizons + 1);
            Update(k - 1, _zs.AsSpan(slot * Dim, Dim), Clamp((value - _history[from]) / _scales[slot], 50));
        }

        var own = t % (Horizons + 1);
        _z.CopyTo(_zs.AsSpan(own * Dim, Dim));
        _scales[own] = s;
        for (var k = 0; k < Horizons; k++)
        {
            var d = 0.0;
            for (var i = 0; i < Dim; i++) d += _w[k][i] * _z[i];
            mu[k] = t < Lags + 1 ? double.NaN : value + (s * Clamp(d, 50));
        }
    }

    private void Update(int k, ReadOnlySpan<double> z, double target)
    {
        var p = _p[k];
        var w = _w[k];
        double denom = Forgetting, pred = 0;
        for (var i = 0; i < Dim; i++)
        {
            var acc = 0.0;
            for (var j = 0; j < Dim; j++) acc += p[(i * Dim) + j] * z[j];
            _pz[i] = acc;
            denom += z[i] * acc;
            pred += w[i] * z[i];
        }

        var err = target - pred;
        for (var i = 0; i < Dim; i++) w[i] += _pz[i] / denom * err;
        for (var i = 0; i < Dim; i++)
        {
            for (var j = 0; j < Dim; j++) p[(i * Dim) + j] = (p[(i * Dim) + j] - (_pz[i] * _pz[j] / denom)) / Forgetting;
        }

        // Bounded covariance: forgetting inflates P without limit along directions the data never excites (a flat series).
        var maxDiag = 0.0;
        for (var i = 0; i < Dim; i++) maxDiag = Math.Max(maxDiag, p[(i * Dim) + i]);
        if (maxDiag > MaxCovariance)
        {
            var f = MaxCovariance / maxDiag;
            for (var i = 0; i < p.Length; i++) p[i] *= f;
        }
    }

    private static double Clamp(double v, double limit = 10) => double.IsFinite(v) ? Math.Clamp(v, -limit, limit) : 0;
}
