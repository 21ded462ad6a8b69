using System.Runtime.CompilerServices;
using StreamLstm.Ingest.Audio;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Generators;

/// <summary>Settings of <see cref="AudioFrameGenerator"/>. Default rate: 100 frames/s per stream (10 ms hop).</summary>
public sealed class AudioGeneratorOptions : GeneratorOptions
{
    /// <summary>Creates the options with the audio default rate (100 frames/s per stream).</summary>
    public AudioGeneratorOptions() => EventsPerKeyPerSecond = 100;

    /// <summary>Mel bands the frames are synthesised from (the same role as the MFCC filter count).</summary>
    public int MelBands { get; set; } = 26;

    /// <summary>Probability per frame that a noise burst starts (before <see cref="GeneratorOptions.AnomalyRateScale"/>).</summary>
    public double NoiseBurstProbability { get; set; } = 0.002;

    /// <summary>Frames at the start of each sound that are labelled <see cref="AnomalyKind.Onset"/>.</summary>
    public int OnsetFrames { get; set; } = 3;

    /// <summary>Whether to write the optional <c>energy</c> field.</summary>
    public bool IncludeEnergy { get; set; } = true;

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Check(MelBands is >= AudioFrameGenerator.CoefficientCount and <= 128, $"MelBands must be in 13..128 (got {MelBands}).");
        Check(NoiseBurstProbability is >= 0 and <= 1, $"NoiseBurstProbability must be in [0, 1] (got {NoiseBurstProbability}).");
        Check(OnsetFrames is >= 0 and <= 50, $"OnsetFrames must be in 0..50 (got {OnsetFrames}).");
    }
}

/// <summary>The 13 coefficients of one frame, stored inline (no array per event).</summary>
[InlineArray(AudioFrameGenerator.CoefficientCount)]
public struct MfccCoefficients
{
    private float _c0;
}

/// <summary>One generated audio-feature frame.</summary>
public struct AudioFrameEvent
{
    /// <summary>Cepstral coefficients c0..c12.</summary>
    public MfccCoefficients Coeffs;

    /// <summary>Log frame energy, or NaN when not written.</summary>
    public double Energy;

    /// <summary>Frame number within the stream (0, 1, 2, ...).</summary>
    public long Frame;

    /// <summary>Event time, epoch ms.</summary>
    public long TimestampMs;
}

/// <summary>
/// MFCC-like frames: each frame is a synthetic log mel spectrum turned into 13 cepstral coefficients by the same
/// orthonormal DCT-II as <see cref="Mfcc"/>, so values have the scale of replayed FSDD features. Streams alternate
/// silence (low flat floor) and sounds (an attack-decay loudness envelope over a tilted spectrum with two drifting
/// formant bumps); the first frames of each sound are labelled <see cref="AnomalyKind.Onset"/>. Noise bursts (loud, flat
/// spectrum, so c1..c12 collapse towards 0) interrupt at random and are labelled <see cref="AnomalyKind.NoiseBurst"/>.
/// Frames are evenly spaced: frame n of a stream is at start + phase + n / rate.
/// </summary>
public sealed class AudioFrameGenerator : EventGenerator<AudioFrameEvent>
{
    /// <summary>Coefficients per frame.</summary>
    public const int CoefficientCount = 13;

    private const byte Silence = 0, Sound = 1, Noise = 2;
    private readonly AudioGeneratorOptions _o;
    private readonly Dct2 _dct;
    private readonly double _gap;
    private readonly double _burstP;
    private readonly double[] _logMel;
    private readonly byte[] _state;
    private readonly int[] _left;
    private readonly int[] _age;
    private readonly long[] _frame;
    private readonly double[] _loudness, _f1, _f2, _tilt, _noiseLevel, _floorTilt;

    /// <summary>Creates the generator (validates <paramref name="options"/>).</summary>
    /// <param name="options">Settings.</param>
    public AudioFrameGenerator(AudioGeneratorOptions options)
        : base(options, SourceKind.Audio, "mic-")
    {
        _o = options;
        _dct = new Dct2(options.MelBands, CoefficientCount);
        _gap = 1.0 / options.EventsPerKeyPerSecond;
        _burstP = Math.Min(1, options.NoiseBurstProbability * options.AnomalyRateScale);
        _logMel = new double[options.MelBands];
        var n = KeyCount;
        _state = new byte[n];
        _left = new int[n];
        _age = new int[n];
        _frame = new long[n];
        _loudness = new double[n]; _f1 = new double[n]; _f2 = new double[n]; _tilt = new double[n]; _noiseLevel = new double[n]; _floorTilt = new double[n];
        var rng = new GeneratorRandom(options.Seed ^ 0x617564696FUL);
        for (var k = 0; k < n; k++)
        {
            _left[k] = 1 + rng.NextInt(80);
            _noiseLevel[k] = rng.Uniform(-17, -13);
            _floorTilt[k] = rng.Uniform(-0.1, 0.3);
        }

        InitialiseSchedule();
    }

    /// <inheritdoc />
    protected override double FirstOffsetSeconds(int key, ref GeneratorRandom rng) => rng.Uniform(0, _gap);

    /// <inheritdoc />
    protected override double NextGapSeconds(int key, ref GeneratorRandom rng) => _gap;

    /// <inheritdoc />
    protected override AnomalyKind Generate(int key, long ts, double t, double dt, ref GeneratorRandom rng, out AudioFrameEvent e)
    {
        e = default;

        // Segment state machine: silence -> sound -> silence ..., with noise bursts able to cut in anywhere.
        if (_state[key] != Noise && rng.Chance(_burstP))
        {
            _state[key] = Noise;
            _left[key] = 5 + rng.NextInt(16);
            _loudness[key] = rng.Uniform(-4, -1.5);
            _age[key] = 0;
        }
        else if (--_left[key] <= 0)
        {
            if (_state[key] == Silence)
            {
                _state[key] = Sound;
                _left[key] = 30 + rng.NextInt(91);
                _loudness[key] = rng.Uniform(-8, -4.5);
                _f1[key] = rng.Uniform(3, 9);
                _f2[key] = rng.Uniform(11, 19);
                _tilt[key] = rng.Uniform(0.05, 0.3);
            }
            else
            {
                _state[key] = Silence;
                _left[key] = 20 + rng.NextInt(61);
            }

            _age[key] = 0;
        }

        var bands = _logMel.Length;
        var label = AnomalyKind.None;
        switch (_state[key])
        {
            case Sound:
            {
                // Attack over 3 frames, then slow decay; formants wander a little each frame.
                var a = _age[key];
                var env = a < 3 ? (a + 1) / 3.0 : Math.Exp(-(a - 3) / 60.0);
                var level = _noiseLevel[key] + ((_loudness[key] - _noiseLevel[key]) * env);
                _f1[key] = Math.Clamp(_f1[key] + (0.15 * rng.NextGaussian()), 2, 10);
                _f2[key] = Math.Clamp(_f2[key] + (0.2 * rng.NextGaussian()), 10, bands - 3);
                for (var m = 0; m < bands; m++)
                {
                    // Formants as Lorentzian bumps (cheaper than Gaussians, same look in a log spectrum).
                    var d1 = (m - _f1[key]) / 1.5;
                    var d2 = (m - _f2[key]) / 2.0;
                    var shape = (3.0 / (1 + (d1 * d1))) + (2.0 / (1 + (d2 * d2))) - (_tilt[key] * m);
                    _logMel[m] = Math.Max(level + (env * shape), _noiseLevel[key]) + (0.3 * rng.NextGaussianFast());
                }

                label = a < _o.OnsetFrames ? AnomalyKind.Onset : AnomalyKind.None;
                break;
            }

            case Noise:
                for (var m = 0; m < bands; m++)
                {
                    _logMel[m] = _loudness[key] + (0.25 * rng.NextGaussianFast());
                }

                label = AnomalyKind.NoiseBurst;
                break;

            default:
                for (var m = 0; m < bands; m++)
                {
                    _logMel[m] = _noiseLevel[key] - (_floorTilt[key] * m) + (0.5 * rng.NextGaussianFast());
                }

                break;
        }

        _age[key]++;
        _dct.Apply(_logMel, e.Coeffs);
        if (_o.IncludeEnergy)
        {
            // Log of the summed band powers (log-sum-exp, stable).
            var max = double.NegativeInfinity;
            for (var m = 0; m < bands; m++)
            {
                max = Math.Max(max, _logMel[m]);
            }

            var sum = 0.0;
            for (var m = 0; m < bands; m++)
            {
                sum += Math.Exp(_logMel[m] - max);
            }

            e.Energy = Math.Round(max + Math.Log(sum), 4);
        }
        else
        {
            e.Energy = double.NaN;
        }

        // Four decimals are plenty for features and keep the JSON short.
        for (var i = 0; i < CoefficientCount; i++)
        {
            e.Coeffs[i] = MathF.Round(e.Coeffs[i], 4);
        }

        e.Frame = _frame[key]++;
        e.TimestampMs = ts;
        return label;
    }

    /// <inheritdoc />
    protected override int Write(Span<byte> destination, in AudioFrameEvent e, ReadOnlySpan<byte> keyEncoded, ReadOnlySpan<byte> label) =>
        EventJson.WriteAudioFrame(destination, keyEncoded, e.TimestampMs, e.Frame, e.Coeffs, e.Energy, label, decimals: 4, isoTimestamp: IsoTimestamps);
}
