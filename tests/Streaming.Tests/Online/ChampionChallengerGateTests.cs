using StreamLstm.Streaming.Online.Gate;

namespace StreamLstm.Streaming.Tests.Online;

public class ChampionChallengerGateTests
{
    private static readonly ModelScore Champion = new(1.0, 0.5, 100);

    [Theory]
    [InlineData(0.90, 0.50, GateVerdict.Promoted)]
    [InlineData(0.995, 0.40, GateVerdict.NllNotBetter)]
    [InlineData(1.20, 0.40, GateVerdict.NllNotBetter)]
    [InlineData(0.80, 0.51, GateVerdict.RmseWorse)]
    [InlineData(double.NaN, 0.40, GateVerdict.NotFinite)]
    public void Decides_OnMarginAndRmse(double nll, double rmse, GateVerdict expected) =>
        Assert.Equal(expected, ChampionChallengerGate.Decide(Champion, new ModelScore(nll, rmse, 100), margin: 0.01, rmseTolerance: 0));

    [Fact]
    public void RmseTolerance_AllowsASmallIncrease_AndNoHoldoutNeverPromotes()
    {
        Assert.Equal(GateVerdict.Promoted, ChampionChallengerGate.Decide(Champion, new ModelScore(0.8, 0.51, 100), 0.01, 0.05));
        Assert.Equal(GateVerdict.NoHoldout, ChampionChallengerGate.Decide(new ModelScore(double.NaN, double.NaN, 0), new ModelScore(0.1, 0.1, 0), 0.01, 0));
    }
}
