using ILGPU;
using ILGPU.Algorithms;

namespace StreamLstm.Model.Training.Gpu;

/// <summary>Sizes and loss scale of one <see cref="HeadKernels.GaussianNll"/> launch.</summary>
internal struct NllArgs
{
    /// <summary>B.</summary>
    public int Batch;

    /// <summary>K.</summary>
    public int Horizons;

    /// <summary>1 / Σ wᵦ·mᵦₜₖ.</summary>
    public double InvDenominator;

    /// <summary>1 when a mask is bound.</summary>
    public int HasMask;

    /// <summary>1 when per-row weights are bound.</summary>
    public int HasWeights;
}

/// <summary>Sizes of one <see cref="HeadKernels.Reduce"/> launch.</summary>
internal struct ReduceArgs
{
    /// <summary>Elements to sum.</summary>
    public int Count;

    /// <summary>1: sum of squares.</summary>
    public int Square;

    /// <summary>Where in the stats vector the result goes.</summary>
    public int Slot;

    /// <summary>Factor applied to the sum.</summary>
    public double Scale;
}

/// <summary>The Gaussian NLL head and the deterministic sum used for the loss and the gradient norm.</summary>
internal static class HeadKernels
{
    /// <summary>
    /// Loss and its gradient per target element, in float64 like the CPU trainer.
    /// Indexing: one thread per element of the time-major <c>[T, B, K]</c> targets, index = (t·B + b)·K + k; head row
    /// r = t·B + b of <paramref name="output"/> <c>[T·B, 2K]</c> holds μ then log σ before the bias. The thread adds the
    /// bias in place (so the buffer ends as μ, log σ), writes f·nll to <paramref name="loss"/>[index] and
    /// f·∂nll/∂μ / Σf, f·∂nll/∂log σ / Σf to <paramref name="dOut"/>, where f = weight_b·mask_btk.
    /// </summary>
    public static void GaussianNll(Index1D index, NllArgs s, ArrayView<float> output, ArrayView<float> headBias, ArrayView<float> y,
        ArrayView<float> mask, ArrayView<float> weights, ArrayView<float> loss, ArrayView<float> dOut)
    {
        int kk = s.Horizons, row = index / kk, k = index - row * kk, b = row % s.Batch;
        var at = row * 2 * kk + k;
        var mu = output[at] + headBias[k];
        var ls = output[at + kk] + headBias[kk + k];
        output[at] = mu;
        output[at + kk] = ls;
        double f = 1.0;
        if (s.HasWeights != 0) f *= weights[b];
        if (s.HasMask != 0) f *= mask[index];
        if (f == 0)
        {
            loss[index] = 0f;
            dOut[at] = 0f;
            dOut[at + kk] = 0f;
            return;
        }

        var inv = XMath.Exp(-(double)ls);
        var z = (y[index] - (double)mu) * inv;
        loss[index] = (float)(f * (ls + 0.5 * z * z + GaussianNllConstants.HalfLog2Pi));
        dOut[at] = (float)(f * -z * inv * s.InvDenominator);
        dOut[at + kk] = (float)(f * (1 - z * z) * s.InvDenominator);
    }

    /// <summary>
    /// stats[Slot] = Scale · Σ values (or Σ values² when Square), summed in float64 in a fixed order.
    /// Indexing: a single group of G threads (G a power of two); thread g sums elements g, g + G, g + 2G, … in order,
    /// then a shared-memory tree halves the G partial sums; thread 0 writes the result. Dynamic shared memory: G doubles.
    /// </summary>
    public static void Reduce(ReduceArgs s, ArrayView<float> values, ArrayView<double> stats)
    {
        var partial = SharedMemory.GetDynamic<double>();
        int g = Group.IdxX, size = Group.DimX;
        var sum = 0.0;
        for (var i = g; i < s.Count; i += size)
        {
            double v = values[i];
            sum += s.Square != 0 ? v * v : v;
        }

        partial[g] = sum;
        Group.Barrier();
        for (var half = size / 2; half > 0; half /= 2)
        {
            if (g < half) partial[g] += partial[g + half];
            Group.Barrier();
        }

        if (g == 0) stats[s.Slot] = partial[0] * s.Scale;
    }
}

/// <summary>Constants the kernels share with <see cref="Training.GaussianNll"/>.</summary>
internal static class GaussianNllConstants
{
    /// <summary>½ log 2π.</summary>
    public const double HalfLog2Pi = Training.GaussianNll.HalfLog2Pi;
}
