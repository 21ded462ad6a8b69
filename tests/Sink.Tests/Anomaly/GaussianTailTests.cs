using StreamLstm.Sink.Anomaly;

namespace StreamLstm.Sink.Tests.Anomaly;

public class GaussianTailTests
{
    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(1.959963984540054, 0.05)]
    [InlineData(3.0, 0.0026997960632601866)]
    [InlineData(-3.0, 0.0026997960632601866)]
    [InlineData(10.0, 1.5239706174808e-23)]
    [InlineData(30.0, 9.813427854296374e-198)]
    public void TwoSidedP_MatchesReferenceValues(double z, double expectedP)
    {
        var logP = GaussianTail.LogTwoSidedP(z);
        Assert.InRange(logP - Math.Log(expectedP), -2e-7, 2e-7);
    }

    [Fact]
    public void Nll_IsTheGaussianNegativeLogDensity()
    {
        // N(2, 0.5²) at 3: z = 2, nll = 2 + ln 0.5 + 0.5 ln 2π.
        Assert.Equal(2 + Math.Log(0.5) + (0.5 * Math.Log(2 * Math.PI)), GaussianTail.Nll(3, 2, 0.5), 12);
    }

    [Fact]
    public void Surprise_IsMinusLog10P() => Assert.Equal(3.0, GaussianTail.Surprise(Math.Log(0.001)), 12);
}
