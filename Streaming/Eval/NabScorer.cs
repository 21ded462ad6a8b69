namespace StreamLstm.Streaming.Eval;

/// <summary>NAB cost weights of one scoring profile.</summary>
/// <param name="TpWeight">Weight of a true positive.</param>
/// <param name="FnWeight">Cost of a missed window.</param>
/// <param name="FpWeight">Weight of a false positive.</param>
public sealed record NabProfile(double TpWeight, double FnWeight, double FpWeight)
{
    /// <summary>The NAB "standard" profile.</summary>
    public static NabProfile Standard { get; } = new(1.0, 1.0, 0.11);
}

/// <summary>One labelled series ready for scoring: anomaly windows as inclusive row ranges and the probation length.</summary>
/// <param name="Name">File name.</param>
/// <param name="Rows">Row count.</param>
/// <param name="Probation">Leading rows that are not scored.</param>
/// <param name="Windows">Anomaly windows as inclusive row ranges, in order, not overlapping.</param>
public sealed record NabSeries(string Name, int Rows, int Probation, IReadOnlyList<(int Start, int End)> Windows)
{
    /// <summary>NAB's probation period: the first 15% of the rows, at most 750.</summary>
    /// <param name="rows">Row count.</param>
    /// <returns>Probation rows.</returns>
    public static int ProbationOf(int rows) => Math.Min((int)Math.Floor(0.15 * rows), 750);
}

/// <summary>Raw and normalised NAB scores of one detector on a set of series at one threshold.</summary>
/// <param name="Threshold">Detection threshold (a row detects when its score is at or above it).</param>
/// <param name="Raw">Raw score per series, in input order.</param>
/// <param name="Null">Null-detector score per series.</param>
/// <param name="Perfect">Perfect-detector score per series.</param>
public sealed record NabResult(double Threshold, double[] Raw, double[] Null, double[] Perfect)
{
    /// <summary>Normalised score of series <paramref name="i"/>: 100 (S - S_null) / (S_perfect - S_null).</summary>
    /// <param name="i">Series index.</param>
    /// <returns>The score.</returns>
    public double Normalised(int i) => NabScorer.Normalise(Raw[i], Null[i], Perfect[i]);

    /// <summary>Normalised score over all series (sums first, as NAB does).</summary>
    public double Total => NabScorer.Normalise(Raw.Sum(), Null.Sum(), Perfect.Sum());
}

/// <summary>
/// The NAB scoring method (Ahmad, Lavin, Purdy, Agha 2017): within a window only the first detection counts and earns
/// <c>tpWeight·σ(y)</c> with <c>σ(y) = 2/(1+e^{5y}) − 1</c> and <c>y</c> from −1 at the window start to 0 at its end; a
/// missed window costs <c>−fnWeight</c>; a detection outside every window costs <c>fpWeight·σ(distance after the previous
/// window in window lengths)</c>, or <c>−fpWeight</c> before the first window. Probation rows are not scored. One threshold
/// for all series is chosen to maximise the summed score; the sweep is exact (every distinct score is tried).
/// </summary>
public static class NabScorer
{
    /// <summary>NAB's scaled sigmoid: 1 far before, about 0.987 at a window start, 0 at its end, towards −1 after.</summary>
    /// <param name="y">Relative position.</param>
    /// <returns>The weight in (−1, 1).</returns>
    public static double ScaledSigmoid(double y) => y > 3.0 ? -1.0 : (2.0 / (1.0 + Math.Exp(5.0 * y))) - 1.0;

    /// <summary>100 (S - S_null) / (S_perfect - S_null).</summary>
    /// <param name="raw">Detector score.</param>
    /// <param name="nullScore">Null detector score.</param>
    /// <param name="perfect">Perfect detector score.</param>
    /// <returns>Normalised score (0 for a series without windows).</returns>
    public static double Normalise(double raw, double nullScore, double perfect) =>
        perfect - nullScore <= 0 ? 0.0 : 100.0 * (raw - nullScore) / (perfect - nullScore);

    /// <summary>Raw score of <paramref name="detections"/> (true = detection) on one series.</summary>
    /// <param name="series">Series.</param>
    /// <param name="detections">Per-row detection flags.</param>
    /// <param name="profile">Cost weights.</param>
    /// <returns>Raw score.</returns>
    public static double ScoreDetections(NabSeries series, ReadOnlySpan<bool> detections, NabProfile profile)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(profile);
        if (detections.Length != series.Rows) throw new ArgumentException($"{series.Name}: {detections.Length} flags for {series.Rows} rows.");
        var total = 0.0;
        foreach (var (s, e) in series.Windows)
        {
            var hit = -1;
            for (var i = Math.Max(s, series.Probation); i <= e && hit < 0; i++)
            {
                if (detections[i]) hit = i;
            }

            total += hit < 0 ? -profile.FnWeight : profile.TpWeight * ScaledSigmoid(InWindow(s, e, hit));
        }

        for (var i = series.Probation; i < series.Rows; i++)
        {
            if (detections[i] && FalsePositiveWeight(series, i, out var w)) total += profile.FpWeight * w;
        }

        return total;
    }

    /// <summary>Null (never fires) and perfect (fires at each window's first row) raw scores.</summary>
    /// <param name="series">Series.</param>
    /// <param name="profile">Cost weights.</param>
    /// <returns>The two scores.</returns>
    public static (double Null, double Perfect) Bounds(NabSeries series, NabProfile profile)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(profile);
        var n = series.Windows.Count;
        return (-profile.FnWeight * n, profile.TpWeight * ScaledSigmoid(-1.0) * n);
    }

    /// <summary>Scores every series at the one threshold that maximises the summed raw score.</summary>
    /// <param name="series">Series.</param>
    /// <param name="scores">Per-series, per-row anomaly scores (NaN: no score, never detects).</param>
    /// <param name="profile">Cost weights.</param>
    /// <returns>The best threshold's result (ties: the highest threshold).</returns>
    public static NabResult Optimise(IReadOnlyList<NabSeries> series, IReadOnlyList<double[]> scores, NabProfile profile)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(profile);

        // Each event says: once the threshold drops to Theta or below, series Series gains Delta.
        var events = new List<(double Theta, int Series, double Delta)>();
        for (var f = 0; f < series.Count; f++)
        {
            var s = series[f];
            var sc = scores[f];
            if (sc.Length != s.Rows) throw new ArgumentException($"{s.Name}: {sc.Length} scores for {s.Rows} rows.");
            foreach (var (ws, we) in s.Windows)
            {
                // The first detection is the first prefix-max record at or above the threshold: walk records backwards.
                var records = new List<(int Row, double Value)>();
                var max = double.NegativeInfinity;
                for (var i = Math.Max(ws, s.Probation); i <= we; i++)
                {
                    if (sc[i] > max)
                    {
                        max = sc[i];
                        records.Add((i, sc[i]));
                    }
                }

                var current = -profile.FnWeight;
                for (var k = records.Count - 1; k >= 0; k--)
                {
                    var value = profile.TpWeight * ScaledSigmoid(InWindow(ws, we, records[k].Row));
                    events.Add((records[k].Value, f, value - current));
                    current = value;
                }
            }

            for (var i = s.Probation; i < s.Rows; i++)
            {
                if (!double.IsNaN(sc[i]) && FalsePositiveWeight(s, i, out var w)) events.Add((sc[i], f, profile.FpWeight * w));
            }
        }

        events.Sort((a, b) => b.Theta.CompareTo(a.Theta) is var c && c != 0 ? c : a.Series.CompareTo(b.Series));
        var bounds = series.Select(x => Bounds(x, profile)).ToArray();
        var nulls = bounds.Select(b => b.Null).ToArray();
        var perfect = bounds.Select(b => b.Perfect).ToArray();
        var raw = (double[])nulls.Clone();
        var best = (double[])raw.Clone();
        var bestTotal = raw.Sum();
        var bestTheta = double.PositiveInfinity;
        for (var e = 0; e < events.Count;)
        {
            var theta = events[e].Theta;
            for (; e < events.Count && events[e].Theta == theta; e++) raw[events[e].Series] += events[e].Delta;
            var total = 0.0;
            for (var f = 0; f < raw.Length; f++) total += raw[f];
            if (total > bestTotal + 1e-12)
            {
                bestTotal = total;
                bestTheta = theta;
                raw.CopyTo(best, 0);
            }
        }

        return new NabResult(bestTheta, best, nulls, perfect);
    }

    /// <summary>
    /// Leave one out: for each series, the threshold that maximises the summed score of the other series, applied to it.
    /// Shows whether one threshold transfers to a series it was not chosen on (needs two series or more).
    /// </summary>
    /// <param name="series">Series.</param>
    /// <param name="scores">Per-series, per-row anomaly scores (NaN: never detects).</param>
    /// <param name="profile">Cost weights.</param>
    /// <returns>Per series: the held-out raw score (<see cref="NabResult.Raw"/>) and the threshold it was scored at.</returns>
    public static (NabResult Result, double[] Thresholds) LeaveOneOut(IReadOnlyList<NabSeries> series, IReadOnlyList<double[]> scores, NabProfile profile)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(profile);
        if (series.Count < 2) throw new ArgumentException("Leave one out needs two series or more.", nameof(series));
        var raw = new double[series.Count];
        var thresholds = new double[series.Count];
        for (var f = 0; f < series.Count; f++)
        {
            var others = Enumerable.Range(0, series.Count).Where(i => i != f).ToArray();
            var theta = Optimise(others.Select(i => series[i]).ToArray(), others.Select(i => scores[i]).ToArray(), profile).Threshold;
            thresholds[f] = theta;
            var detections = new bool[series[f].Rows];
            for (var i = 0; i < detections.Length; i++) detections[i] = scores[f][i] >= theta;
            raw[f] = ScoreDetections(series[f], detections, profile);
        }

        var bounds = series.Select(x => Bounds(x, profile)).ToArray();
        return (new NabResult(double.NaN, raw, bounds.Select(b => b.Null).ToArray(), bounds.Select(b => b.Perfect).ToArray()), thresholds);
    }

    private static double InWindow(int start, int end, int row) => -(double)(end - row + 1) / (end - start + 1);

    // False when the row is inside a window (those rows are scored as true positives or not at all).
    private static bool FalsePositiveWeight(NabSeries s, int row, out double weight)
    {
        weight = -1.0;
        foreach (var (ws, we) in s.Windows)
        {
            if (row >= ws && row <= we) return false;
            if (we < row) weight = ScaledSigmoid((double)(row - we) / (we - ws + 1));
        }

        return true;
    }
}
