namespace StreamLstm.Ingest.Audio;

/// <summary>
/// Triangular filters equally spaced on the HTK mel scale <c>mel(f) = 2595·log10(1 + f/700)</c>. Filter m has edges at
/// mel points m, m+1, m+2 of M+2 points spaced evenly from mel(LowHz) to mel(HighHz); its weight at FFT bin k
/// (frequency k·sr/N) rises linearly from 0 to 1 between the first two edges and falls back to 0 at the third
/// (peak 1, no area normalisation).
/// </summary>
public sealed class MelFilterbank
{
    private readonly int[] _firstBin;
    private readonly int[] _binCount;
    private readonly double[] _weights; // filter m's weights at _weightOffset[m]..
    private readonly int[] _weightOffset;

    /// <summary>Builds the filters.</summary>
    /// <param name="filters">M, the filter count.</param>
    /// <param name="fftSize">N, the FFT size (bins 0..N/2 are used).</param>
    /// <param name="sampleRate">Sample rate, Hz.</param>
    /// <param name="lowHz">Lowest edge, Hz.</param>
    /// <param name="highHz">Highest edge, Hz.</param>
    public MelFilterbank(int filters, int fftSize, int sampleRate, double lowHz, double highHz)
    {
        Filters = filters;
        Bins = (fftSize / 2) + 1;
        EdgesHz = new double[filters + 2];
        var lo = HzToMel(lowHz);
        var hi = HzToMel(highHz);
        for (var i = 0; i < EdgesHz.Length; i++)
        {
            EdgesHz[i] = MelToHz(lo + ((hi - lo) * i / (filters + 1)));
        }

        _firstBin = new int[filters];
        _binCount = new int[filters];
        _weightOffset = new int[filters];
        var weights = new List<double>();
        for (var m = 0; m < filters; m++)
        {
            double left = EdgesHz[m], centre = EdgesHz[m + 1], right = EdgesHz[m + 2];
            _weightOffset[m] = weights.Count;
            _firstBin[m] = -1;
            for (var k = 0; k < Bins; k++)
            {
                var f = (double)k * sampleRate / fftSize;
                var w = f <= left || f >= right ? 0 : f <= centre ? (f - left) / (centre - left) : (right - f) / (right - centre);
                if (w > 0)
                {
                    if (_firstBin[m] < 0)
                    {
                        _firstBin[m] = k;
                    }

                    weights.Add(w);
                }
                else if (_firstBin[m] >= 0)
                {
                    break;
                }
            }

            if (_firstBin[m] < 0)
            {
                _firstBin[m] = 0; // narrower than one bin: the filter sees nothing (raise the FFT size to avoid it)
            }

            _binCount[m] = weights.Count - _weightOffset[m];
        }

        _weights = [.. weights];
    }

    /// <summary>M, the number of filters.</summary>
    public int Filters { get; }

    /// <summary>Power-spectrum bins expected (N/2 + 1).</summary>
    public int Bins { get; }

    /// <summary>The M + 2 filter edges in Hz (filter m spans edges m..m+2, peaking at m+1).</summary>
    public double[] EdgesHz { get; }

    /// <summary>HTK mel scale.</summary>
    /// <param name="hz">Frequency, Hz.</param>
    /// <returns>Mel.</returns>
    public static double HzToMel(double hz) => 2595.0 * Math.Log10(1 + (hz / 700.0));

    /// <summary>Inverse HTK mel scale.</summary>
    /// <param name="mel">Mel.</param>
    /// <returns>Frequency, Hz.</returns>
    public static double MelToHz(double mel) => 700.0 * (Math.Pow(10, mel / 2595.0) - 1);

    /// <summary>Weight of filter <paramref name="m"/> at bin <paramref name="k"/>.</summary>
    /// <param name="m">Filter.</param>
    /// <param name="k">Bin.</param>
    /// <returns>The weight (0 outside the filter).</returns>
    public double Weight(int m, int k)
    {
        var i = k - _firstBin[m];
        return i >= 0 && i < _binCount[m] ? _weights[_weightOffset[m] + i] : 0;
    }

    /// <summary>Filter energies: <c>E[m] = Σ_k w_m(k) · P[k]</c>.</summary>
    /// <param name="power">Power spectrum, <see cref="Bins"/> values.</param>
    /// <param name="energies">M outputs.</param>
    public void Apply(ReadOnlySpan<double> power, Span<double> energies)
    {
        for (var m = 0; m < Filters; m++)
        {
            var w = _weights.AsSpan(_weightOffset[m], _binCount[m]);
            var p = power.Slice(_firstBin[m], _binCount[m]);
            var acc = 0.0;
            for (var i = 0; i < w.Length; i++)
            {
                acc += w[i] * p[i];
            }

            energies[m] = acc;
        }
    }
}
