namespace StreamLstm.Ingest.Audio;

/// <summary>
/// MFCC frames from PCM samples. Per frame: pre-emphasis (over the whole signal, <c>y[0] = x[0]</c>), a Hamming window
/// (<c>0.54 − 0.46·cos(2πn/(L−1))</c>), zero-padding to the FFT size N, power spectrum <c>|X[k]|²/N</c> for k = 0..N/2,
/// the <see cref="MelFilterbank"/>, natural log (floored at <see cref="MfccOptions.LogFloor"/>), orthonormal
/// <see cref="Dct2"/>, first C coefficients. Energy = natural log of the frame's summed power spectrum.
/// Frames: <c>1 + (samples − L) / hop</c> (floor) when samples ≥ L, else 0; no padding at the end.
/// One instance per thread (it owns scratch buffers); <see cref="ComputeFrame"/> allocates nothing.
/// </summary>
public sealed class Mfcc
{
    private readonly MfccOptions _o;
    private readonly Fft _fft;
    private readonly double[] _window;
    private readonly double[] _re;
    private readonly double[] _im;
    private readonly double[] _power;
    private readonly double[] _mel;

    /// <summary>Prepares the extractor (validates <paramref name="options"/>).</summary>
    /// <param name="options">Settings.</param>
    public Mfcc(MfccOptions options)
    {
        options.Validate();
        _o = options;
        WindowSamples = options.WindowSamples;
        HopSamples = options.HopSamples;
        FftSize = options.EffectiveFftSize;
        Coefficients = options.Coefficients;
        _fft = new Fft(FftSize);
        Filterbank = new MelFilterbank(options.MelFilters, FftSize, options.SampleRate, options.LowHz, options.EffectiveHighHz);
        Dct = new Dct2(options.MelFilters, options.Coefficients);
        _window = new double[WindowSamples];
        for (var n = 0; n < WindowSamples; n++)
        {
            _window[n] = 0.54 - (0.46 * Math.Cos(2 * Math.PI * n / (WindowSamples - 1)));
        }

        _re = new double[FftSize];
        _im = new double[FftSize];
        _power = new double[(FftSize / 2) + 1];
        _mel = new double[options.MelFilters];
    }

    /// <summary>Window length L in samples.</summary>
    public int WindowSamples { get; }

    /// <summary>Hop in samples.</summary>
    public int HopSamples { get; }

    /// <summary>FFT size N.</summary>
    public int FftSize { get; }

    /// <summary>Coefficients per frame.</summary>
    public int Coefficients { get; }

    /// <summary>The filterbank in use.</summary>
    public MelFilterbank Filterbank { get; }

    /// <summary>The log mel energies of the frame computed last (M values; overwritten by the next frame).</summary>
    public ReadOnlySpan<double> LastLogMel => _mel;

    /// <summary>The DCT in use.</summary>
    public Dct2 Dct { get; }

    /// <summary>Number of frames a signal of <paramref name="samples"/> samples yields.</summary>
    /// <param name="samples">Signal length.</param>
    /// <returns>Frame count.</returns>
    public int FrameCount(int samples) => samples < WindowSamples ? 0 : 1 + ((samples - WindowSamples) / HopSamples);

    /// <summary>Applies pre-emphasis to a whole signal.</summary>
    /// <param name="samples">Input samples.</param>
    /// <param name="output">Output, same length.</param>
    public void PreEmphasise(ReadOnlySpan<float> samples, Span<float> output)
    {
        var a = (float)_o.PreEmphasis;
        for (var n = samples.Length - 1; n >= 1; n--)
        {
            output[n] = samples[n] - (a * samples[n - 1]);
        }

        if (samples.Length > 0)
        {
            output[0] = samples[0];
        }
    }

    /// <summary>All frames of a signal.</summary>
    /// <param name="samples">Samples scaled to [-1, 1).</param>
    /// <param name="coeffs">FrameCount × Coefficients outputs, row-major.</param>
    /// <param name="energy">FrameCount log energies.</param>
    public void Compute(ReadOnlySpan<float> samples, Span<float> coeffs, Span<float> energy)
    {
        var frames = FrameCount(samples.Length);
        if (coeffs.Length < frames * Coefficients || energy.Length < frames)
        {
            throw new ArgumentException($"Need room for {frames} frames.");
        }

        var emphasised = new float[samples.Length];
        PreEmphasise(samples, emphasised);
        for (var f = 0; f < frames; f++)
        {
            energy[f] = ComputeFrame(emphasised.AsSpan(f * HopSamples, WindowSamples), coeffs.Slice(f * Coefficients, Coefficients));
        }
    }

    /// <summary>One frame from already pre-emphasised samples.</summary>
    /// <param name="frame">L pre-emphasised samples.</param>
    /// <param name="coeffs">C outputs.</param>
    /// <returns>Log frame energy.</returns>
    public float ComputeFrame(ReadOnlySpan<float> frame, Span<float> coeffs)
    {
        if (frame.Length != WindowSamples)
        {
            throw new ArgumentException($"A frame has {WindowSamples} samples (got {frame.Length}).", nameof(frame));
        }

        for (var n = 0; n < WindowSamples; n++)
        {
            _re[n] = frame[n] * _window[n];
        }

        _re.AsSpan(WindowSamples).Clear();
        _im.AsSpan().Clear();
        _fft.Forward(_re, _im);
        var total = 0.0;
        for (var k = 0; k < _power.Length; k++)
        {
            _power[k] = ((_re[k] * _re[k]) + (_im[k] * _im[k])) / FftSize;
            total += _power[k];
        }

        Filterbank.Apply(_power, _mel);
        for (var m = 0; m < _mel.Length; m++)
        {
            _mel[m] = Math.Log(Math.Max(_mel[m], _o.LogFloor));
        }

        Dct.Apply(_mel, coeffs);
        return (float)Math.Log(Math.Max(total, _o.LogFloor));
    }
}
