using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Features;

/// <summary>
/// Tick features <c>[log return, Δt, log size]</c>, each normalised per symbol: log return = ln(pₜ/pₜ₋₁) (0 for the first
/// tick), Δt = ln(1 + seconds since the previous tick), log size = ln(1 + size). Target: the log return; forecasts are
/// prices, μₖ = p·exp(Σⱼ≤ₖ r̂ⱼ), σₖ = μₖ·√(Σⱼ≤ₖ σⱼ²) with r̂ⱼ, σⱼ the de-normalised per-step returns.
/// </summary>
public sealed class TickFeatures(double alpha) : FeatureExtractor(alpha, 3)
{
    private static readonly string[] Names = ["log_return", "dt", "log_size"];

    /// <inheritdoc />
    public override SourceKind Kind => SourceKind.Tick;

    /// <inheritdoc />
    public override int FeatureCount => 3;

    /// <inheritdoc />
    public override int RawCount => 4;

    /// <inheritdoc />
    public override IReadOnlyList<string> FeatureNames => Names;

    /// <inheritdoc />
    protected override double ExtractCore(int slot, ReadOnlySpan<double> raw, double dtSeconds, Span<float> features)
    {
        var price = raw[TickDecoder.Price];
        var prev = LastObserved(slot);
        var logReturn = double.IsNaN(prev) ? 0.0 : Math.Log(price / prev);
        features[0] = NormaliseAndUpdate(slot, 0, logReturn);
        features[1] = NormaliseAndUpdate(slot, 1, Math.Log(1 + dtSeconds));
        features[2] = NormaliseAndUpdate(slot, 2, Math.Log(1 + raw[TickDecoder.Size]));
        return price;
    }

    /// <inheritdoc />
    public override void Denormalise(int slot, ReadOnlySpan<float> mu, ReadOnlySpan<float> logSigma, Span<float> muOut, Span<float> sigmaOut)
    {
        var price = LastObserved(slot);
        var m = Mean(slot, 0);
        var s = Std(slot, 0);
        double cumMu = 0, cumVar = 0;
        for (var k = 0; k < mu.Length; k++)
        {
            cumMu += m + mu[k] * s;
            var sk = Math.Exp(logSigma[k]) * s;
            cumVar += sk * sk;
            var p = price * Math.Exp(cumMu);
            muOut[k] = (float)p;
            sigmaOut[k] = (float)(p * Math.Sqrt(cumVar));
        }
    }
}
