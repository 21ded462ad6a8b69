using StreamLstm.Streaming.Eval;
using StreamLstm.Streaming.Eval.Forecast;
using StreamLstm.Streaming.Tests.Eval.Forecast;

namespace StreamLstm.Streaming.Tests.Eval;

/// <summary>The rolling anomaly likelihood and the online NAB detector.</summary>
public class AnomalyLikelihoodTests
{
    [Fact]
    public void Likelihood_IsNaNWhileLearning_LowForUsualScores_HighForAnUnusualRun()
    {
        var l = new AnomalyLikelihood();
        var rng = new Random(5);
        var scores = new List<double>();
        for (var i = 0; i < 1000; i++) scores.Add(l.Next(0.3 + (0.1 * rng.NextDouble())));
        Assert.All(scores.Take(AnomalyLikelihood.MinHistory), s => Assert.True(double.IsNaN(s)));
        Assert.True(scores.Skip(AnomalyLikelihood.MinHistory).Max() < 0.5, "usual raw scores stay low");
        var peak = 0.0;
        for (var i = 0; i < 5; i++) peak = Math.Max(peak, l.Next(1.0));
        Assert.True(peak > 0.9, $"a run of extreme raw scores should be very unlikely (score {peak})");
        Assert.True(double.IsNaN(l.Next(double.NaN)));
    }

    [Fact]
    public void Likelihood_IsScaleFree_TheSameScoresForRawScoresTimesTen()
    {
        var a = new AnomalyLikelihood();
        var b = new AnomalyLikelihood();
        var rng = new Random(9);
        for (var i = 0; i < 600; i++)
        {
            var r = rng.NextDouble() + (i > 550 ? 2 : 0);
            Assert.Equal(a.Next(r), b.Next(10 * r), 6);
        }
    }

    [Fact]
    public void ShortWindow_AveragesMoreRawScores_SoOneSpikeWeighsLess()
    {
        var ten = new AnomalyLikelihood();
        var twenty = new AnomalyLikelihood(20);
        Assert.Equal(AnomalyLikelihood.ShortWindow, ten.Short);
        Assert.Equal(20, twenty.Short);
        var rng = new Random(7);
        for (var i = 0; i < 600; i++)
        {
            var r = 0.3 + (0.1 * rng.NextDouble());
            ten.Next(r);
            twenty.Next(r);
        }

        // One spike moves a 20-score mean half as far as a 10-score mean: the longer window scores it lower.
        var a = ten.Next(5.0);
        var b = twenty.Next(5.0);
        Assert.True(b < a, $"one spike: {b} with 20 scores, {a} with 10");
        Assert.Throws<ArgumentOutOfRangeException>(() => new AnomalyLikelihood(0));
    }

    [Fact]
    public void OnlineDetector_PeaksAtAnInjectedLevelShift_AndIsDeterministic()
    {
        var s = ForecastTestData.Sine(1200, 48, 1.0);
        var values = s.Values.Select((v, i) => v + (i >= 1000 ? 40 : 0)).ToArray();
        var series = new NabSeries("cat/x.csv", values.Length, NabSeries.ProbationOf(values.Length), [(990, 1010)]);
        var file = new NabFile(series, s.TimesMs!, values);
        var settings = new NabLstmSettings { Hidden = 8, Online = ForecastTestData.Small() };
        var scores = NabDetectors.Online(file, settings);
        var again = NabDetectors.Online(file, new NabLstmSettings { Hidden = 8, Online = ForecastTestData.Small() });
        Assert.Equal(scores, again);
        var before = scores.Skip(400).Take(590).Where(double.IsFinite).Max();
        var at = scores.Skip(1000).Take(10).Max();
        Assert.True(at > before, $"the shift scores {at}, above anything before it ({before}): {string.Join(" ", scores.Skip(990).Take(30).Select(x => x.ToString("F3")))}");
        Assert.All(scores.Where(double.IsFinite), x => Assert.InRange(x, 0, 1));
    }
}
