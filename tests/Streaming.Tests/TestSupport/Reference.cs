using StreamLstm.Ingest.Decoding;
using StreamLstm.Ingest.Features;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;

namespace StreamLstm.Streaming.Tests.TestSupport;

/// <summary>What the Model's sequence forward gives for one key's events alone: forecasts and final state.</summary>
public static class Reference
{
    public sealed record Result(float[][] Mu, float[][] Sigma, float[] H, float[] C);

    public static Result ForKey(LstmModel model, SourceKind kind, IReadOnlyList<byte[]> values, double alpha = 0.01)
    {
        var cfg = model.Config;
        var t = values.Count;
        var decoder = EventDecoder.For(kind);
        var raw = new double[decoder.ValueCount];
        var features = FeatureExtractor.For(kind, alpha);
        features.EnsureCapacity(1);
        var x = new float[t * cfg.InputSize];
        var stamps = new long[t];
        for (var i = 0; i < t; i++)
        {
            Assert.Equal(DeadLetterReason.None, decoder.Decode(values[i], raw, out stamps[i], out _));
            features.Extract(0, raw, stamps[i], x.AsSpan(i * cfg.InputSize, cfg.InputSize));
        }

        var h = new float[cfg.Layers * cfg.HiddenSize];
        var c = new float[cfg.Layers * cfg.HiddenSize];
        var mu = new float[t * cfg.Horizons];
        var ls = new float[t * cfg.Horizons];
        SequenceForward.Run(model, x, 1, t, h, c, [], mu, ls);

        // Replay the features to have each step's normalisation statistics for de-normalising.
        var replay = FeatureExtractor.For(kind, alpha);
        replay.EnsureCapacity(1);
        var scratch = new float[cfg.InputSize];
        var muOut = new float[t][];
        var sigmaOut = new float[t][];
        for (var i = 0; i < t; i++)
        {
            Assert.Equal(DeadLetterReason.None, decoder.Decode(values[i], raw, out var ts, out _));
            replay.Extract(0, raw, ts, scratch);
            muOut[i] = new float[cfg.Horizons];
            sigmaOut[i] = new float[cfg.Horizons];
            replay.Denormalise(0, mu.AsSpan(i * cfg.Horizons, cfg.Horizons), ls.AsSpan(i * cfg.Horizons, cfg.Horizons), muOut[i], sigmaOut[i]);
        }

        return new Result(muOut, sigmaOut, h, c);
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double relTol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var tol = relTol * Math.Max(1.0, Math.Abs(expected[i]));
            if (Math.Abs(expected[i] - actual[i]) > tol)
            {
                Assert.Fail($"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (tolerance {tol:G3})");
            }
        }
    }
}
