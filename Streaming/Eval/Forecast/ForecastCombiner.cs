namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>
/// Recent squared errors of each component of a <see cref="ForecastCombiner"/>, per horizon, shared by the combiners of
/// every key of a series (short keyed series pool their evidence, as the LSTM's weights are shared).
/// </summary>
public sealed class CombinationWeights
{
    /// <summary>Errors of a component (per horizon) before it takes part.</summary>
    public const int MinErrors = 10;

    /// <summary>A component whose recent mean squared error is more than this times the best one's gets no weight.</summary>
    public const double MaxMseRatio = 1.5;

    private const double Alpha = 1.0 / 256;
    private readonly int _k;
    private readonly int _n;
    private readonly double[] _sum;
    private readonly double[] _weight;
    private readonly int[] _count;

    /// <summary>Creates the state.</summary>
    /// <param name="horizons">K.</param>
    /// <param name="components">Components.</param>
    public CombinationWeights(int horizons, int components)
    {
        _k = horizons;
        _n = components;
        _sum = new double[horizons * components];
        _weight = new double[horizons * components];
        _count = new int[horizons * components];
    }

    /// <summary>Adds one realised squared error (bias-corrected exponential average, α = 1/256).</summary>
    /// <param name="k">Horizon index.</param>
    /// <param name="i">Component.</param>
    /// <param name="squaredError">Squared error.</param>
    public void Add(int k, int i, double squaredError)
    {
        if (!double.IsFinite(squaredError)) return;
        var j = (k * _n) + i;
        _sum[j] = ((1 - Alpha) * _sum[j]) + (Alpha * squaredError);
        _weight[j] = ((1 - Alpha) * _weight[j]) + Alpha;
        _count[j]++;
    }

    /// <summary>Pooled recent MSE of component <paramref name="i"/> at horizon <paramref name="k"/> (NaN before any error).</summary>
    /// <param name="k">Horizon index.</param>
    /// <param name="i">Component.</param>
    /// <returns>The MSE.</returns>
    public double PooledMse(int k, int i)
    {
        var j = (k * _n) + i;
        return _count[j] == 0 ? double.NaN : Mse(j);
    }

    /// <summary>
    /// Weights over the components from their effective MSE: inverse MSE among those within <see cref="MaxMseRatio"/> of
    /// the best; zero for the rest.
    /// </summary>
    /// <param name="mse">Effective MSE per component (NaN or infinite: not eligible).</param>
    /// <param name="weights">Receives weights summing to 1 (all 0 when none is eligible).</param>
    public static void InverseMse(ReadOnlySpan<double> mse, Span<double> weights)
    {
        weights.Clear();
        var best = double.PositiveInfinity;
        foreach (var m in mse)
        {
            if (double.IsFinite(m)) best = Math.Min(best, m);
        }

        if (!double.IsFinite(best)) return;
        var total = 0.0;
        for (var i = 0; i < mse.Length; i++)
        {
            if (!double.IsFinite(mse[i]) || mse[i] > MaxMseRatio * best) continue;
            weights[i] = 1 / Math.Max(mse[i], 1e-300);
            total += weights[i];
        }

        for (var i = 0; i < weights.Length; i++) weights[i] /= total;
    }

    private double Mse(int j) => _sum[j] / _weight[j];
}

/// <summary>
/// Our reported forecaster: an online forecast combination of the online LSTM and the baselines of the same key. Each
/// horizon's mean is the weighted mean of the components' means, weights the inverse of their recent MSE (components far
/// behind the best get none: <see cref="CombinationWeights.InverseMse"/>). A component's MSE is its own key's recent MSE
/// shrunk toward the MSE pooled over all keys (<c>(n·key + 32·pooled)/(n + 32)</c> after n errors of the key), and it takes
/// part only once it has <see cref="CombinationWeights.MinErrors"/> errors in this key (a new key's AR is still wild);
/// before any component has, the best pooled one stands alone. A component whose forecast now lies more than
/// <see cref="GateSigmas"/> median σ from the median forecast is left out of this row (a key's AR can turn wild between
/// two errors). σ is the same weighted mean of the components' calibrated σ (not scaled again by this key's own errors,
/// which would count a new key's first large errors twice), times the shared tail factor. Learns only from realised errors of past forecasts, so it sees nothing of the future.
/// Must be stepped after its components on each row (it reads their <see cref="OnlineForecaster.LastMu"/>).
/// </summary>
public sealed class ForecastCombiner : OnlineForecaster
{
    private readonly OnlineForecaster[] _components;
    private readonly CombinationWeights _weights;
    private readonly double[] _pastMu;
    private readonly bool[] _available;
    private readonly double[] _w;
    private readonly double[] _mse;
    private readonly double[] _keySum;
    private readonly double[] _keyWeight;
    private readonly int[] _keyCount;
    private int _row;

    /// <summary>Creates the combiner of one key.</summary>
    /// <param name="horizons">K.</param>
    /// <param name="components">The key's component forecasters (stepped before this one).</param>
    /// <param name="weights">Error state shared by every key's combiner.</param>
    public ForecastCombiner(int horizons, OnlineForecaster[] components, CombinationWeights weights)
        : base(horizons)
    {
        ArgumentNullException.ThrowIfNull(components);
        _components = components;
        _weights = weights;
        _pastMu = new double[horizons * horizons * components.Length];
        _pastMu.AsSpan().Fill(double.NaN);
        _available = new bool[components.Length];
        _w = new double[components.Length];
        _mse = new double[components.Length];
        _sorted = new double[components.Length];
        _keySum = new double[horizons * components.Length];
        _keyWeight = new double[horizons * components.Length];
        _keyCount = new int[horizons * components.Length];
    }

    private const double KeyAlpha = 1.0 / 256;
    private const double PriorErrors = 32;

    /// <summary>Distance from the median forecast, in median σ, beyond which a component is left out of a row.</summary>
    public const double GateSigmas = 3;

    private readonly double[] _sorted;

    /// <inheritdoc />
    public override string Name => ForecastOutputs.Ours;

    /// <inheritdoc />
    protected override void Predict(double value, long? timeMs, Span<double> mu, Span<double> rawSigma)
    {
        var n = _components.Length;
        var kk = Horizons;
        // Row t's value meets the components' forecasts of horizon k made at row t−k.
        for (var k = 1; k <= kk && k <= _row; k++)
        {
            var slot = (_row - k) % kk;
            for (var i = 0; i < n; i++)
            {
                var m = _pastMu[(((slot * kk) + k - 1) * n) + i];
                if (!double.IsFinite(m) || !double.IsFinite(value)) continue;
                var e2 = (value - m) * (value - m);
                _weights.Add(k - 1, i, e2);
                var j = ((k - 1) * n) + i;
                _keySum[j] = ((1 - KeyAlpha) * _keySum[j]) + (KeyAlpha * e2);
                _keyWeight[j] = ((1 - KeyAlpha) * _keyWeight[j]) + KeyAlpha;
                _keyCount[j]++;
            }
        }

        var own = _row % kk;
        for (var k = 0; k < kk; k++)
        {
            for (var i = 0; i < n; i++)
            {
                var m = _components[i].LastMu[k];
                _pastMu[(((own * kk) + k) * n) + i] = m;
                _available[i] = double.IsFinite(m);
            }

            var anyReady = false;
            for (var i = 0; i < n; i++)
            {
                var j = (k * n) + i;
                var pooled = _weights.PooledMse(k, i);
                var ready = _available[i] && _keyCount[j] >= CombinationWeights.MinErrors && double.IsFinite(pooled);
                anyReady |= ready;
                var key = _keySum[j] / _keyWeight[j];
                _mse[i] = ready ? ((_keyCount[j] * key) + (PriorErrors * pooled)) / (_keyCount[j] + PriorErrors) : double.NaN;
            }

            if (!anyReady)
            {
                // A new key: the component with the best pooled MSE that has a forecast stands alone.
                var best = -1;
                for (var i = 0; i < n; i++)
                {
                    var pooled = _weights.PooledMse(k, i);
                    if (_available[i] && double.IsFinite(pooled) && (best < 0 || pooled < _weights.PooledMse(k, best))) best = i;
                }

                if (best >= 0) _mse[best] = 1;
            }

            Gate(k);
            CombinationWeights.InverseMse(_mse, _w);
            double sumMu = 0, sumSigma = 0, sigmaWeight = 0, total = 0;
            for (var i = 0; i < n; i++)
            {
                if (_w[i] == 0) continue;
                total += _w[i];
                sumMu += _w[i] * _components[i].LastMu[k];
                var s = _components[i].LastSigma[k];
                if (s > 0 && double.IsFinite(s))
                {
                    sumSigma += _w[i] * s;
                    sigmaWeight += _w[i];
                }
            }

            mu[k] = total > 0 ? sumMu / total : double.NaN;
            rawSigma[k] = sigmaWeight > 0 ? sumSigma / sigmaWeight : 1;
        }

        _row++;
    }

    /// <inheritdoc />
    protected override bool CalibratesOwnErrors => false;

    private void Gate(int k)
    {
        var medianMu = Median(k, sigma: false);
        var medianSigma = Median(k, sigma: true);
        if (!double.IsFinite(medianMu) || !(medianSigma > 0) || !double.IsFinite(medianSigma)) return;
        for (var i = 0; i < _components.Length; i++)
        {
            if (double.IsFinite(_mse[i]) && Math.Abs(_components[i].LastMu[k] - medianMu) > GateSigmas * medianSigma) _mse[i] = double.NaN;
        }
    }

    // Median over the components with a forecast now, of their mean or σ (NaN when none).
    private double Median(int k, bool sigma)
    {
        var m = 0;
        for (var i = 0; i < _components.Length; i++)
        {
            var v = sigma ? _components[i].LastSigma[k] : _components[i].LastMu[k];
            if (_available[i] && double.IsFinite(v)) _sorted[m++] = v;
        }

        if (m == 0) return double.NaN;
        var a = _sorted.AsSpan(0, m);
        a.Sort();
        return m % 2 == 1 ? a[m / 2] : (a[(m / 2) - 1] + a[m / 2]) / 2;
    }
}
