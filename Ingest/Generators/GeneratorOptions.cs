namespace StreamLstm.Ingest.Generators;

/// <summary>Settings every generator shares.</summary>
public class GeneratorOptions
{
    /// <summary>Seed; the same seed and options give the same bytes.</summary>
    public ulong Seed { get; set; } = 42;

    /// <summary>Number of entities (symbols, patients, audio streams).</summary>
    public int Keys { get; set; } = 100;

    /// <summary>Mean events per second per key, in virtual time.</summary>
    public double EventsPerKeyPerSecond { get; set; } = 10;

    /// <summary>Virtual time of the first events, epoch milliseconds (no wall clock is read while generating).</summary>
    public long StartUnixMs { get; set; } = 1_700_000_000_000;

    /// <summary>Multiplies every anomaly rate (0 = no anomalies).</summary>
    public double AnomalyRateScale { get; set; } = 1.0;

    /// <summary>When true, anomalous events carry an extra JSON field <c>"label"</c> (decoders ignore it).</summary>
    public bool IncludeLabelInJson { get; set; }

    /// <summary>When true, <c>ts</c> is written as an ISO-8601 UTC string instead of epoch milliseconds (the contract allows both).</summary>
    public bool IsoTimestamps { get; set; }

    /// <summary>Prefix of generated key names; null picks the kind's default (<c>SYM</c>, <c>p-</c>, <c>mic-</c>).</summary>
    public string? KeyPrefix { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting to fix.</summary>
    public virtual void Validate()
    {
        if (Keys is < 1 or > 10_000_000)
        {
            throw new ArgumentException($"Keys must be in 1..10000000 (got {Keys}).");
        }

        if (!(EventsPerKeyPerSecond > 0) || double.IsInfinity(EventsPerKeyPerSecond))
        {
            throw new ArgumentException($"EventsPerKeyPerSecond must be a positive number (got {EventsPerKeyPerSecond}).");
        }

        if (!(AnomalyRateScale >= 0) || double.IsInfinity(AnomalyRateScale))
        {
            throw new ArgumentException($"AnomalyRateScale must be >= 0 (got {AnomalyRateScale}).");
        }

        if (StartUnixMs < 0)
        {
            throw new ArgumentException($"StartUnixMs must be >= 0 (got {StartUnixMs}).");
        }
    }

    /// <summary>Sets <see cref="StartUnixMs"/> from a clock, once, before generating.</summary>
    /// <param name="time">The clock (e.g. <see cref="TimeProvider.System"/> or a fake one).</param>
    public void StartAt(TimeProvider time) => StartUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds();

    internal static void Check(bool ok, string message)
    {
        if (!ok)
        {
            throw new ArgumentException(message);
        }
    }
}
