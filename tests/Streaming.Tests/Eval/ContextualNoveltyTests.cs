using StreamLstm.Streaming.Eval;

namespace StreamLstm.Streaming.Tests.Eval;

/// <summary>The contextual novelty component of the NAB detector: bins fixed by the warm-up, novel bin patterns score.</summary>
public class ContextualNoveltyTests
{
    [Fact]
    public void WarmUp_ScoresNaN_ThenARepeatedPatternScoresZero()
    {
        var c = new ContextualNovelty(warmup: 8, binsPerSd: 1, maxContext: 3);
        double[] cycle = [0, 1, 2, 3];
        for (var i = 0; i < 8; i++) Assert.True(double.IsNaN(c.Next(cycle[i % 4])), $"warm-up row {i}");
        // The warm-up learned the cycle's contexts: continuing it is not novel.
        for (var i = 8; i < 40; i++) Assert.Equal(0.0, c.Next(cycle[i % 4]));
    }

    [Fact]
    public void OrdinaryValuesInANewOrder_AreNovel_AndTheSameBreakSeenAgainIsNot()
    {
        var c = new ContextualNovelty(warmup: 8, binsPerSd: 1, maxContext: 3);
        double[] cycle = [0, 1, 2, 3];
        for (var i = 0; i < 40; i++) c.Next(cycle[i % 4]);
        // 40 rows ended on 3; going 3 → 0 → 2 skips a step: the single bin 2 is known, the pairs/triples ending in it are not.
        Assert.Equal(0.0, c.Next(0));
        Assert.Equal(2.0 / 3, c.Next(2), 12);
        // Once counted, the same break is no longer novel.
        for (var i = 0; i < 5; i++) c.Next(cycle[(i + 3) % 4]); // 3 0 1 2 3: back on the cycle, ending on 3
        Assert.Equal(0.0, c.Next(0));
        Assert.Equal(0.0, c.Next(2));
    }

    [Fact]
    public void ANewLevel_IsFullyNovel_AndNonFiniteValuesAreSkipped()
    {
        var c = new ContextualNovelty(warmup: 10);
        var rng = new Random(5);
        for (var i = 0; i < 200; i++) c.Next(rng.NextDouble());
        Assert.True(double.IsNaN(c.Next(double.NaN)));
        Assert.Equal(1.0, c.Next(50)); // a bin never reached: every context ending in it is new
    }

    [Fact]
    public void Rare_CountsAContextSeenFewerTimesAsNovel()
    {
        var once = new ContextualNovelty(warmup: 4, maxContext: 1, rare: 1);
        var twice = new ContextualNovelty(warmup: 4, maxContext: 1, rare: 2);
        foreach (var v in new double[] { 0, 1, 0, 1 })
        {
            once.Next(v);
            twice.Next(v);
        }

        Assert.Equal(1.0, once.Next(10));
        Assert.Equal(0.0, once.Next(10)); // seen once: known
        twice.Next(10);
        Assert.Equal(1.0, twice.Next(10)); // seen once, fewer than two: still novel
        Assert.Equal(0.0, twice.Next(10));
    }

    [Fact]
    public void InvalidSettings_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ContextualNovelty(warmup: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ContextualNovelty(binsPerSd: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ContextualNovelty(maxContext: ContextualNovelty.MaxSupportedContext + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ContextualNovelty(rare: 0));
    }
}
