using ILGPU;
using ILGPU.Algorithms;

namespace StreamLstm.Model.Training.Gpu;

/// <summary>Per-step Adam constants (computed on the host from the step count: no device round trip).</summary>
internal struct AdamArgs
{
    /// <summary>Step size.</summary>
    public double LearningRate;

    /// <summary>β1.</summary>
    public double Beta1;

    /// <summary>β2.</summary>
    public double Beta2;

    /// <summary>ε.</summary>
    public double Epsilon;

    /// <summary>1 − β1ᵗ.</summary>
    public double Correction1;

    /// <summary>1 − β2ᵗ.</summary>
    public double Correction2;
}

/// <summary>Global-norm clipping and Adam over the flat parameter vector.</summary>
internal static class OptimizerKernels
{
    /// <summary>Slot of the loss in the stats vector.</summary>
    public const int LossSlot = 0;

    /// <summary>Slot of Σ g².</summary>
    public const int SquaresSlot = 1;

    /// <summary>Slot of the clip factor.</summary>
    public const int ScaleSlot = 2;

    /// <summary>
    /// PyTorch's <c>clip_grad_norm_</c> factor: stats[2] = maxNorm / (‖g‖ + 1e−6) when ‖g‖ &gt; maxNorm &gt; 0, else 1,
    /// with ‖g‖ = √stats[1]. Indexing: a single thread (index 0).
    /// </summary>
    public static void ClipFactor(Index1D index, double maxNorm, ArrayView<double> stats)
    {
        var norm = XMath.Sqrt(stats[SquaresSlot]);
        stats[ScaleSlot] = maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1.0;
    }

    /// <summary>
    /// One Adam update (as <c>torch.optim.Adam</c>, float64 moments) of the clipped gradient stats[2]·g.
    /// Indexing: one thread per element of the flat parameter vector (every tensor back to back in
    /// <see cref="Lstm.LstmModel.Parameters"/> order).
    /// </summary>
    public static void Adam(Index1D i, AdamArgs s, ArrayView<float> w, ArrayView<float> g, ArrayView<double> m, ArrayView<double> v, ArrayView<double> stats)
    {
        var gi = g[i] * stats[ScaleSlot];
        var mi = s.Beta1 * m[i] + (1 - s.Beta1) * gi;
        var vi = s.Beta2 * v[i] + (1 - s.Beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = (float)(w[i] - s.LearningRate * (mi / s.Correction1) / (XMath.Sqrt(vi / s.Correction2) + s.Epsilon));
    }
}
