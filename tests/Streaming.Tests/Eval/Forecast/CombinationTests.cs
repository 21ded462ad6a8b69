using StreamLstm.Streaming.Eval.Forecast;

namespace StreamLstm.Streaming.Tests.Eval.Forecast;

/// <summary>The forecast combination (ours) and the tail calibration of σ.</summary>
public class CombinationTests
{
    [Fact]
    public void TailFactor_IsOneUntilEnoughErrors_ThenTheRecent95PercentQuantileOver196()
    {
        var t = new TailCalibration(1);
        for (var i = 0; i < TailCalibration.MinErrors - 1; i++) t.Add(0, 4.0);
        Assert.Equal(1.0, t.Factor(0));
        var u = new TailCalibration(1);
        // |z| spread evenly over [0, 4): the 95 % quantile is 3.8, so σ must widen by 3.8 / 1.96.
        for (var i = 0; i < TailCalibration.Window; i++) u.Add(0, 4.0 * ((i * 7919) % TailCalibration.Window) / TailCalibration.Window);
        Assert.Equal(3.8 / 1.959964, u.Factor(0), 2);
    }

    [Fact]
    public void TailFactor_OnlyWidensByDefault_ButMayNarrowWithALowerMinimum()
    {
        var widenOnly = new TailCalibration(1);
        var both = new TailCalibration(1, minFactor: 0.5);
        for (var i = 0; i < 512; i++)
        {
            widenOnly.Add(0, 0.15 * (i % 10)); // light tails: q95 = 1.35
            both.Add(0, 0.15 * (i % 10));
        }

        Assert.Equal(1.0, widenOnly.Factor(0));
        Assert.Equal(1.35 / 1.959964, both.Factor(0), 2);
    }

    [Fact]
    public void InverseMse_WeighsByInverseError_AndDropsComponentsFarBehindTheBest()
    {
        var w = new double[4];
        CombinationWeights.InverseMse([1.0, 2.0, 1.4, double.NaN], w);
        Assert.Equal(0, w[1]); // 2 > 1.5 × best
        Assert.Equal(0, w[3]);
        Assert.Equal(1 / (1 + (1 / 1.4)), w[0], 12);
        Assert.Equal(w[0] / 1.4, w[2], 12);
    }

    [Fact]
    public void Combiner_OfTwoForecastersWithIndependentErrors_BeatsBoth_AndIgnoresAHopelessOne()
    {
        var s = ForecastTestData.Sine(3000, 48, 0.2);
        const int k = 2;
        var (mu, _, names, _) = ForecastEvaluation.Pass(s, k, _ =>
        {
            OnlineForecaster[] parts = [new Oracle(s.Values, k, 1.0, 1), new Oracle(s.Values, k, 1.0, 2), new Oracle(s.Values, k, 10.0, 3)];
            return [.. parts, new ForecastCombiner(k, parts, new CombinationWeights(k, parts.Length))];
        });
        Assert.Equal(ForecastOutputs.Ours, names[3]);
        var rmse = mu.Select(m => Rmse(s.Values, m, k, from: 500)).ToArray();
        // Two unbiased forecasts with independent errors of equal size: the equal-weight mean has √½ of their RMSE.
        Assert.True(rmse[3] < 0.8 * Math.Min(rmse[0], rmse[1]), $"combination {rmse[3]:F3} vs components {rmse[0]:F3}, {rmse[1]:F3}");
        Assert.True(rmse[3] > 0.6, $"combination {rmse[3]:F3} is better than two noise-1 forecasts allow: the hopeless one (RMSE {rmse[2]:F1}) must get no weight, and nothing may peek");
    }

    private static double Rmse(double[] y, double[] mu, int k, int from)
    {
        double sum = 0;
        var n = 0;
        for (var t = from; t < y.Length; t++)
        {
            var m = mu[(t * k) + k - 1];
            if (!double.IsFinite(m)) continue;
            sum += (y[t] - m) * (y[t] - m);
            n++;
        }

        return Math.Sqrt(sum / n);
    }

    /// <summary>Forecasts the true future plus Gaussian noise of a given size (a stand-in component with known error).</summary>
    private sealed class Oracle(double[] y, int horizons, double noise, int seed) : OnlineForecaster(horizons)
    {
        private readonly Random _rng = new(seed);

        public override string Name => "oracle" + seed;

        protected override void Predict(double value, long? timeMs, Span<double> mu, Span<double> rawSigma)
        {
            for (var h = 0; h < Horizons; h++)
            {
                var target = Rows + h + 1;
                var z = Math.Sqrt(-2 * Math.Log(1 - _rng.NextDouble())) * Math.Cos(2 * Math.PI * _rng.NextDouble());
                mu[h] = target < y.Length ? y[target] + (noise * z) : double.NaN;
                rawSigma[h] = 1;
            }
        }
    }
}
