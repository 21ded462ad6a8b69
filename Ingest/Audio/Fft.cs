namespace StreamLstm.Ingest.Audio;

/// <summary>In-place iterative radix-2 complex FFT of a fixed power-of-two size, with precomputed twiddles.</summary>
public sealed class Fft
{
    private readonly int[] _bitReverse;
    private readonly double[] _cos;
    private readonly double[] _sin;

    /// <summary>Prepares an FFT of size <paramref name="size"/>.</summary>
    /// <param name="size">A power of two ≥ 2.</param>
    public Fft(int size)
    {
        if (size < 2 || (size & (size - 1)) != 0)
        {
            throw new ArgumentException($"FFT size must be a power of two >= 2 (got {size}).", nameof(size));
        }

        Size = size;
        var bits = System.Numerics.BitOperations.Log2((uint)size);
        _bitReverse = new int[size];
        for (var i = 0; i < size; i++)
        {
            var r = 0;
            for (var b = 0; b < bits; b++)
            {
                r |= ((i >> b) & 1) << (bits - 1 - b);
            }

            _bitReverse[i] = r;
        }

        _cos = new double[size / 2];
        _sin = new double[size / 2];
        for (var k = 0; k < size / 2; k++)
        {
            _cos[k] = Math.Cos(2 * Math.PI * k / size);
            _sin[k] = -Math.Sin(2 * Math.PI * k / size);
        }
    }

    /// <summary>Transform size.</summary>
    public int Size { get; }

    /// <summary>Forward transform <c>X[k] = Σ x[n] e^{-2πikn/N}</c>, in place.</summary>
    /// <param name="re">Real parts (length Size).</param>
    /// <param name="im">Imaginary parts (length Size).</param>
    public void Forward(Span<double> re, Span<double> im)
    {
        var n = Size;
        if (re.Length != n || im.Length != n)
        {
            throw new ArgumentException($"FFT expects spans of length {n}.");
        }

        for (var i = 0; i < n; i++)
        {
            var j = _bitReverse[i];
            if (j > i)
            {
                (re[i], re[j]) = (re[j], re[i]);
                (im[i], im[j]) = (im[j], im[i]);
            }
        }

        for (var len = 2; len <= n; len <<= 1)
        {
            var half = len >> 1;
            var step = n / len;
            for (var start = 0; start < n; start += len)
            {
                for (var k = 0; k < half; k++)
                {
                    var wr = _cos[k * step];
                    var wi = _sin[k * step];
                    var a = start + k;
                    var b = a + half;
                    var tr = (re[b] * wr) - (im[b] * wi);
                    var ti = (re[b] * wi) + (im[b] * wr);
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
        }
    }
}
