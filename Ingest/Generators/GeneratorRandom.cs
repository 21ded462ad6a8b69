namespace StreamLstm.Ingest.Generators;

/// <summary>
/// xoshiro256** pseudo-random generator seeded by SplitMix64. Ours rather than <see cref="Random"/> so the sequence is
/// fixed by this code alone (same seed, same bytes on every runtime) and it is a mutable struct with no allocation.
/// </summary>
public struct GeneratorRandom
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spareGaussian;
    private bool _hasSpare;

    /// <summary>Seeds the generator.</summary>
    /// <param name="seed">Any 64-bit seed.</param>
    public GeneratorRandom(ulong seed)
    {
        var x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
        _spareGaussian = 0;
        _hasSpare = false;
    }

    /// <summary>Next raw 64 random bits.</summary>
    /// <returns>64 random bits.</returns>
    public ulong NextUInt64()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform double in [0, 1).</summary>
    /// <returns>The value.</returns>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform double in [lo, hi).</summary>
    /// <param name="lo">Lower bound.</param>
    /// <param name="hi">Upper bound.</param>
    /// <returns>The value.</returns>
    public double Uniform(double lo, double hi) => lo + ((hi - lo) * NextDouble());

    /// <summary>Uniform integer in [0, n).</summary>
    /// <param name="n">Exclusive upper bound (&gt; 0).</param>
    /// <returns>The value.</returns>
    public int NextInt(int n) => (int)((NextUInt64() >> 33) * (ulong)n >> 31);

    /// <summary>True with probability <paramref name="p"/>.</summary>
    /// <param name="p">Probability.</param>
    /// <returns>The draw.</returns>
    public bool Chance(double p) => NextDouble() < p;

    /// <summary>Standard normal draw (Marsaglia polar method; the second value is cached).</summary>
    /// <returns>The value.</returns>
    public double NextGaussian()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spareGaussian;
        }

        double u, v, s;
        do
        {
            u = (2 * NextDouble()) - 1;
            v = (2 * NextDouble()) - 1;
            s = (u * u) + (v * v);
        }
        while (s >= 1 || s == 0);
        var m = Math.Sqrt(-2 * Math.Log(s) / s);
        _spareGaussian = v * m;
        _hasSpare = true;
        return u * m;
    }

    /// <summary>Exponential draw with the given mean.</summary>
    /// <param name="mean">Mean (&gt; 0).</param>
    /// <returns>The value.</returns>
    public double Exponential(double mean) => -mean * Math.Log(1 - NextDouble());

    private static ulong SplitMix(ref ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        var z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
