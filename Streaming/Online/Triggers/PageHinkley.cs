namespace StreamLstm.Streaming.Online.Triggers;

/// <summary>
/// Page-Hinkley test for an increase in the mean of a series (here a kind's NLL): the cumulative deviation
/// <c>mₜ = Σ (xᵢ − x̄ᵢ − δ)</c> from the running mean, minus its minimum so far, exceeds λ. Resets after an alarm.
/// </summary>
/// <param name="delta">Tolerated drift δ per observation.</param>
/// <param name="lambda">Alarm threshold λ.</param>
public sealed class PageHinkley(double delta, double lambda)
{
    private double _mean;
    private long _n;
    private double _cumulative;
    private double _minimum;

    /// <summary>Observations since the last reset.</summary>
    public long Count => _n;

    /// <summary>Adds <paramref name="x"/>; true when the mean has drifted upwards (the detector then starts again).</summary>
    /// <param name="x">Observation (non-finite values are ignored).</param>
    /// <returns>Whether drift was detected.</returns>
    public bool Add(double x)
    {
        if (!double.IsFinite(x)) return false;
        _n++;
        _mean += (x - _mean) / _n;
        _cumulative += x - _mean - delta;
        _minimum = Math.Min(_minimum, _cumulative);
        if (_cumulative - _minimum <= lambda) return false;
        Reset();
        return true;
    }

    /// <summary>Starts again from no observations.</summary>
    public void Reset()
    {
        _mean = 0;
        _n = 0;
        _cumulative = 0;
        _minimum = 0;
    }
}
