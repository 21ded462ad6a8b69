namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>
/// Our reported forecaster: an online forecast combination of the online LSTM and the baselines of the same key. Each
/// horizon's mean is a convex combination of the components' means whose weights minimise the recent squared error of the
/// combination, pulled slightly toward an anchor component (<see cref="CombinationWeights.Solve"/>: weights from the
/// realised error second moments pooled over every key of the series, memory <see cref="CombinationWeights.Memory"/> rows).
/// A component takes part once it has <see cref="CombinationWeights.MinErrors"/> realised errors in this key (a new key's AR
/// is still wild), and sits out a row whose forecast is far outside the values seen so far (<see cref="CombinationWeights.Plausible"/>);
/// on heavy-tailed errors the weights are smoothed in time (<see cref="CombinationWeights.Smooth"/>), so one spike does not swing
/// them; before any component has, the one with the best pooled MSE that has a forecast stands alone. σ is the
/// same weighted mean of the components' calibrated σ times a tail factor of its own (the recent 95 % quantile of ours'
/// |error| / that σ over 1.96, pooled over keys, in [<see cref="CombinationWeights.MinTailFactor"/>, 4], kept apart for a
/// new key's rows): the combination's errors are smaller than its components', so their σ alone is conservative.
/// Learns only from realised errors of past forecasts, so it sees nothing of the future.
/// Must be stepped after its components on each row (it reads their <see cref="OnlineForecaster.LastMu"/>).
/// </summary>
public sealed class ForecastCombiner : OnlineForecaster
{
    private readonly OnlineForecaster[] _components;
    private readonly CombinationWeights _weights;
    private readonly double[] _pastMu;
    private readonly bool[] _eligible;
    private readonly double[] _w;
    private readonly double[] _errors;
    private readonly double[] _scratch;
    private readonly int[] _keyCount;
    private readonly int _anchor;
    private readonly double[] _pastSigma;
    private readonly bool[] _pastNew;
    private readonly double[] _pastOwnMu;
    private int _row;

    /// <summary>Creates the combiner of one key.</summary>
    /// <param name="horizons">K.</param>
    /// <param name="components">The key's component forecasters (stepped before this one).</param>
    /// <param name="weights">Error state shared by every key's combiner.</param>
    /// <param name="anchor">Component the weights are shrunk toward (the last value; −1: none).</param>
    public ForecastCombiner(int horizons, OnlineForecaster[] components, CombinationWeights weights, int anchor = -1)
        : base(horizons)
    {
        ArgumentNullException.ThrowIfNull(components);
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Components != components.Length || weights.Horizons != horizons) throw new ArgumentException("weights must match the components and horizons", nameof(weights));
        _components = components;
        _weights = weights;
        var n = components.Length;
        _pastMu = new double[horizons * horizons * n];
        _pastMu.AsSpan().Fill(double.NaN);
        _eligible = new bool[n];
        _w = new double[n];
        _errors = new double[n];
        _scratch = new double[(2 * n * n) + (4 * n)];
        _anchor = anchor;
        _pastSigma = new double[horizons * horizons];
        _pastNew = new bool[horizons * horizons];
        _pastOwnMu = new double[horizons * horizons];
        _pastOwnMu.AsSpan().Fill(double.NaN);
        _lastWeights = new double[horizons * n];
        _keyCount = new int[horizons * n];
    }

    /// <inheritdoc />
    public override string Name => ForecastOutputs.Ours;

    /// <summary>The weights of the latest row at horizon <paramref name="k"/> (for tests and diagnostics).</summary>
    /// <param name="k">Horizon index.</param>
    /// <returns>Weights per component.</returns>
    public double[] LastWeights(int k) => _lastWeights.AsSpan(k * _components.Length, _components.Length).ToArray();

    private readonly double[] _lastWeights;

    /// <inheritdoc />
    protected override bool CalibratesOwnErrors => false;

    /// <inheritdoc />
    protected override void Predict(double value, long? timeMs, Span<double> mu, Span<double> rawSigma)
    {
        var n = _components.Length;
        var kk = Horizons;
        _weights.Observe(value);
        // Row t's value meets the forecasts of horizon k made at row t−k: the components' (their error moments) and ours (σ's tail).
        for (var k = 1; k <= kk && k <= _row; k++)
        {
            var slot = (_row - k) % kk;
            for (var i = 0; i < n; i++)
            {
                var m = _pastMu[(((slot * kk) + k - 1) * n) + i];
                _errors[i] = double.IsFinite(m) && double.IsFinite(value) ? value - m : double.NaN;
                if (double.IsFinite(_errors[i])) _keyCount[((k - 1) * n) + i]++;
            }

            _weights.Add(k - 1, _errors);
            var x = (slot * kk) + k - 1;
            var sigma = _pastSigma[x];
            if (double.IsFinite(_pastOwnMu[x]) && sigma > 0 && double.IsFinite(sigma) && double.IsFinite(value))
            {
                _weights.Tails[_pastNew[x] ? 1 : 0].Add(k - 1, Math.Abs(value - _pastOwnMu[x]) / sigma);
            }
        }

        var own = _row % kk;
        for (var k = 0; k < kk; k++)
        {
            var any = false;
            for (var i = 0; i < n; i++)
            {
                var m = _components[i].LastMu[k];
                _pastMu[(((own * kk) + k) * n) + i] = m;
                _eligible[i] = double.IsFinite(m) && _keyCount[(k * n) + i] >= CombinationWeights.MinErrors && _weights.HasErrors(k, i, CombinationWeights.MinErrors) && _weights.Plausible(m);
                any |= _eligible[i];
            }

            if (any)
            {
                _weights.Solve(k, _eligible, _anchor, _w, _scratch);
                _weights.Smooth(k, _anchor, _eligible, _w);
            }
            else
            {
                // A new key: the component with the best pooled MSE that has a forecast stands alone.
                _w.AsSpan().Clear();
                var best = -1;
                for (var i = 0; i < n; i++)
                {
                    var pooled = _weights.PooledMse(k, i);
                    if (double.IsFinite(_components[i].LastMu[k]) && double.IsFinite(pooled) && (best < 0 || pooled < _weights.PooledMse(k, best))) best = i;
                }

                if (best >= 0) _w[best] = 1;
            }

            _w.CopyTo(_lastWeights.AsSpan(k * n, n));
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
            var pre = sigmaWeight > 0 ? sumSigma / sigmaWeight : double.NaN;
            var x = (own * kk) + k;
            _pastOwnMu[x] = mu[k];
            _pastSigma[x] = pre;
            _pastNew[x] = !any;
            rawSigma[k] = double.IsFinite(pre) ? pre * _weights.Tails[any ? 0 : 1].Factor(k) : 1;
        }

        _row++;
    }
}
