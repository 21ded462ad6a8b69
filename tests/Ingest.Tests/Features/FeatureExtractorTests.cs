using StreamLstm.Ingest.Features;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Features;

public class FeatureExtractorTests
{
    [Fact]
    public void Tick_FirstEventIsZero_ThenLogReturnIsNormalisedWithPriorStats()
    {
        var f = FeatureExtractor.For(SourceKind.Tick, alpha: 0.5);
        f.EnsureCapacity(2);
        var x = new float[3];
        Assert.Equal(100, f.Extract(0, [100, 10, double.NaN, double.NaN], 1000, x));
        Assert.Equal([0f, 0f, 0f], x);
        f.Extract(0, [110, 10, double.NaN, double.NaN], 3000, x);
        // Stats after one value (mean 0, var 0) → z = r/√ε, clamped.
        Assert.Equal(FeatureExtractor.ZClamp, x[0]);
        Assert.Equal(Math.Log(1.1) / 2, f.Mean(0, 0), 12); // weight 1/(n+1) = 1/2 while young
        Assert.Equal(Math.Log(1 + 2.0) / 2, f.Mean(0, 1), 12);
        Assert.Equal(3000, f.LastTimestamp(0));
        // Another key's slot is untouched.
        Assert.Equal(long.MinValue, f.LastTimestamp(1));
    }

    [Fact]
    public void DecayedStatistics_ConvergeToTheSeriesMoments()
    {
        var f = FeatureExtractor.For(SourceKind.Audio, alpha: 0.01);
        f.EnsureCapacity(1);
        var rng = new Random(3);
        var raw = new double[15];
        var x = new float[13];
        for (var t = 0; t < 20_000; t++)
        {
            for (var i = 0; i < 13; i++) raw[i] = 5 + 2 * (rng.NextDouble() * 2 - 1) * Math.Sqrt(3); // mean 5, sd 2
            f.Extract(0, raw, t, x);
        }

        Assert.InRange(f.Mean(0, 0), 4.5, 5.5);
        Assert.InRange(Math.Sqrt(f.Variance(0, 0)), 1.7, 2.3);
        Assert.All(x, v => Assert.InRange(v, -FeatureExtractor.ZClamp, FeatureExtractor.ZClamp));
    }

    [Fact]
    public void Vitals_MissingValuesGiveZeroAndMaskAndLeaveStatsAlone()
    {
        var f = FeatureExtractor.For(SourceKind.Vitals, alpha: 0.1);
        f.EnsureCapacity(1);
        var x = new float[15];
        f.Extract(0, [70, 98, double.NaN, 120, 80, 90, 37], 0, x);
        f.Extract(0, [double.NaN, 97, 15, 121, 81, 91, 37], 60_000, x);
        Assert.Equal(0f, x[0]);
        Assert.Equal(1f, x[7]);
        Assert.Equal(0f, x[8]);
        Assert.Equal(70, f.Mean(0, 0));
        Assert.Equal(15, f.Mean(0, 2));
    }

    [Fact]
    public void Denormalise_UsesTheKeysStatistics()
    {
        var f = FeatureExtractor.For(SourceKind.Vitals, alpha: 0.5);
        f.EnsureCapacity(1);
        var x = new float[15];
        f.Extract(0, [60, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN], 0, x);
        f.Extract(0, [80, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN], 1000, x);
        var mu = new float[2];
        var sigma = new float[2];
        f.Denormalise(0, [0f, 1f], [0f, MathF.Log(2)], mu, sigma);
        var mean = f.Mean(0, 0);
        var sd = f.Std(0, 0);
        Assert.InRange(sd, Math.Sqrt(f.Variance(0, 0)), Math.Sqrt(f.Variance(0, 0)) * 1.001);
        Assert.Equal(70, mean, 9);
        Assert.Equal((float)mean, mu[0]);
        Assert.Equal((float)(mean + sd), mu[1], 3);
        Assert.Equal((float)(2 * sd), sigma[1], 3);
    }

    [Fact]
    public void Tick_Denormalise_ForecastsPricesAroundTheLastPrice()
    {
        var f = FeatureExtractor.For(SourceKind.Tick, alpha: 0.1);
        f.EnsureCapacity(1);
        var x = new float[3];
        var p = 100.0;
        for (var t = 0; t < 200; t++)
        {
            p *= t % 2 == 0 ? 1.001 : 0.999;
            f.Extract(0, [p, 5, double.NaN, double.NaN], t * 1000L, x);
        }

        var mu = new float[3];
        var sigma = new float[3];
        f.Denormalise(0, [0, 0, 0], [0, 0, 0], mu, sigma);
        Assert.All(mu, m => Assert.InRange(m, p * 0.99, p * 1.01));
        Assert.True(sigma[0] < sigma[1] && sigma[1] < sigma[2], "uncertainty grows with the horizon");
    }
}
