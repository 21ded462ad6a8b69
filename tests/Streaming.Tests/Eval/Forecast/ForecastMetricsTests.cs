using StreamLstm.Streaming.Eval.Forecast;

namespace StreamLstm.Streaming.Tests.Eval.Forecast;

/// <summary>Metrics on a hand-computed series.</summary>
public class ForecastMetricsTests
{
    [Fact]
    public void Metrics_MatchHandComputedValues()
    {
        // actual 2, 4, 5, 10; forecasts 1, 4, 7, 10 with σ = 1: errors 1, 0, −2, 0.
        var m = new ForecastMetrics();
        double[] actual = [2, 4, 5, 10];
        double[] mu = [1, 4, 7, 10];
        for (var i = 0; i < 4; i++) m.Add(actual[i], mu[i], 1.0);
        var std = ForecastMetrics.StandardDeviation(actual); // mean 5.25, population std sqrt(8.6875)
        Assert.Equal(Math.Sqrt(8.6875), std, 12);
        var r = m.Result(std);
        Assert.Equal(4, r.Count);
        Assert.Equal(Math.Sqrt(5.0 / 4), r.Rmse, 12);
        Assert.Equal(Math.Sqrt(5.0 / 4) / Math.Sqrt(8.6875), r.Nrmse, 12);
        Assert.Equal(3.0 / 4, r.Mae, 12);
        Assert.Equal(100 * ((1.0 / 2) + (2.0 / 5)) / 4, r.Mape, 12);
        // NLL with σ = 1: ½z² + ½ln 2π per row.
        Assert.Equal((0.5 * 5.0 / 4) + (0.5 * Math.Log(2 * Math.PI)), r.Nll, 12);
        // |z| = 1, 0, 2, 0: inside ±1.2816σ three of four, inside ±1.96σ also three of four (2 > 1.96).
        Assert.Equal(0.75, r.Coverage80, 12);
        Assert.Equal(0.75, r.Coverage95, 12);
    }

    [Fact]
    public void Score_UsesOnlyRowsWhereEveryModelHasAForecast()
    {
        double[] values = [1, 2, 3, 4];
        // Model A forecasts rows 1..3, model B only rows 2..3 (K = 1): both are scored on rows 2 and 3 only.
        double[] muA = [double.NaN, 2, 2, 2];
        double[] muB = [double.NaN, double.NaN, 3, 5];
        double[] sd = [1, 1, 1, 1];
        var r = ForecastEvaluation.Score(values, 1, [muA, muB], [sd, sd], 1.0);
        Assert.Equal(2, r[0][0].Count);
        Assert.Equal(2, r[1][0].Count);
        Assert.Equal((1 + 2) / 2.0, r[0][0].Mae, 12);
        Assert.Equal((0 + 1) / 2.0, r[1][0].Mae, 12);
    }

    [Fact]
    public void Goals_AreJudgedAtHorizon1AndK_AndOnCoverage()
    {
        static HorizonMetrics H(double nrmse, double cov95) => new(10, nrmse, 0, 0, 0, 0, 0.8, cov95);
        var series = ForecastTestData.Sine(10, 5, 0);
        using var learner = new OnlineLstmLearner(2, ForecastTestData.Small(), CalendarFeatures.None, 10);
        ModelForecasts M(string name, HorizonMetrics h1, HorizonMetrics h2) => new(name, [], [], [h1, h2]);
        var r = new ForecastEvalResult(series, 2, 1, [M(ForecastOutputs.Ours, H(0.5, 0.95), H(0.9, 0.99)), M("last-value", H(0.6, 0.95), H(0.8, 0.95))], [], 1, learner, TimeSpan.Zero);
        var g = ForecastOutputs.Goals(r);
        Assert.True(g.H1);
        Assert.False(g.HK);
        Assert.False(g.Coverage);
    }
}
