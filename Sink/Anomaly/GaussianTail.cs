namespace StreamLstm.Sink.Anomaly;

/// <summary>Gaussian negative log-likelihood and two-sided tail probability, computed in log space so far tails do not underflow.</summary>
public static class GaussianTail
{
    private const double HalfLogTwoPi = 0.91893853320467274178;
    private const double Ln10 = 2.30258509299404568402;

    /// <summary>Negative log-likelihood of <paramref name="x"/> under N(mu, sigma²).</summary>
    /// <param name="x">Observed value.</param>
    /// <param name="mu">Mean.</param>
    /// <param name="sigma">Standard deviation (positive).</param>
    /// <returns>NLL in nats.</returns>
    public static double Nll(double x, double mu, double sigma)
    {
        var z = (x - mu) / sigma;
        return (0.5 * z * z) + Math.Log(sigma) + HalfLogTwoPi;
    }

    /// <summary>Natural log of the two-sided tail probability <c>P(|Z| ≥ |z|) = erfc(|z|/√2)</c>.</summary>
    /// <param name="z">Standardised residual.</param>
    /// <returns>log p (≤ 0).</returns>
    public static double LogTwoSidedP(double z) => Math.Min(0.0, LogErfc(Math.Abs(z) / Math.Sqrt(2.0)));

    /// <summary>Surprise <c>-log10(p)</c> of a two-sided tail probability given as its natural log.</summary>
    /// <param name="logP">Natural log of p.</param>
    /// <returns>Surprise (0 for p = 1, 3 for p = 0.001).</returns>
    public static double Surprise(double logP) => -logP / Ln10;

    /// <summary>log(erfc(x)) for x ≥ 0 (Numerical Recipes' Chebyshev fit, relative error below 1.2e-7 everywhere).</summary>
    /// <param name="x">Argument, not negative.</param>
    /// <returns>log erfc(x).</returns>
    public static double LogErfc(double x)
    {
        var t = 1.0 / (1.0 + (0.5 * x));
        var poly = -1.26551223 + (t * (1.00002368 + (t * (0.37409196 + (t * (0.09678418 + (t * (-0.18628806 + (t * (0.27886807
            + (t * (-1.13520398 + (t * (1.48851587 + (t * (-0.82215223 + (t * 0.17087277)))))))))))))))));
        return Math.Log(t) - (x * x) + poly;
    }
}
