namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>
/// The values seen so far and the running statistics every forecaster shares: the RMS of one-step changes (the scale of
/// the LSTM's features and targets and of the AR's regressors), an exponential mean and deviation of the level, and the
/// seasonal period, detected from the history alone at rows 256, 512, 1024, … and then every 4096 rows.
/// </summary>
public sealed class SeriesHistory
{
    /// <summary>Largest period tried.</summary>
    public const int MaxPeriod = 2000;

    /// <summary>Rows of history the detection looks at.</summary>
    public const int DetectionSpan = 3 * MaxPeriod;

    private const double DiffAlpha = 1.0 / 64;
    private const double ScaleFloor = 0.25;
    private const double LevelAlpha = 1.0 / 256;
    private readonly List<double> _values = [];
    private readonly List<(int Row, int Period)> _periods = [];
    private double _diffSq, _diffW, _mean, _var, _levelW, _allDiffSq;

    /// <summary>Rows appended.</summary>
    public int Count => _values.Count;

    /// <summary>Row <paramref name="i"/>'s value.</summary>
    /// <param name="i">Row.</param>
    public double this[int i] => _values[i];

    /// <summary>Current period (0: none detected).</summary>
    public int Period { get; private set; }

    /// <summary>Every detection: the row it ran at and the period found.</summary>
    public IReadOnlyList<(int Row, int Period)> Periods => _periods;

    /// <summary>RMS of recent one-step changes (never 0).</summary>
    public double DiffScale { get; private set; } = 1;

    /// <summary>The latest value's deviation from the exponential mean, in exponential standard deviations.</summary>
    public double LevelZ { get; private set; }

    /// <summary>Appends row t's value and updates the statistics (and the period on detection rows).</summary>
    /// <param name="value">Value.</param>
    public void Append(double value)
    {
        var n = _values.Count;
        if (n > 0)
        {
            var d = value - _values[n - 1];
            _diffSq = ((1 - DiffAlpha) * _diffSq) + (DiffAlpha * d * d);
            _diffW = ((1 - DiffAlpha) * _diffW) + DiffAlpha;
            _allDiffSq += d * d;
        }

        _values.Add(value);
        var delta = value - _mean;
        _levelW = ((1 - LevelAlpha) * _levelW) + LevelAlpha;
        _mean += delta * LevelAlpha / _levelW;
        _var = ((1 - (LevelAlpha / _levelW)) * _var) + (LevelAlpha / _levelW * delta * (value - _mean));
        var floor = 1e-9 * (Math.Abs(value) + 1);
        // Floored at a fraction of the long-run RMS change, so that a long flat stretch does not shrink the scale to nothing.
        if (n > 0) floor = Math.Max(floor, ScaleFloor * Math.Sqrt(_allDiffSq / n));
        DiffScale = _diffW > 0 ? Math.Max(Math.Sqrt(_diffSq / _diffW), floor) : Math.Max(0.01 * Math.Abs(value), 1e-6);
        LevelZ = _var > 0 ? (value - _mean) / Math.Sqrt(_var) : 0;
        n++;
        if ((n >= 256 && (n & (n - 1)) == 0 && n <= 4096) || (n > 4096 && n % 4096 == 0))
        {
            var span = Math.Min(n, DetectionSpan);
            Period = PeriodDetector.Detect(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_values).Slice(n - span, span), MaxPeriod);
            _periods.Add((n - 1, Period));
        }
    }

    /// <summary>The seasonal-naive forecast of row t+k made at the latest row t: the value one (or more) seasons before it; the latest value without a period.</summary>
    /// <param name="k">Horizon ≥ 1.</param>
    /// <returns>The value (NaN when the history is too short).</returns>
    public double SeasonalValue(int k)
    {
        var t = _values.Count - 1;
        if (Period <= 0) return _values[t];
        var back = Period * ((k + Period - 1) / Period);
        var row = t + k - back;
        return row >= 0 ? _values[row] : double.NaN;
    }
}
