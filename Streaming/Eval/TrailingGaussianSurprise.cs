using StreamLstm.Sink.Anomaly;

namespace StreamLstm.Streaming.Eval;

/// <summary>
/// One value at a time, the surprise <c>−log10 p</c> (two-sided Gaussian tail, capped) of a value under the mean and
/// standard deviation of the preceding <see cref="Window"/> values: the windowed Gaussian's raw score, computed online so it
/// can be fused with the LSTM's. It reacts to a value far from the recent distribution (a level the series left long ago).
/// </summary>
public sealed class TrailingGaussianSurprise
{
    private readonly double[] _ring;
    private readonly double _cap;
    private long _seen;
    private double _sum, _sumSq;

    /// <summary>Creates the scorer.</summary>
    /// <param name="window">Trailing window length (NAB's windowed Gaussian: 6400).</param>
    /// <param name="cap">Cap of the surprise.</param>
    public TrailingGaussianSurprise(int window = 6400, double cap = 300)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 2);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cap);
        _ring = new double[window];
        _cap = cap;
    }

    /// <summary>Trailing window length.</summary>
    public int Window => _ring.Length;

    /// <summary>Scores the value against the window (NaN until two values are in it), then takes it in.</summary>
    /// <param name="value">Finite value.</param>
    /// <returns>The surprise in [0, cap], or NaN.</returns>
    public double Next(double value)
    {
        var count = (int)Math.Min(_seen, _ring.Length);
        var score = double.NaN;
        if (count >= 2)
        {
            var mean = _sum / count;
            var std = Math.Sqrt(Math.Max(0.0, (_sumSq / count) - (mean * mean)));
            // A flat window: any other value is as surprising as the cap allows.
            var z = std > 1e-12 ? (value - mean) / std : (value == mean ? 0.0 : 1e3);
            score = Math.Min(GaussianTail.Surprise(GaussianTail.LogTwoSidedP(z)), _cap);
        }

        // Same summation order as NabDetectors.WindowedGaussian (add the new value, then drop the oldest), so the two agree bit for bit.
        var slot = (int)(_seen % _ring.Length);
        var full = _seen >= _ring.Length;
        var oldest = _ring[slot];
        _ring[slot] = value;
        _sum += value;
        _sumSq += value * value;
        if (full)
        {
            _sum -= oldest;
            _sumSq -= oldest * oldest;
        }

        _seen++;
        return score;
    }
}
