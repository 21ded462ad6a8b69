namespace StreamLstm.Model.Forecasting;

/// <summary>Scores of one row. <see cref="HasScore"/> is false for a key's first row (no earlier forecast) or a non-positive sigma.</summary>
public struct RowScore
{
    /// <summary>Whether the other fields are set.</summary>
    public bool HasScore;

    /// <summary>Negative log-likelihood (nats) of the observed value under the previous row's horizon-1 forecast.</summary>
    public double Nll;

    /// <summary>Two-sided tail probability of the observed value.</summary>
    public double TailP;

    /// <summary>Smoothed surprise (<c>-log10</c> tail p, averaged over the window).</summary>
    public double Score;

    /// <summary><c>1 - TailP</c>.</summary>
    public double PAnomaly;
}
