using StreamLstm.Sink.Anomaly;

namespace StreamLstm.Streaming.Eval;

/// <summary>
/// A rolling anomaly likelihood in the manner of NAB's: the mean of the last <see cref="Short"/> raw scores is
/// compared with the distribution (mean, standard deviation) of such short means over the last <see cref="LongWindow"/>
/// rows; the likelihood L is the Gaussian probability of a short mean no higher than this one, reported on a log scale in
/// [0, 1): with <c>u = −log10(1 − L)</c>, the score is <c>u / (u + 5)</c> (0.5 means a tail of 1e-5). Scores from different series become comparable,
/// so one threshold transfers across files. NaN until <see cref="MinHistory"/> raw scores have been seen.
/// </summary>
public sealed class AnomalyLikelihood
{
    /// <summary>Raw scores averaged into the short mean, by default (NAB's).</summary>
    public const int ShortWindow = 10;

    /// <summary>Short means the distribution is estimated from.</summary>
    public const int LongWindow = 8640;

    /// <summary>Raw scores needed before a likelihood is reported.</summary>
    public const int MinHistory = 300;

    private readonly double[] _short;
    private readonly double[] _long = new double[LongWindow];
    private int _shortCount, _longCount;
    private long _seen;
    private double _shortSum, _longSum, _longSumSq;

    /// <summary>Creates the likelihood.</summary>
    /// <param name="shortWindow">Raw scores averaged into the short mean (a longer one smooths a noisy raw score).</param>
    public AnomalyLikelihood(int shortWindow = ShortWindow)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shortWindow, 1);
        _short = new double[shortWindow];
    }

    /// <summary>Raw scores averaged into the short mean.</summary>
    public int Short => _short.Length;

    /// <summary>The score of a tail surprise <c>u = −log10(tail)</c>: <c>u / (u + 5)</c> (0.5 at a tail of 1e-5).</summary>
    /// <param name="surprise">u ≥ 0.</param>
    /// <returns>The score in [0, 1).</returns>
    public static double ScoreOfSurprise(double surprise) => surprise / (surprise + 5);

    /// <summary>Takes the next raw score (NaN: none, skipped) and returns the likelihood score in [0, 1] (NaN while learning).</summary>
    /// <param name="raw">Raw anomaly score.</param>
    /// <returns>The score.</returns>
    public double Next(double raw)
    {
        if (!double.IsFinite(raw)) return double.NaN;
        var si = (int)(_seen % _short.Length);
        if (_shortCount == _short.Length) _shortSum -= _short[si];
        else _shortCount++;
        _short[si] = raw;
        _shortSum += raw;
        var mean = _shortSum / _shortCount;
        double score = double.NaN;
        if (_longCount >= MinHistory)
        {
            var m = _longSum / _longCount;
            var sd = Math.Sqrt(Math.Max(0, (_longSumSq / _longCount) - (m * m)));
            // A floor on the spread: a perfectly flat history would otherwise make any change infinitely unlikely.
            sd = Math.Max(sd, 1e-3 * (Math.Abs(m) + 1e-3));
            var z = (mean - m) / sd;
            // Surprise of the one-sided tail, mapped monotonically into [0, 1) without saturating (a threshold can still separate far tails).
            var surprise = z <= 0 ? 0 : GaussianTail.Surprise(GaussianTail.LogTwoSidedP(z) - Math.Log(2));
            score = ScoreOfSurprise(surprise);
        }

        // The distribution learns from this short mean after it has been scored.
        var li = (int)(_seen % LongWindow);
        if (_longCount == LongWindow)
        {
            _longSum -= _long[li];
            _longSumSq -= _long[li] * _long[li];
        }
        else
        {
            _longCount++;
        }

        _long[li] = mean;
        _longSum += mean;
        _longSumSq += mean * mean;
        _seen++;
        return score;
    }
}
