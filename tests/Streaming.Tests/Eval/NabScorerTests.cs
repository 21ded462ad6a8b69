using StreamLstm.Streaming.Eval;

namespace StreamLstm.Streaming.Tests.Eval;

/// <summary>The NAB scorer on a hand-made 100-row series: probation 15 rows, windows at rows 30..39 and 70..79.</summary>
public class NabScorerTests
{
    private static readonly NabSeries Series = new("tiny.csv", 100, NabSeries.ProbationOf(100), [(30, 39), (70, 79)]);

    private static double[] Zeros() => new double[Series.Rows];

    private static NabResult Optimise(double[] scores) => NabScorer.Optimise([Series], [scores], NabProfile.Standard);

    [Fact]
    public void Probation_Is15PercentCappedAt750()
    {
        Assert.Equal(15, Series.Probation);
        Assert.Equal(750, NabSeries.ProbationOf(22695));
    }

    [Fact]
    public void PerfectDetector_Scores100_NullScores0()
    {
        var perfect = Zeros();
        perfect[30] = 1;
        perfect[70] = 1;
        Assert.Equal(100.0, Optimise(perfect).Total, 9);
        Assert.Equal(0.0, Optimise(Zeros()).Total, 9);
        Assert.Equal(-2.0, Optimise(Zeros()).Raw[0], 12);
    }

    [Fact]
    public void LateDetection_ScoresLessThanEarly()
    {
        var early = Zeros();
        early[31] = 1;
        var late = Zeros();
        late[38] = 1;
        var e = Optimise(early).Total;
        var l = Optimise(late).Total;
        Assert.True(e > l, $"early {e} should beat late {l}");
        Assert.True(l > 0, $"a late hit ({l}) still beats missing the window");
    }

    [Fact]
    public void OnlyFirstDetectionInAWindowCounts()
    {
        var once = Zeros();
        once[31] = 1;
        var many = (double[])once.Clone();
        for (var i = 32; i <= 39; i++) many[i] = 1;
        Assert.Equal(Optimise(once).Total, Optimise(many).Total, 12);
    }

    [Fact]
    public void FalsePositive_Costs_FarMoreThanJustAfterAWindow_AndProbationIsFree()
    {
        var perfect = Zeros();
        perfect[30] = 1;
        perfect[70] = 1;
        var flags = perfect.Select(s => s > 0).ToArray();
        var baseScore = NabScorer.ScoreDetections(Series, flags, NabProfile.Standard);

        // Before any window: the full fpWeight.
        var before = (bool[])flags.Clone();
        before[20] = true;
        Assert.Equal(baseScore - 0.11, NabScorer.ScoreDetections(Series, before, NabProfile.Standard), 12);

        // Right after a window costs less than far after it.
        var near = (bool[])flags.Clone();
        near[40] = true;
        var far = (bool[])flags.Clone();
        far[65] = true;
        var nearScore = NabScorer.ScoreDetections(Series, near, NabProfile.Standard);
        var farScore = NabScorer.ScoreDetections(Series, far, NabProfile.Standard);
        Assert.True(nearScore < baseScore && farScore < nearScore, $"base {baseScore}, near {nearScore}, far {farScore}");

        // Probation rows are not scored.
        var probation = (bool[])flags.Clone();
        probation[5] = true;
        Assert.Equal(baseScore, NabScorer.ScoreDetections(Series, probation, NabProfile.Standard), 12);
    }

    [Fact]
    public void Optimise_ChoosesTheThresholdThatMaximisesTheScore_AndMatchesDirectScoring()
    {
        // Scores 0.9 at both window starts, 0.5 noise spikes outside: the best threshold keeps the hits and drops the noise.
        var scores = Zeros();
        scores[30] = 0.9;
        scores[72] = 0.9;
        scores[50] = 0.5;
        scores[90] = 0.5;
        var r = Optimise(scores);
        Assert.Equal(0.9, r.Threshold);
        var flags = scores.Select(s => s >= r.Threshold).ToArray();
        Assert.Equal(NabScorer.ScoreDetections(Series, flags, NabProfile.Standard), r.Raw[0], 12);

        // Any other threshold scores no more.
        foreach (var t in new[] { 0.0, 0.5, 1.0 })
        {
            var other = NabScorer.ScoreDetections(Series, scores.Select(s => s >= t).ToArray(), NabProfile.Standard);
            Assert.True(other <= r.Raw[0] + 1e-12, $"threshold {t} scored {other} > optimum {r.Raw[0]}");
        }
    }
}
