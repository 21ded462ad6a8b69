using StreamLstm.Streaming.Eval;
using StreamLstm.Streaming.Tests.Eval.Forecast;

namespace StreamLstm.Streaming.Tests.Eval;

/// <summary>The pieces of the fused online NAB detector: spatial novelty, the trailing-window value surprise, the refractory
/// filter, the NaN-aware fusion, component parsing, and the leave-one-out threshold figure.</summary>
public class NabFusionTests
{
    [Fact]
    public void SpatialNovelty_FlagsOnlyValuesOutsideTheWidenedRangeSeenSoFar()
    {
        var s = new SpatialNovelty(0.05);
        Assert.Equal(0, s.Next(10));   // nothing seen yet
        Assert.Equal(0, s.Next(20));   // range still empty (one value): no flag, range becomes [10, 20]
        Assert.Equal(0, s.Next(20.4)); // within the 5 % margin (0.5) above the max
        Assert.Equal(1, s.Next(21));   // beyond it
        Assert.Equal(0, s.Next(21));   // the range took 21 in
        Assert.Equal(0, s.Next(9.6));  // margin is now 0.55 below 10
        Assert.Equal(1, s.Next(5));
        Assert.Equal(0, s.Next(double.NaN));
        Assert.Equal(0, s.Next(15));
    }

    [Fact]
    public void TrailingGaussianSurprise_MatchesTheWindowedGaussianBaseline_RowForRow()
    {
        var rng = new Random(3);
        var values = Enumerable.Range(0, 500).Select(i => (i % 17) + rng.NextDouble() + (i > 400 ? 30 : 0)).ToArray();
        var expected = NabDetectors.WindowedGaussian(values, 64);
        var online = new TrailingGaussianSurprise(64);
        var got = values.Select(online.Next).ToArray();
        Assert.Equal(expected, got);
        Assert.True(double.IsNaN(got[1]) && double.IsFinite(got[2]));
    }

    [Fact]
    public void TrailingGaussianSurprise_IsCapped_AndAFlatWindowMakesAnyChangeMaximal()
    {
        var t = new TrailingGaussianSurprise(10, 20);
        for (var i = 0; i < 10; i++) t.Next(5);
        Assert.Equal(0, t.Next(5));
        Assert.Equal(20, t.Next(6));
    }

    [Fact]
    public void RefractoryFilter_KeepsTheFirstDetectionOfABurst_DemotesRepeats_AndFiresAgainAfterThePeriod()
    {
        var f = new RefractoryFilter(period: 3, alertLevel: 0.5, demotedLevel: 0.3);
        double[] input = [0.1, 0.9, 0.8, 0.2, 0.7, 0.6, double.NaN, 0.4, 0.95];
        var output = input.Select(f.Next).ToArray();
        // Row 1 detects; rows 2 and 4 are within 3 rows of it and are demoted; row 5 (4 rows after) detects again;
        // row 8 is 3 rows after row 5: demoted. Scores under the level and NaN pass untouched.
        Assert.Equal([0.1, 0.9, 0.3, 0.2, 0.3, 0.6, double.NaN, 0.4, 0.3], output);
    }

    [Fact]
    public void RefractoryFilter_PeriodZero_PassesEveryScore()
    {
        var f = new RefractoryFilter(0, 0.5, 0.3);
        double[] input = [0.9, 0.9, 0.9, 0.1];
        Assert.Equal(input, input.Select(f.Next).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => new RefractoryFilter(5, 0.5, 0.5));
    }

    [Fact]
    public void Levels_AreTheLikelihoodsRedAndYellowTails()
    {
        Assert.Equal(0.5, NabDetectors.AlertLevel);
        Assert.Equal(3.0 / 8, NabDetectors.DemotedLevel);
        Assert.True(NabDetectors.DemotedLevel < NabDetectors.AlertLevel);
    }

    [Fact]
    public void MaxOf_TreatsNaNAsAbsent()
    {
        Assert.Equal(0.4, NabDetectors.MaxOf(double.NaN, 0.4));
        Assert.Equal(0.4, NabDetectors.MaxOf(0.4, double.NaN));
        Assert.Equal(0.7, NabDetectors.MaxOf(0.4, 0.7));
        Assert.True(double.IsNaN(NabDetectors.MaxOf(double.NaN, double.NaN)));
    }

    [Theory]
    [InlineData("all", NabComponents.All)]
    [InlineData("lstm", NabComponents.Lstm)]
    [InlineData("lstm, spatial", NabComponents.Lstm | NabComponents.Spatial)]
    [InlineData("VALUE,spatial", NabComponents.Value | NabComponents.Spatial)]
    [InlineData("context", NabComponents.Context)]
    [InlineData("lstm,value,spatial,context", NabComponents.All)]
    [InlineData("art", NabComponents.Art)]
    [InlineData("all,art", NabComponents.All | NabComponents.Art)]
    public void Components_Parse(string text, NabComponents expected)
    {
        Assert.True(NabEvalCommand.TryParseComponents(text, out var c));
        Assert.Equal(expected, c);
        Assert.True(NabEvalCommand.TryParseComponents(NabEvalCommand.DescribeComponents(c), out var again));
        Assert.Equal(c, again);
    }

    [Theory]
    [InlineData("")]
    [InlineData("lstm,bogus")]
    [InlineData(",")]
    public void Components_RejectUnknownOrEmpty(string text) => Assert.False(NabEvalCommand.TryParseComponents(text, out _));

    [Fact]
    public void Art_IsNotInTheDefault_AndAddsItsDetectionsWhenAsked()
    {
        Assert.False(NabComponents.All.HasFlag(NabComponents.Art));
        // A cycle whose shape breaks at row 1500 (a flat stretch at a level the cycle passes through): no value is out of range.
        var times = Enumerable.Range(0, 2000).Select(i => 1_400_000_000_000L + (i * 300_000L)).ToArray();
        var values = Enumerable.Range(0, 2000).Select(i => i is >= 1500 and < 1530 ? 0.5 : Math.Sin(2 * Math.PI * i / 16)).ToArray();
        var file = new NabFile(new NabSeries("cat/x.csv", values.Length, NabSeries.ProbationOf(values.Length), [(1490, 1560)]), times, values);
        var without = NabDetectors.Online(file, new NabLstmSettings { Components = NabComponents.Value | NabComponents.Spatial, Refractory = 0 });
        var with = NabDetectors.Online(file, new NabLstmSettings { Components = NabComponents.Value | NabComponents.Spatial | NabComponents.Art, Refractory = 0 });
        var artOnly = NabDetectors.Online(file, new NabLstmSettings { Components = NabComponents.Art, Refractory = 0 });
        Assert.Contains(Enumerable.Range(1500, 30), i => artOnly[i] >= NabDetectors.AlertLevel);
        Assert.DoesNotContain(Enumerable.Range(600, 800), i => artOnly[i] >= NabDetectors.AlertLevel);
        for (var i = 0; i < values.Length; i++) Assert.Equal(NabDetectors.MaxOf(without[i], artOnly[i]), with[i]);
    }

    [Fact]
    public void OnlineDetector_FusedWithSpatialAndRefractory_DetectsAShiftOnce_AndLstmAloneWithoutRefractoryRepeats()
    {
        var s = ForecastTestData.Sine(1200, 48, 1.0);
        var values = s.Values.Select((v, i) => v + (i >= 1000 ? 40 : 0)).ToArray();
        var file = new NabFile(new NabSeries("cat/x.csv", values.Length, NabSeries.ProbationOf(values.Length), [(990, 1010)]), s.TimesMs!, values);
        var fused = NabDetectors.Online(file, new NabLstmSettings { Hidden = 8, Online = ForecastTestData.Small() });
        var alerts = Enumerable.Range(0, values.Length).Where(i => fused[i] >= NabDetectors.AlertLevel).ToArray();
        Assert.Contains(1000, alerts); // the new level is outside the range seen: spatial flags it at once
        for (var k = 1; k < alerts.Length; k++) Assert.True(alerts[k] - alerts[k - 1] > NabDetectors.DefaultRefractory, $"detections at {alerts[k - 1]} and {alerts[k]} are within the refractory period");

        var raw = NabDetectors.Online(file, new NabLstmSettings { Hidden = 8, Online = ForecastTestData.Small(), Components = NabComponents.Lstm, Refractory = 0 });
        var rawAlerts = Enumerable.Range(1000, 200).Count(i => raw[i] >= NabDetectors.AlertLevel);
        Assert.True(rawAlerts > 1, $"without the filter the LSTM's likelihood stays high for several rows after the shift ({rawAlerts})");
    }

    [Fact]
    public void LeaveOneOut_ScoresEachSeriesAtTheThresholdChosenOnTheOthers()
    {
        NabSeries Make(string name) => new(name, 100, NabSeries.ProbationOf(100), [(30, 39)]);
        var series = new[] { Make("a.csv"), Make("b.csv"), Make("c.csv") };
        // a and b agree that 0.8 separates hits from noise; c's hit is only 0.6 (its noise 0.5), so the others' threshold misses it.
        var scores = new[] { new double[100], new double[100], new double[100] };
        scores[0][31] = 0.8; scores[0][60] = 0.5;
        scores[1][32] = 0.9; scores[1][70] = 0.6;
        scores[2][31] = 0.6; scores[2][80] = 0.5;
        var (result, thresholds) = NabScorer.LeaveOneOut(series, scores, NabProfile.Standard);
        for (var f = 0; f < 3; f++)
        {
            var others = Enumerable.Range(0, 3).Where(i => i != f).ToArray();
            var theta = NabScorer.Optimise(others.Select(i => series[i]).ToArray(), others.Select(i => scores[i]).ToArray(), NabProfile.Standard).Threshold;
            Assert.Equal(theta, thresholds[f]);
            Assert.Equal(NabScorer.ScoreDetections(series[f], scores[f].Select(x => x >= theta).ToArray(), NabProfile.Standard), result.Raw[f], 12);
        }

        Assert.Equal(0.0, result.Normalised(2), 9); // c held out: missed, as the null detector
        Assert.True(result.Normalised(0) > 90);
        Assert.True(result.Total < NabScorer.Optimise(series, scores, NabProfile.Standard).Total);
        Assert.Throws<ArgumentException>(() => NabScorer.LeaveOneOut([series[0]], [scores[0]], NabProfile.Standard));
    }
}
