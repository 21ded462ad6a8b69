namespace StreamLstm.Streaming.Eval;

/// <summary>
/// A contextual novelty score in the spirit of CAD-OSE (NAB's Contextual Anomaly Detector): each value is quantised into a
/// bin of <c>1 / BinsPerSd</c> standard deviations, the mean and spread fixed from the first <see cref="Warmup"/> values;
/// the contexts ending at the current row are the last 1, 2, …, <see cref="MaxContext"/> bins. The score is the fraction
/// of those contexts seen fewer than <see cref="Rare"/> times before, so a pattern of levels the series has never gone
/// through scores high even when each value alone is ordinary. Every context is then counted. NaN during the warm-up.
/// </summary>
public sealed class ContextualNovelty
{
    /// <summary>The longest context supported.</summary>
    public const int MaxSupportedContext = 8;

    private const long BinClamp = 1_000_000;
    private readonly Dictionary<ContextKey, int> _seen = [];
    private readonly double[] _warm;
    private readonly long[] _bins = new long[MaxSupportedContext];
    private int _warmCount;
    private long _count;
    private double _mean, _binWidth;

    /// <summary>Creates the score.</summary>
    /// <param name="warmup">Values that fix the bins (mean and standard deviation) before the first score.</param>
    /// <param name="binsPerSd">Bins per standard deviation of the warm-up values.</param>
    /// <param name="maxContext">Longest context, in bins (1 to <see cref="MaxSupportedContext"/>).</param>
    /// <param name="rare">A context seen fewer times than this counts as novel.</param>
    public ContextualNovelty(int warmup = 300, double binsPerSd = 1.0, int maxContext = 4, int rare = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(warmup, 2);
        if (!(binsPerSd > 0) || !double.IsFinite(binsPerSd)) throw new ArgumentOutOfRangeException(nameof(binsPerSd), "Bins per standard deviation must be positive.");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxContext, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxContext, MaxSupportedContext);
        ArgumentOutOfRangeException.ThrowIfLessThan(rare, 1);
        _warm = new double[warmup];
        Warmup = warmup;
        BinsPerSd = binsPerSd;
        MaxContext = maxContext;
        Rare = rare;
    }

    /// <summary>Values that fix the bins.</summary>
    public int Warmup { get; }

    /// <summary>Bins per standard deviation.</summary>
    public double BinsPerSd { get; }

    /// <summary>Longest context, in bins.</summary>
    public int MaxContext { get; }

    /// <summary>A context seen fewer times than this counts as novel.</summary>
    public int Rare { get; }

    /// <summary>Scores the next value, then counts its contexts.</summary>
    /// <param name="value">Value (a non-finite value is skipped and scores NaN).</param>
    /// <returns>The fraction of novel contexts in [0, 1], or NaN during the warm-up.</returns>
    public double Next(double value)
    {
        if (!double.IsFinite(value)) return double.NaN;
        if (_warmCount < Warmup)
        {
            _warm[_warmCount++] = value;
            if (_warmCount == Warmup) FixBins();
            return double.NaN;
        }

        return Count(value);
    }

    private void FixBins()
    {
        double sum = 0;
        foreach (var v in _warm) sum += v;
        _mean = sum / _warm.Length;
        double sq = 0;
        foreach (var v in _warm) sq += (v - _mean) * (v - _mean);
        var sd = Math.Sqrt(sq / _warm.Length);
        if (!(sd > 0)) sd = 1.0;
        _binWidth = sd / BinsPerSd;
        // The warm-up values' own contexts are learned, not scored.
        foreach (var v in _warm) Count(v);
    }

    // Appends the value's bin, returns the fraction of the contexts ending here seen fewer than Rare times, and counts them.
    private double Count(double value)
    {
        var bin = (long)Math.Clamp(Math.Floor((value - _mean) / _binWidth), -BinClamp, BinClamp);
        _bins[(int)(_count % MaxSupportedContext)] = bin;
        _count++;
        var novel = 0;
        var lengths = (int)Math.Min(MaxContext, _count);
        Span<long> b = stackalloc long[MaxSupportedContext];
        for (var l = 0; l < lengths; l++)
        {
            // b[0] is the newest bin, b[l] the bin l rows back; the key of length l + 1 holds b[0..l].
            b[l] = _bins[(int)((_count - 1 - l) % MaxSupportedContext)];
            var key = new ContextKey(l + 1, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
            _seen.TryGetValue(key, out var c);
            if (c < Rare) novel++;
            _seen[key] = c + 1;
        }

        return (double)novel / MaxContext;
    }

    private readonly record struct ContextKey(int Length, long B0, long B1, long B2, long B3, long B4, long B5, long B6, long B7);
}
