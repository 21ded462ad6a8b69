namespace StreamLstm.Streaming.Online.Gate;

/// <summary>A model's score on the held-out recent windows (normalised units).</summary>
/// <param name="Nll">Mean Gaussian NLL over steps and horizons.</param>
/// <param name="Rmse">RMSE of the means over steps and horizons.</param>
/// <param name="Count">Targets scored.</param>
public readonly record struct ModelScore(double Nll, double Rmse, long Count);

/// <summary>What the gate decided.</summary>
public enum GateVerdict
{
    /// <summary>The candidate replaces the serving model.</summary>
    Promoted,

    /// <summary>Nothing was held out (too little history): nothing to compare on.</summary>
    NoHoldout,

    /// <summary>The candidate's scores are not finite numbers.</summary>
    NotFinite,

    /// <summary>The candidate's NLL is not lower than the serving model's by the margin.</summary>
    NllNotBetter,

    /// <summary>The candidate's RMSE is worse than the serving model's (beyond the tolerance).</summary>
    RmseWorse,
}

/// <summary>
/// Champion/challenger: a candidate is promoted only when its held-out NLL beats the serving model's by at least the
/// margin and its RMSE is not worse (beyond a relative tolerance); otherwise the reason is returned.
/// </summary>
public static class ChampionChallengerGate
{
    /// <summary>Decides.</summary>
    /// <param name="champion">Serving model's score.</param>
    /// <param name="candidate">Candidate's score on the same windows.</param>
    /// <param name="margin">NLL margin the candidate must win by.</param>
    /// <param name="rmseTolerance">Relative RMSE increase allowed (0: none).</param>
    /// <returns>The verdict.</returns>
    public static GateVerdict Decide(ModelScore champion, ModelScore candidate, double margin, double rmseTolerance)
    {
        if (champion.Count == 0 || candidate.Count == 0) return GateVerdict.NoHoldout;
        if (!double.IsFinite(candidate.Nll) || !double.IsFinite(candidate.Rmse)) return GateVerdict.NotFinite;
        if (!(candidate.Nll <= champion.Nll - margin)) return GateVerdict.NllNotBetter;
        if (candidate.Rmse > champion.Rmse * (1 + rmseTolerance)) return GateVerdict.RmseWorse;
        return GateVerdict.Promoted;
    }
}
