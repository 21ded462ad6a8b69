namespace StreamLstm.Model.Forecasting;

/// <summary>What happened to an alert.</summary>
public enum AlertEventKind
{
    /// <summary>The score stayed above the enter threshold for the minimum duration.</summary>
    Raised = 0,

    /// <summary>An open alert's peak crossed into a higher severity.</summary>
    Updated = 1,

    /// <summary>The score fell below the exit threshold.</summary>
    Resolved = 2,
}

/// <summary>Alert severity, from the peak score.</summary>
public enum AlertSeverity
{
    /// <summary>Peak below the critical threshold.</summary>
    Warning = 0,

    /// <summary>Peak at or above the critical threshold.</summary>
    Critical = 1,
}

/// <summary>
/// One alert event. <see cref="AlertId"/> (<c>source/key/startMs</c>) is the same for the raise, updates and resolve of one
/// alert and is deterministic, so replays give the same ids. The pipeline's scoring raises it; outputs only carry it.
/// </summary>
public sealed record AlertEvent
{
    /// <summary>Stable id: <c>source/key/startMs</c>.</summary>
    public required string AlertId { get; init; }

    /// <summary>Raised, updated or resolved.</summary>
    public required AlertEventKind Kind { get; init; }

    /// <summary>Severity (from the peak so far).</summary>
    public required AlertSeverity Severity { get; init; }

    /// <summary>Source kind.</summary>
    public required SourceKind Source { get; init; }

    /// <summary>Entity key.</summary>
    public required string Key { get; init; }

    /// <summary>Model version that made the violated forecast.</summary>
    public required string Model { get; init; }

    /// <summary>Event time the score first crossed the enter threshold (Unix ms).</summary>
    public required long StartMs { get; init; }

    /// <summary>Event time of the row that caused this event (Unix ms).</summary>
    public required long EventMs { get; init; }

    /// <summary>Highest smoothed score of the alert so far.</summary>
    public required double PeakScore { get; init; }

    /// <summary>Smoothed score at this event.</summary>
    public required double Score { get; init; }

    /// <summary>The violated forecast: observed value at the peak.</summary>
    public required double Observed { get; init; }

    /// <summary>The violated forecast's horizon-1 mean (made one step before the peak row).</summary>
    public required double ForecastMu { get; init; }

    /// <summary>The violated forecast's horizon-1 standard deviation (after calibration scale).</summary>
    public required double ForecastSigma { get; init; }

    /// <summary>Event time of the row that made the violated forecast (Unix ms).</summary>
    public required long ForecastMadeAtMs { get; init; }

    /// <summary>Wall-clock time the event was produced (from the injected <see cref="TimeProvider"/>).</summary>
    public required DateTimeOffset EmittedAt { get; init; }

    /// <summary>Lower-case wire name of <see cref="Kind"/>.</summary>
    public string KindName => Kind switch { AlertEventKind.Raised => "raised", AlertEventKind.Updated => "updated", _ => "resolved" };

    /// <summary>Lower-case wire name of <see cref="Severity"/>.</summary>
    public string SeverityName => Severity == AlertSeverity.Critical ? "critical" : "warning";
}
