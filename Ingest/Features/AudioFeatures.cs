using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Features;

/// <summary>
/// Audio features: the C coefficients, each normalised per stream (I = C). Target: c0 (the log-energy coefficient);
/// the observed value is c0 too.
/// </summary>
public sealed class AudioFeatures : FeatureExtractor
{
    private readonly string[] _names;

    /// <summary>Creates the extractor.</summary>
    /// <param name="alpha">Decay weight.</param>
    /// <param name="coefficients">C.</param>
    public AudioFeatures(double alpha, int coefficients) : base(alpha, coefficients)
    {
        Coefficients = coefficients;
        _names = Enumerable.Range(0, coefficients).Select(i => "c" + i).ToArray();
    }

    /// <summary>C.</summary>
    public int Coefficients { get; }

    /// <inheritdoc />
    public override SourceKind Kind => SourceKind.Audio;

    /// <inheritdoc />
    public override int FeatureCount => Coefficients;

    /// <inheritdoc />
    public override int RawCount => Coefficients + 2;

    /// <inheritdoc />
    public override IReadOnlyList<string> FeatureNames => _names;

    /// <inheritdoc />
    protected override double ExtractCore(int slot, ReadOnlySpan<double> raw, double dtSeconds, Span<float> features)
    {
        for (var i = 0; i < Coefficients; i++)
        {
            features[i] = NormaliseAndUpdate(slot, i, raw[i]);
        }

        return raw[0];
    }

    /// <inheritdoc />
    public override void Denormalise(int slot, ReadOnlySpan<float> mu, ReadOnlySpan<float> logSigma, Span<float> muOut, Span<float> sigmaOut)
    {
        var m = Mean(slot, 0);
        var s = Std(slot, 0);
        for (var k = 0; k < mu.Length; k++)
        {
            muOut[k] = (float)(m + mu[k] * s);
            sigmaOut[k] = (float)(Math.Exp(logSigma[k]) * s);
        }
    }
}
