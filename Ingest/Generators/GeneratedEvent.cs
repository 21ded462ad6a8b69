namespace StreamLstm.Ingest.Generators;

/// <summary>What a generator tells its caller about the event it just wrote: whose it is, when, and its label.</summary>
/// <param name="KeyIndex">Index of the entity (0..KeyCount-1); <see cref="IEventGenerator.GetKey"/> gives its id.</param>
/// <param name="TimestampMs">Event time, epoch milliseconds (virtual time).</param>
/// <param name="Anomaly">The injected anomaly, or <see cref="AnomalyKind.None"/>.</param>
public readonly record struct GeneratedEvent(int KeyIndex, long TimestampMs, AnomalyKind Anomaly)
{
    /// <summary>True when something was injected into this event.</summary>
    public bool IsAnomaly => Anomaly != AnomalyKind.None;
}
