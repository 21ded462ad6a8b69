namespace StreamLstm.Sink.Anomaly;

/// <summary>Scoring and alert thresholds for one source kind ("calibration"). Scores are in surprise units: <c>-log10(p)</c>.</summary>
public sealed class SourceCalibration
{
    /// <summary>Multiplies every forecast sigma before scoring; above 1 when the model is over-confident on this source
    /// (set it from the model's validation coverage, e.g. the ratio of observed to nominal z-score spread).</summary>
    public double SigmaScale { get; set; } = 1.0;

    /// <summary>Smoothed score at or above which a key becomes a candidate for an alert (3 ≈ a 1-in-1000 miss on average).</summary>
    public double EnterThreshold { get; set; } = 3.0;

    /// <summary>Smoothed score below which an open alert resolves (lower than <see cref="EnterThreshold"/>: hysteresis).</summary>
    public double ExitThreshold { get; set; } = 1.5;

    /// <summary>Peak score from which an alert is <see cref="Model.Forecasting.AlertSeverity.Critical"/>.</summary>
    public double CriticalThreshold { get; set; } = 6.0;

    /// <summary>Event time the score must stay at or above <see cref="EnterThreshold"/> before the alert is raised.</summary>
    public TimeSpan MinDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Event time after a resolve during which the key cannot raise again.</summary>
    public TimeSpan Cooldown { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Input features (by the kind's feature name, e.g. <c>spo2</c>) whose own surprise also drives the alert score: the
    /// per-key z-score the features already compute (value against the key's running mean and spread), as a two-sided
    /// Gaussian tail, corrected for the number of features watched. A row's surprise is the larger of the forecast's and
    /// these, so an episode in a feature the model does not forecast (SpO2 for a heart-rate model) still raises. Empty:
    /// the forecast alone, as before.
    /// </summary>
    public IList<string> WatchFeatures { get; set; } = [];

    /// <summary>Problems, each saying what to fix.</summary>
    /// <param name="name">Configuration path for messages.</param>
    /// <returns>Problems.</returns>
    public IEnumerable<string> Validate(string name)
    {
        if (!(SigmaScale > 0) || !double.IsFinite(SigmaScale))
        {
            yield return $"{name}:SigmaScale must be a positive number.";
        }

        if (!(ExitThreshold < EnterThreshold))
        {
            yield return $"{name}:ExitThreshold ({ExitThreshold}) must be below EnterThreshold ({EnterThreshold}) for hysteresis.";
        }

        if (!(CriticalThreshold >= EnterThreshold))
        {
            yield return $"{name}:CriticalThreshold ({CriticalThreshold}) must be at least EnterThreshold ({EnterThreshold}).";
        }

        if (MinDuration < TimeSpan.Zero || Cooldown < TimeSpan.Zero)
        {
            yield return $"{name}:MinDuration and Cooldown must not be negative.";
        }

        if (WatchFeatures.Any(string.IsNullOrWhiteSpace))
        {
            yield return $"{name}:WatchFeatures has an empty name.";
        }
    }
}

/// <summary>Anomaly scoring settings.</summary>
public sealed class AnomalyOptions
{
    /// <summary>Events per key averaged into the smoothed score (1 = no smoothing).</summary>
    public int Window { get; set; } = 5;

    /// <summary>
    /// Scored events per key before its alerts can start: a new key's state and normalisation are still settling, and
    /// alerts from that phase are noise to the person on call. Scores are written from the first event regardless.
    /// </summary>
    public int WarmupEvents { get; set; } = 30;

    /// <summary>Calibration for sources without an entry in <see cref="Sources"/>.</summary>
    public SourceCalibration Default { get; set; } = new();

    /// <summary>Per-source calibration keyed by wire name (<c>tick</c>, <c>vitals</c>, <c>audio</c>).</summary>
    public Dictionary<string, SourceCalibration> Sources { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The calibration for a source.</summary>
    /// <param name="wireName">Source wire name.</param>
    /// <returns>Its calibration or <see cref="Default"/>.</returns>
    public SourceCalibration For(string wireName) => Sources.TryGetValue(wireName, out var c) ? c : Default;

    /// <summary>Problems, each saying what to fix.</summary>
    /// <returns>Problems.</returns>
    public IEnumerable<string> Validate()
    {
        if (Window is < 1 or > 4096)
        {
            yield return "Sink:Anomaly:Window must be between 1 and 4096 events.";
        }

        if (WarmupEvents < 0)
        {
            yield return "Sink:Anomaly:WarmupEvents must be 0 or more.";
        }

        foreach (var p in Default.Validate("Sink:Anomaly:Default"))
        {
            yield return p;
        }

        foreach (var (name, c) in Sources)
        {
            if (name is not ("tick" or "vitals" or "audio"))
            {
                yield return $"Sink:Anomaly:Sources:{name} is not a source; use tick, vitals or audio.";
            }

            foreach (var p in c.Validate("Sink:Anomaly:Sources:" + name))
            {
                yield return p;
            }
        }
    }
}
