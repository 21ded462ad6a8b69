using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Online.Gate;
using StreamLstm.Streaming.Online.Replay;

namespace StreamLstm.Streaming.Online.FineTuning;

/// <summary>Scores a model on replay windows: forward from each window's stored (h, c), mean NLL and RMSE over every target.</summary>
public static class HoldoutScorer
{
    private const double HalfLog2Pi = 0.91893853320467274;

    /// <summary>Scores <paramref name="model"/> on <paramref name="windows"/>.</summary>
    /// <param name="model">Model.</param>
    /// <param name="windows">Windows (empty: a zero-count score).</param>
    /// <returns>The score.</returns>
    public static ModelScore Score(LstmModel model, ReplayWindows windows)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(windows);
        if (windows.Count == 0) return new ModelScore(double.NaN, double.NaN, 0);
        var batch = windows.All();
        int b = batch.Batch, t = batch.Steps, k = windows.Horizons;
        var mu = new float[b * t * k];
        var logSigma = new float[b * t * k];
        SequenceForward.Run(model, batch.X, b, t, batch.H0, batch.C0, [], mu, logSigma);
        double nll = 0, se = 0;
        for (var i = 0; i < mu.Length; i++)
        {
            var d = batch.Y[i] - (double)mu[i];
            var s = Math.Exp(logSigma[i]);
            nll += 0.5 * (d / s) * (d / s) + logSigma[i] + HalfLog2Pi;
            se += d * d;
        }

        return new ModelScore(nll / mu.Length, Math.Sqrt(se / mu.Length), mu.Length);
    }
}
