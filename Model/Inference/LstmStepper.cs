using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;

namespace StreamLstm.Model.Inference;

/// <summary>
/// The hot path: advances a list of slots by one time step in place and writes μ and log σ for each.
/// Packs the weights once at construction; <see cref="Step"/> allocates nothing. Results are bit-identical
/// whatever the thread count. One stepper per worker thread (it owns scratch buffers).
/// </summary>
public sealed class LstmStepper
{
    /// <summary>Packs <paramref name="model"/>'s weights for batches of up to <paramref name="maxBatch"/> slots.</summary>
    /// <param name="model">Model (its arrays are copied).</param>
    /// <param name="maxBatch">Largest batch <see cref="Step"/> will be given.</param>
    /// <param name="threads">Threads used for large batches (1 = caller's thread only).</param>
    public LstmStepper(LstmModel model, int maxBatch, int threads = 1) => throw new NotImplementedException();

    /// <summary>The model's sizes.</summary>
    public LstmConfig Config => throw new NotImplementedException();

    /// <summary>
    /// Advances <paramref name="slots"/> (B distinct slots) by one step.
    /// </summary>
    /// <param name="slab">State storage.</param>
    /// <param name="slots">B slot indices.</param>
    /// <param name="x">Inputs, <c>[B, I]</c> row-major.</param>
    /// <param name="mu">Output means, <c>[B, K]</c>.</param>
    /// <param name="logSigma">Output log standard deviations, <c>[B, K]</c>.</param>
    public void Step(StateSlab slab, ReadOnlySpan<int> slots, ReadOnlySpan<float> x, Span<float> mu, Span<float> logSigma)
        => throw new NotImplementedException();
}
