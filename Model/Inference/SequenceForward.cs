using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Inference;

/// <summary>Full-sequence forward pass <c>[B, T, I]</c> from given initial states (training, re-warming state, reference checks).</summary>
public static class SequenceForward
{
    /// <summary>
    /// Runs the model over B sequences of T steps.
    /// </summary>
    /// <param name="model">Model.</param>
    /// <param name="x">Inputs <c>[B, T, I]</c>.</param>
    /// <param name="batch">B.</param>
    /// <param name="steps">T.</param>
    /// <param name="h">Initial hidden states <c>[L, B, H]</c> on entry, final ones on exit.</param>
    /// <param name="c">Initial cell states <c>[L, B, H]</c> on entry, final ones on exit.</param>
    /// <param name="topSequence">Top-layer h at every step, <c>[B, T, H]</c> (may be empty to skip).</param>
    /// <param name="mu">Means <c>[B, T, K]</c>.</param>
    /// <param name="logSigma">Log standard deviations <c>[B, T, K]</c>.</param>
    public static void Run(LstmModel model, ReadOnlySpan<float> x, int batch, int steps, Span<float> h, Span<float> c,
        Span<float> topSequence, Span<float> mu, Span<float> logSigma) => throw new NotImplementedException();
}
