namespace StreamLstm.Streaming.Eval;

/// <summary>
/// No repeated detections after an alert: once a score reaches <see cref="AlertLevel"/> (a detection), every later score
/// within <see cref="Period"/> rows is capped at <see cref="DemotedLevel"/>; the first score at the alert level after the
/// period is a new detection. NAB rewards only the earliest detection in a window and charges every other one as a false
/// positive, so a burst of high scores around one event should count once. This is HTM's red/yellow likelihood filter
/// (a red score right after a red one becomes yellow) held for a period. NaN passes through.
/// </summary>
public sealed class RefractoryFilter
{
    private long _row;
    private long _lastAlert = long.MinValue;

    /// <summary>Creates the filter.</summary>
    /// <param name="period">Rows after a detection in which scores are capped (0: off).</param>
    /// <param name="alertLevel">Score that counts as a detection.</param>
    /// <param name="demotedLevel">Cap of the scores within the period (below <paramref name="alertLevel"/>).</param>
    public RefractoryFilter(int period, double alertLevel, double demotedLevel)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(period);
        if (!(demotedLevel < alertLevel)) throw new ArgumentOutOfRangeException(nameof(demotedLevel), "The demoted level must be below the alert level.");
        Period = period;
        AlertLevel = alertLevel;
        DemotedLevel = demotedLevel;
    }

    /// <summary>Rows after a detection in which scores are capped.</summary>
    public int Period { get; }

    /// <summary>Score that counts as a detection.</summary>
    public double AlertLevel { get; }

    /// <summary>Cap of the scores within the period.</summary>
    public double DemotedLevel { get; }

    /// <summary>Filters the next row's score.</summary>
    /// <param name="score">Score (NaN: none).</param>
    /// <returns>The score, or <see cref="DemotedLevel"/> when it would repeat a detection within the period.</returns>
    public double Next(double score)
    {
        var row = _row++;
        if (!(score >= AlertLevel)) return score;
        if (_lastAlert != long.MinValue && row - _lastAlert <= Period) return Math.Min(score, DemotedLevel);
        _lastAlert = row;
        return score;
    }
}
