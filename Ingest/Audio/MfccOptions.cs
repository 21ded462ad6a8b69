namespace StreamLstm.Ingest.Audio;

/// <summary>MFCC settings. Defaults: 25 ms Hamming windows, 10 ms hop, pre-emphasis 0.97, 26 HTK-mel filters over
/// 0 Hz..Nyquist, natural log, orthonormal DCT-II, 13 coefficients (c0..c12), no liftering.</summary>
public sealed class MfccOptions
{
    /// <summary>Sample rate, Hz.</summary>
    public int SampleRate { get; set; } = 8000;

    /// <summary>Window length, seconds (rounded to whole samples).</summary>
    public double WindowSeconds { get; set; } = 0.025;

    /// <summary>Hop between window starts, seconds (rounded to whole samples).</summary>
    public double HopSeconds { get; set; } = 0.010;

    /// <summary>Coefficients kept (c0 first).</summary>
    public int Coefficients { get; set; } = 13;

    /// <summary>Triangular mel filters.</summary>
    public int MelFilters { get; set; } = 26;

    /// <summary>Lowest filter edge, Hz.</summary>
    public double LowHz { get; set; }

    /// <summary>Highest filter edge, Hz; 0 means the Nyquist frequency.</summary>
    public double HighHz { get; set; }

    /// <summary>Pre-emphasis coefficient a in <c>y[n] = x[n] − a·x[n−1]</c> (0 = off).</summary>
    public double PreEmphasis { get; set; } = 0.97;

    /// <summary>FFT size; 0 picks the smallest power of two ≥ the window length.</summary>
    public int FftSize { get; set; }

    /// <summary>Floor applied before each logarithm so silence gives a finite value.</summary>
    public double LogFloor { get; set; } = 1e-10;

    /// <summary>Window length in samples.</summary>
    public int WindowSamples => (int)Math.Round(WindowSeconds * SampleRate);

    /// <summary>Hop in samples.</summary>
    public int HopSamples => (int)Math.Round(HopSeconds * SampleRate);

    /// <summary>The FFT size actually used.</summary>
    public int EffectiveFftSize => FftSize > 0 ? FftSize : (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)WindowSamples);

    /// <summary>The upper filter edge actually used.</summary>
    public double EffectiveHighHz => HighHz > 0 ? HighHz : SampleRate / 2.0;

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting to fix.</summary>
    public void Validate()
    {
        if (SampleRate < 1000)
        {
            throw new ArgumentException($"SampleRate must be >= 1000 Hz (got {SampleRate}).");
        }

        if (WindowSamples < 16 || HopSamples < 1)
        {
            throw new ArgumentException($"WindowSeconds/HopSeconds give {WindowSamples}/{HopSamples} samples; need >= 16 and >= 1.");
        }

        if (EffectiveFftSize < WindowSamples || (EffectiveFftSize & (EffectiveFftSize - 1)) != 0)
        {
            throw new ArgumentException($"FftSize must be a power of two >= the window ({WindowSamples} samples); got {FftSize}.");
        }

        if (MelFilters < 2 || Coefficients < 1 || Coefficients > MelFilters)
        {
            throw new ArgumentException($"Need MelFilters >= 2 and 1 <= Coefficients <= MelFilters (got {MelFilters}, {Coefficients}).");
        }

        if (LowHz < 0 || EffectiveHighHz <= LowHz || EffectiveHighHz > SampleRate / 2.0)
        {
            throw new ArgumentException($"Need 0 <= LowHz < HighHz <= SampleRate/2 (got {LowHz}, {EffectiveHighHz}).");
        }

        if (PreEmphasis is < 0 or >= 1 || !(LogFloor > 0))
        {
            throw new ArgumentException("PreEmphasis must be in [0, 1) and LogFloor > 0.");
        }
    }
}
