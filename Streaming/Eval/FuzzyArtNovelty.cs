namespace StreamLstm.Streaming.Eval;

/// <summary>
/// A shape-novelty score in the spirit of ARTime (the best published NAB detector; this is our own compact code): fuzzy ART
/// learns, online, categories of the recent window of the series.
/// <list type="bullet">
/// <item>Each value (averaged over <see cref="Downsample"/> rows) is put on [0, 1] by the range of the first
/// <see cref="Warmup"/> values widened by <see cref="Margin"/> of it on each side, fixed then (no look-ahead; values outside
/// are clipped).</item>
/// <item>The last <see cref="Window"/> such samples, complement coded (<c>I = (x, 1 − x)</c>, so <c>|I| = Window</c>), are
/// presented to fuzzy ART: the categories are ranked by the choice <c>|I ∧ w| / (α + |w|)</c>; the best-ranked one whose match
/// <c>|I ∧ w| / |I|</c> passes the vigilance ρ resonates and learns <c>w ← β (I ∧ w) + (1 − β) w</c>; when none passes, a new
/// category <c>w = I</c> is made.</item>
/// <item>The raw score is <c>1 −</c> the best match of any category before learning: 0 inside a learned category's box,
/// larger the further the window's shape lies from every shape seen.</item>
/// <item>Adaptive vigilance: once <see cref="MaxCategories"/> exist, a window no category passes is absorbed by the
/// best-ranked category and the vigilance is lowered (<c>1 − ρ</c> grows by 1 %), so memory and cost stay bounded and the
/// categories coarsen as a long series keeps producing new shapes.</item>
/// </list>
/// The warm-up values' windows are learned, not scored (NaN until the first window after the warm-up is complete). Fixed
/// storage: nothing is allocated per value.
/// </summary>
public sealed class FuzzyArtNovelty
{
    /// <summary>Growth of <c>1 − ρ</c> each time a window finds no category while the categories are full.</summary>
    public const double VigilanceRelief = 1.01;

    private readonly double[] _warm;
    private readonly double[] _samples;
    private readonly double[] _input;
    private readonly double[] _weights;
    private readonly double[] _norms;
    private int _warmCount, _categories, _pending;
    private long _sampleCount;
    private double _lo, _scale, _sum, _last = double.NaN;

    /// <summary>Creates the score.</summary>
    /// <param name="warmup">Values that fix the normalisation before the first score.</param>
    /// <param name="window">Samples in the window presented to ART.</param>
    /// <param name="downsample">Rows averaged into one sample (the score is held between samples).</param>
    /// <param name="vigilance">Initial vigilance ρ in (0, 1].</param>
    /// <param name="learningRate">Learning rate β in (0, 1] of a resonating category.</param>
    /// <param name="choice">Choice parameter α &gt; 0.</param>
    /// <param name="maxCategories">Categories kept at most (the vigilance is lowered when full).</param>
    /// <param name="margin">Part of the warm-up range added on each side before normalising.</param>
    public FuzzyArtNovelty(int warmup = 300, int window = 8, int downsample = 1, double vigilance = 0.95, double learningRate = 0.1, double choice = 1e-3, int maxCategories = 512, double margin = 0.5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(warmup, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(downsample, 1);
        if (!(vigilance > 0 && vigilance <= 1)) throw new ArgumentOutOfRangeException(nameof(vigilance), "Vigilance must be in (0, 1].");
        if (!(learningRate > 0 && learningRate <= 1)) throw new ArgumentOutOfRangeException(nameof(learningRate), "The learning rate must be in (0, 1].");
        if (!(choice > 0) || !double.IsFinite(choice)) throw new ArgumentOutOfRangeException(nameof(choice), "The choice parameter must be positive.");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCategories, 1);
        if (!(margin >= 0) || !double.IsFinite(margin)) throw new ArgumentOutOfRangeException(nameof(margin), "The margin must be 0 or more.");
        Warmup = warmup;
        Window = window;
        Downsample = downsample;
        Vigilance = vigilance;
        LearningRate = learningRate;
        Choice = choice;
        MaxCategories = maxCategories;
        Margin = margin;
        _warm = new double[warmup];
        _samples = new double[window];
        _input = new double[2 * window];
        _weights = new double[maxCategories * 2 * window];
        _norms = new double[maxCategories];
    }

    /// <summary>Values that fix the normalisation.</summary>
    public int Warmup { get; }

    /// <summary>Samples per window.</summary>
    public int Window { get; }

    /// <summary>Rows averaged into one sample.</summary>
    public int Downsample { get; }

    /// <summary>Current vigilance ρ (lowered while <see cref="MaxCategories"/> are full and windows still find none).</summary>
    public double Vigilance { get; private set; }

    /// <summary>Learning rate β.</summary>
    public double LearningRate { get; }

    /// <summary>Choice parameter α.</summary>
    public double Choice { get; }

    /// <summary>Categories kept at most.</summary>
    public int MaxCategories { get; }

    /// <summary>Part of the warm-up range added on each side.</summary>
    public double Margin { get; }

    /// <summary>Categories learned so far.</summary>
    public int Categories => _categories;

    /// <summary>Scores the next value, then learns its window.</summary>
    /// <param name="value">Value (a non-finite value is skipped and scores NaN).</param>
    /// <returns>The raw novelty in [0, 1] (held between samples), or NaN during the warm-up.</returns>
    public double Next(double value)
    {
        if (!double.IsFinite(value)) return double.NaN;
        if (_warmCount < Warmup)
        {
            _warm[_warmCount++] = value;
            if (_warmCount == Warmup) FixScale();
            return double.NaN;
        }

        return Add(value);
    }

    private void FixScale()
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var v in _warm)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        var range = max - min;
        if (!(range > 0)) range = Math.Max(Math.Abs(max), 1.0);
        _lo = min - (Margin * range);
        _scale = 1.0 / (range * (1 + (2 * Margin)));
        // The warm-up values' windows are learned, not scored.
        foreach (var v in _warm) Add(v);
        _last = double.NaN;
    }

    // Accumulates the row into the current sample; on a full sample, scores and learns the window ending there.
    private double Add(double value)
    {
        _sum += value;
        if (++_pending < Downsample) return _last;
        var x = Math.Clamp(((_sum / Downsample) - _lo) * _scale, 0.0, 1.0);
        _sum = 0;
        _pending = 0;
        _samples[(int)(_sampleCount % Window)] = x;
        _sampleCount++;
        if (_sampleCount < Window) return _last = double.NaN;
        // Oldest sample first: after the increment, _sampleCount % Window is the oldest slot.
        for (var i = 0; i < Window; i++)
        {
            var s = _samples[(int)((_sampleCount + i) % Window)];
            _input[i] = s;
            _input[Window + i] = 1 - s;
        }

        return _last = Present();
    }

    // One fuzzy ART step on _input: returns 1 − the best match, then learns (resonance or a new category).
    private double Present()
    {
        var dim = 2 * Window;
        var input = _input.AsSpan(0, dim);
        double bestMatch = 0, bestChoice = double.NegativeInfinity, topChoice = double.NegativeInfinity;
        int chosen = -1, top = -1;
        for (var j = 0; j < _categories; j++)
        {
            var w = _weights.AsSpan(j * dim, dim);
            double and = 0;
            for (var i = 0; i < dim; i++) and += Math.Min(input[i], w[i]);
            var match = and / Window;
            var choice = and / (Choice + _norms[j]);
            if (match > bestMatch) bestMatch = match;
            if (choice > topChoice)
            {
                topChoice = choice;
                top = j;
            }

            // The resonating category: the highest choice among those passing the vigilance (ties: the older one).
            if (match >= Vigilance && choice > bestChoice)
            {
                bestChoice = choice;
                chosen = j;
            }
        }

        var score = _categories == 0 ? 1.0 : Math.Max(0.0, 1.0 - bestMatch);
        if (chosen < 0 && _categories == MaxCategories)
        {
            Vigilance = 1 - ((1 - Vigilance) * VigilanceRelief);
            chosen = top;
        }

        if (chosen >= 0)
        {
            var w = _weights.AsSpan(chosen * dim, dim);
            double norm = 0;
            for (var i = 0; i < dim; i++)
            {
                w[i] = (LearningRate * Math.Min(input[i], w[i])) + ((1 - LearningRate) * w[i]);
                norm += w[i];
            }

            _norms[chosen] = norm;
        }
        else
        {
            input.CopyTo(_weights.AsSpan(_categories * dim, dim));
            _norms[_categories] = Window;
            _categories++;
        }

        return score;
    }
}
