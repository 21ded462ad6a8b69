using StreamLstm.Streaming.Eval.Forecast;

namespace StreamLstm.Streaming.Tests.Eval.Forecast;

/// <summary>Seasonal period detection by autocorrelation.</summary>
public class PeriodDetectorTests
{
    [Theory]
    [InlineData(24)]
    [InlineData(48)]
    [InlineData(7)]
    public void NoisySine_WithTrend_GivesItsPeriod(int period)
    {
        var s = ForecastTestData.Sine(20 * period, period, 3.0, seed: period);
        var withTrend = s.Values.Select((v, i) => v + (0.05 * i)).ToArray();
        Assert.Equal(period, PeriodDetector.Detect(withTrend, 1000));
    }

    [Fact]
    public void RandomWalk_HasNoPeriod()
    {
        var rng = new Random(3);
        var v = new double[3000];
        for (var i = 1; i < v.Length; i++) v[i] = v[i - 1] + (rng.NextDouble() - 0.5);
        Assert.Equal(0, PeriodDetector.Detect(v, 1000));
    }

    [Fact]
    public void TooShortOrFlat_HasNoPeriod()
    {
        Assert.Equal(0, PeriodDetector.Detect([1, 2, 3, 4, 5], 100));
        Assert.Equal(0, PeriodDetector.Detect(Enumerable.Repeat(5.0, 500).ToArray(), 100));
    }
}
