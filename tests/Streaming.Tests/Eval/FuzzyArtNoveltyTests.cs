using StreamLstm.Streaming.Eval;

namespace StreamLstm.Streaming.Tests.Eval;

/// <summary>The fuzzy ART shape-novelty component of the NAB detector (<c>--components ...,art</c>).</summary>
public class FuzzyArtNoveltyTests
{
    private const int Period = 16;

    private static double Wave(int i) => Math.Sin(2 * Math.PI * i / Period);

    [Fact]
    public void WarmUp_ScoresNaN_ThenARepeatedPatternLearnsFewCategories_AndScoresNearZero()
    {
        var art = new FuzzyArtNovelty(warmup: 64, window: 8);
        for (var i = 0; i < 64; i++) Assert.True(double.IsNaN(art.Next(Wave(i))), $"warm-up row {i}");
        var learned = art.Categories;
        Assert.InRange(learned, 1, Period); // at most one category per phase of the cycle
        var late = new List<double>();
        for (var i = 64; i < 64 + (40 * Period); i++)
        {
            var s = art.Next(Wave(i));
            Assert.InRange(s, 0.0, 1.0);
            if (i >= 64 + (30 * Period)) late.Add(s);
        }

        Assert.Equal(learned, art.Categories); // the cycle brings nothing new after the warm-up
        Assert.True(late.Max() < 0.01, $"a learned cycle should score ~0, max {late.Max()}");
    }

    [Fact]
    public void AnUnseenShapeWithinTheKnownRange_ScoresHigh_AndMakesACategory()
    {
        var art = new FuzzyArtNovelty(warmup: 64, window: 8);
        var i = 0;
        for (; i < 64 + (20 * Period); i++) art.Next(Wave(i));
        var before = art.Categories;
        // The cycle's extremes alternating row by row: every value was seen, the shape never was.
        var peak = new List<double>();
        for (var k = 0; k < 8; k++) peak.Add(art.Next(k % 2 == 0 ? 1.0 : -1.0));
        Assert.True(peak.Max() > 0.1, $"a shape unlike every category should score high, max {peak.Max()}");
        Assert.True(art.Categories > before, "the new shape gets a category of its own");

        // Seen again right away, the same shape is now (nearly) known.
        for (var k = 0; k < 4 * Period; k++) art.Next(Wave(i++));
        var again = new List<double>();
        for (var k = 0; k < 8; k++) again.Add(art.Next(k % 2 == 0 ? 1.0 : -1.0));
        Assert.True(again.Max() < peak.Max() / 2, $"the shape learned once scores lower the second time ({again.Max()} vs {peak.Max()})");
    }

    [Fact]
    public void SameInput_SameScores_BitForBit()
    {
        var rng = new Random(7);
        var values = Enumerable.Range(0, 3000).Select(i => Wave(i) + (0.3 * rng.NextDouble()) + (i > 2500 ? 2 : 0)).ToArray();
        var a = new FuzzyArtNovelty();
        var b = new FuzzyArtNovelty();
        foreach (var v in values)
        {
            var x = a.Next(v);
            var y = b.Next(v);
            Assert.Equal(BitConverter.DoubleToInt64Bits(x), BitConverter.DoubleToInt64Bits(y));
        }

        Assert.Equal(a.Categories, b.Categories);
    }

    [Fact]
    public void WhenCategoriesAreFull_TheVigilanceIsLowered_AndTheCountStaysBounded()
    {
        var art = new FuzzyArtNovelty(warmup: 10, window: 4, vigilance: 0.99, maxCategories: 5);
        var rng = new Random(3);
        for (var i = 0; i < 2000; i++) art.Next(rng.NextDouble());
        Assert.Equal(5, art.Categories);
        Assert.True(art.Vigilance < 0.99, $"the vigilance should have been lowered, is {art.Vigilance}");
    }

    [Fact]
    public void Downsample_HoldsTheScoreBetweenSamples_AndNonFiniteValuesAreSkipped()
    {
        var art = new FuzzyArtNovelty(warmup: 8, window: 2, downsample: 4);
        for (var i = 0; i < 8; i++) art.Next(i % 2);
        var scores = Enumerable.Range(0, 40).Select(i => art.Next(i % 3)).ToArray();
        // A sample completes on every 4th row (rows 3, 7, ...): a fresh score there, the same one held on the rows between.
        for (var i = 0; i < 3; i++) Assert.True(double.IsNaN(scores[i]), $"row {i}: no sample completed yet after the warm-up");
        for (var i = 3; i < scores.Length; i++)
        {
            if (i % 4 == 3) Assert.True(double.IsFinite(scores[i]), $"row {i}");
            else Assert.Equal(BitConverter.DoubleToInt64Bits(scores[i - 1]), BitConverter.DoubleToInt64Bits(scores[i]));
        }

        Assert.True(double.IsNaN(art.Next(double.NaN)));
        Assert.True(double.IsNaN(art.Next(double.PositiveInfinity)));
    }

    [Fact]
    public void InvalidSettings_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FuzzyArtNovelty(warmup: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FuzzyArtNovelty(window: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FuzzyArtNovelty(vigilance: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FuzzyArtNovelty(vigilance: 1.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FuzzyArtNovelty(learningRate: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FuzzyArtNovelty(maxCategories: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FuzzyArtNovelty(margin: -1));
    }
}
