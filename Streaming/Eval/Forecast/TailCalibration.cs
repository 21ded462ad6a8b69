namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>
/// Online tail calibration of forecast σ, per horizon: keeps the last <see cref="Window"/> realised |error| / σ (σ as
/// calibrated by the RMS of recent errors) and reports <c>factor = q95 / 1.96</c>, the recent 95 % quantile of those over
/// the Gaussian's. An RMS-calibrated σ is right for the 95 % interval only when the errors are Gaussian; heavy-tailed errors
/// (irregular vital signs, jumps) make it too narrow, light tails too wide. One instance is shared by the same model of
/// every key of a series, so short keyed series (ICU stays) pool their evidence. The inputs are in units of the
/// RMS-calibrated σ, never of the σ this factor produced, so the factor does not feed back on itself.
/// </summary>
public sealed class TailCalibration
{
    /// <summary>Errors kept per horizon.</summary>
    public const int Window = 1024;

    /// <summary>Errors needed before the factor departs from 1.</summary>
    public const int MinErrors = 64;

    /// <summary>Errors between recomputations of the quantile (a partial sort of the window).</summary>
    public const int RecomputeEvery = 32;

    private const double Z95 = 1.959963984540054;
    private readonly double[][] _ring;
    private readonly int[] _count;
    private readonly double[] _factor;
    private readonly double[] _scratch = new double[Window];
    private readonly double _min;

    /// <summary>Creates the calibration.</summary>
    /// <param name="horizons">K.</param>
    /// <param name="minFactor">Lowest factor: 1 widens only; below 1 also narrows a σ known to be conservative.</param>
    public TailCalibration(int horizons, double minFactor = 1.0)
    {
        _min = minFactor;
        ArgumentOutOfRangeException.ThrowIfLessThan(horizons, 1);
        _ring = Enumerable.Range(0, horizons).Select(_ => new double[Window]).ToArray();
        _count = new int[horizons];
        _factor = Enumerable.Repeat(1.0, horizons).ToArray();
    }

    /// <summary>The factor of horizon <paramref name="k"/> (0-based): 1 until <see cref="MinErrors"/> errors are in, then
    /// q95 / 1.96, clamped to [min factor, 4]; the min factor is 1 for a single model, which then only widens (an RMS-calibrated σ over light-tailed errors already covers at
    /// least 95 %, and narrowing it to the quantile costs much likelihood at the rare large errors of spiky series).</summary>
    /// <param name="k">Horizon index.</param>
    /// <returns>The factor.</returns>
    public double Factor(int k) => _factor[k];

    /// <summary>Adds one realised |error| / σ of horizon <paramref name="k"/>.</summary>
    /// <param name="k">Horizon index.</param>
    /// <param name="absZ">|error| in units of the RMS-calibrated σ.</param>
    public void Add(int k, double absZ)
    {
        if (!double.IsFinite(absZ)) return;
        var n = _count[k]++;
        _ring[k][n % Window] = absZ;
        n++;
        if (n < MinErrors || n % RecomputeEvery != 0) return;
        var m = Math.Min(n, Window);
        var a = _scratch.AsSpan(0, m);
        _ring[k].AsSpan(0, m).CopyTo(a);
        a.Sort();
        var q = a[(int)Math.Min(m - 1, Math.Floor(0.95 * m))];
        _factor[k] = Math.Clamp(q / Z95, _min, 4.0);
    }
}
