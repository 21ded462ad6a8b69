using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Features;

/// <summary>
/// Vitals features <c>[7 values, 7 missing flags, Δt]</c> (I = 15): each present value normalised per patient (0 when
/// missing, with its flag 1), Δt = ln(1 + seconds since the previous reading) normalised. Target: heart rate;
/// forecasts are in beats per minute.
/// </summary>
public sealed class VitalsFeatures(double alpha) : FeatureExtractor(alpha, 8)
{
    private static readonly string[] Names =
        ["hr", "spo2", "resp_rate", "sbp", "dbp", "map", "temp",
         "hr_missing", "spo2_missing", "resp_rate_missing", "sbp_missing", "dbp_missing", "map_missing", "temp_missing", "dt"];

    /// <inheritdoc />
    public override SourceKind Kind => SourceKind.Vitals;

    /// <inheritdoc />
    public override int FeatureCount => 15;

    /// <inheritdoc />
    public override int RawCount => 7;

    /// <inheritdoc />
    public override IReadOnlyList<string> FeatureNames => Names;

    /// <inheritdoc />
    protected override double ExtractCore(int slot, ReadOnlySpan<double> raw, double dtSeconds, Span<float> features)
    {
        for (var i = 0; i < 7; i++)
        {
            var v = raw[i];
            if (double.IsNaN(v))
            {
                features[i] = 0f;
                features[7 + i] = 1f;
            }
            else
            {
                features[i] = NormaliseAndUpdate(slot, i, v);
                features[7 + i] = 0f;
            }
        }

        features[14] = NormaliseAndUpdate(slot, 7, Math.Log(1 + dtSeconds));
        return raw[VitalsDecoder.HeartRate];
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
