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

    /// <summary>
    /// Fast approximately-normal draw: one of 4096 equiprobable normal quantiles (tails cut near ±3.5σ).
    /// Several times cheaper than <see cref="NextGaussian"/>; meant for per-band noise where the tails do not matter.
    /// </summary>
    /// <returns>The value.</returns>
    public double NextGaussianFast() => GaussianQuantiles.Table[(int)(NextUInt64() >> 52)];

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

/// <summary>The 4096 quantiles Φ⁻¹((i + ½) / 4096), computed once with Acklam's rational approximation.</summary>
internal static class GaussianQuantiles
{
    public static readonly double[] Table = Build();

    private static double[] Build()
    {
        var t = new double[4096];
        for (var i = 0; i < t.Length; i++)
        {
            t[i] = InverseNormal((i + 0.5) / t.Length);
        }

        return t;
    }

    // Horner evaluation of coefficients k[0]·x^(n-1) + ... + k[n-1].
    private static double Poly(double[] k, double x)
    {
        var acc = 0.0;
        foreach (var v in k)
        {
            acc = (acc * x) + v;
        }

        return acc;
    }

    private static double InverseNormal(double p)
    {
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double low = 0.02425;
        if (p < low)
        {
            var q = Math.Sqrt(-2 * Math.Log(p));
            return Poly(c, q) / (Poly(d, q) * q + 1);
        }

        if (p > 1 - low)
        {
            return -InverseNormal(1 - p);
        }

        var r = p - 0.5;
        var s = r * r;
        return Poly(a, s) * r / (Poly(b, s) * s + 1);
    }
}
