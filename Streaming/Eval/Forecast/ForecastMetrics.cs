namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>Metrics of one model at one horizon.</summary>
/// <param name="Count">Rows scored.</param>
/// <param name="Nrmse">RMSE over the standard deviation of the whole series.</param>
/// <param name="Rmse">Root-mean-square error.</param>
/// <param name="Mae">Mean absolute error.</param>
/// <param name="Mape">Mean absolute percentage error over rows whose value is not 0 (percent).</param>
/// <param name="Nll">Mean Gaussian negative log-likelihood (natural log, in the series' units).</param>
/// <param name="Coverage80">Share of values inside the central 80 % interval μ ± 1.2816σ.</param>
/// <param name="Coverage95">Share of values inside the central 95 % interval μ ± 1.9600σ.</param>
public sealed record HorizonMetrics(int Count, double Nrmse, double Rmse, double Mae, double Mape, double Nll, double Coverage80, double Coverage95)
{
    /// <summary>The metrics of forecasts scored on values times 2^<paramref name="exponent"/>, in the values' own units: RMSE and
    /// MAE times 2^−exponent, NLL minus exponent·ln 2 (σ is 2^−exponent times σ seen); the ratios are unchanged.</summary>
    /// <param name="exponent">The power of two the values were scaled by.</param>
    /// <returns>The metrics in series units.</returns>
    public HorizonMetrics Unscaled(int exponent) =>
        this with { Rmse = Math.ScaleB(Rmse, -exponent), Mae = Math.ScaleB(Mae, -exponent), Nll = Nll - (exponent * Math.Log(2)) };
}

/// <summary>Accumulates per-horizon forecast metrics.</summary>
public sealed class ForecastMetrics
{
    /// <summary>z of the central 80 % interval.</summary>
    public const double Z80 = 1.2815515655446004;

    /// <summary>z of the central 95 % interval.</summary>
    public const double Z95 = 1.959963984540054;

    private int _n, _nPct, _in80, _in95;
    private double _se, _ae, _ape, _nll;

    /// <summary>Adds one forecast and its outcome.</summary>
    /// <param name="actual">Observed value.</param>
    /// <param name="mu">Forecast mean.</param>
    /// <param name="sigma">Forecast standard deviation (&gt; 0).</param>
    public void Add(double actual, double mu, double sigma)
    {
        var e = actual - mu;
        _n++;
        _se += e * e;
        _ae += Math.Abs(e);
        if (actual != 0)
        {
            _ape += Math.Abs(e / actual);
            _nPct++;
        }

        var z = e / sigma;
        _nll += Math.Log(sigma) + (0.5 * z * z) + Model.Training.GaussianNll.HalfLog2Pi;
        if (Math.Abs(z) <= Z80) _in80++;
        if (Math.Abs(z) <= Z95) _in95++;
    }

    /// <summary>The metrics so far.</summary>
    /// <param name="seriesStd">Standard deviation of the series (NRMSE denominator).</param>
    /// <returns>The metrics (NaN when nothing was scored).</returns>
    public HorizonMetrics Result(double seriesStd)
    {
        if (_n == 0) return new HorizonMetrics(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        var rmse = Math.Sqrt(_se / _n);
        return new HorizonMetrics(_n, seriesStd > 0 ? rmse / seriesStd : double.NaN, rmse, _ae / _n, _nPct == 0 ? double.NaN : 100 * _ape / _nPct,
            _nll / _n, (double)_in80 / _n, (double)_in95 / _n);
    }

    /// <summary>Population standard deviation.</summary>
    /// <param name="values">Values.</param>
    /// <returns>The standard deviation.</returns>
    public static double StandardDeviation(ReadOnlySpan<double> values)
    {
        if (values.Length == 0) return double.NaN;
        var mean = 0.0;
        foreach (var v in values) mean += v;
        mean /= values.Length;
        var ss = 0.0;
        foreach (var v in values) ss += (v - mean) * (v - mean);
        return Math.Sqrt(ss / values.Length);
    }
}
