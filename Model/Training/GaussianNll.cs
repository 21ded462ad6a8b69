namespace StreamLstm.Model.Training;

/// <summary>
/// Gaussian negative log-likelihood of the PyTorch fixtures: per element <c>log σ + ½((y − μ)/σ)² + ½ log 2π</c>,
/// averaged over all elements.
/// </summary>
public static class GaussianNll
{
    /// <summary>½ log 2π.</summary>
    public const double HalfLog2Pi = 0.91893853320467274178;

    /// <summary>One element's loss.</summary>
    /// <param name="y">Target.</param>
    /// <param name="mu">Mean.</param>
    /// <param name="logSigma">Log standard deviation.</param>
    /// <returns>The loss.</returns>
    public static double Element(double y, double mu, double logSigma)
    {
        var z = (y - mu) * Math.Exp(-logSigma);
        return logSigma + 0.5 * z * z + HalfLog2Pi;
    }

    /// <summary>Derivatives of one element's loss with respect to μ and log σ.</summary>
    /// <param name="y">Target.</param>
    /// <param name="mu">Mean.</param>
    /// <param name="logSigma">Log standard deviation.</param>
    /// <returns>(∂/∂μ, ∂/∂log σ).</returns>
    public static (double DMu, double DLogSigma) Derivatives(double y, double mu, double logSigma)
    {
        var inv = Math.Exp(-logSigma);
        var z = (y - mu) * inv;
        return (-z * inv, 1 - z * z);
    }

    /// <summary>Mean loss over matching spans.</summary>
    /// <param name="y">Targets.</param>
    /// <param name="mu">Means.</param>
    /// <param name="logSigma">Log standard deviations.</param>
    /// <returns>The mean loss.</returns>
    public static double Mean(ReadOnlySpan<float> y, ReadOnlySpan<float> mu, ReadOnlySpan<float> logSigma)
    {
        if (y.IsEmpty) return 0;
        var s = 0.0;
        for (var i = 0; i < y.Length; i++) s += Element(y[i], mu[i], logSigma[i]);
        return s / y.Length;
    }
}
