using StreamLstm.Ingest.Generators;

namespace StreamLstm.Ingest.Tests.Generators;

public class GeneratorRandomTests
{
    [Fact]
    public void GaussianDraws_HaveUnitMomentsAndTheNormalShape()
    {
        var rng = new GeneratorRandom(1);
        foreach (var fast in new[] { false, true })
        {
            const int n = 400_000;
            double sum = 0, sq = 0;
            var within1 = 0;
            for (var i = 0; i < n; i++)
            {
                var x = fast ? rng.NextGaussianFast() : rng.NextGaussian();
                sum += x;
                sq += x * x;
                within1 += Math.Abs(x) < 1 ? 1 : 0;
            }

            Assert.InRange(sum / n, -0.01, 0.01);
            Assert.InRange(sq / n, 0.98, 1.02);
            Assert.InRange(within1 / (double)n, 0.678, 0.688); // Φ(1) − Φ(−1) = 0.6827
        }
    }

    [Fact]
    public void UniformAndIntegerDraws_StayInRange_AndSeedFixesTheSequence()
    {
        var a = new GeneratorRandom(99);
        var b = new GeneratorRandom(99);
        for (var i = 0; i < 10_000; i++)
        {
            Assert.Equal(a.NextUInt64(), b.NextUInt64());
            var d = a.NextDouble();
            b.NextDouble();
            Assert.InRange(d, 0, 1 - double.Epsilon);
            var k = a.NextInt(7);
            b.NextInt(7);
            Assert.InRange(k, 0, 6);
        }
    }
}
