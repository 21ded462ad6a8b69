namespace StreamLstm.Streaming.Eval;

/// <summary>
/// HTM's "spatial anomaly" flag as NAB's Numenta detector raises it: a value outside the range seen so far, widened by
/// <see cref="Tolerance"/> of that range on each side, scores 1; any other value scores 0. The range then takes the value in.
/// It catches a level the series has never reached, which a forecaster that follows the level would soon stop finding surprising.
/// </summary>
public sealed class SpatialNovelty
{
    private double _min = double.NaN, _max = double.NaN;

    /// <summary>Creates the flag.</summary>
    /// <param name="tolerance">Margin as a fraction of the range seen (NAB's detector: 0.05).</param>
    public SpatialNovelty(double tolerance = 0.05)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        Tolerance = tolerance;
    }

    /// <summary>Margin as a fraction of the range seen so far.</summary>
    public double Tolerance { get; }

    /// <summary>Scores the next value (1: outside the widened range seen so far; 0 otherwise, and while the range is empty), then widens the range.</summary>
    /// <param name="value">Value (a non-finite value scores 0 and is not taken in).</param>
    /// <returns>1 or 0.</returns>
    public double Next(double value)
    {
        if (!double.IsFinite(value)) return 0;
        var score = 0.0;
        if (_max > _min)
        {
            var margin = (_max - _min) * Tolerance;
            if (value > _max + margin || value < _min - margin) score = 1;
        }

        if (double.IsNaN(_min))
        {
            _min = value;
            _max = value;
        }
        else
        {
            _min = Math.Min(_min, value);
            _max = Math.Max(_max, value);
        }

        return score;
    }
}
