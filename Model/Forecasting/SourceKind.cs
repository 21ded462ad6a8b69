namespace StreamLstm.Model.Forecasting;

/// <summary>The kind of stream an event came from; each kind has its own model and state slab.</summary>
public enum SourceKind
{
    /// <summary>Market ticks (per symbol).</summary>
    Tick = 0,

    /// <summary>Patient vital signs (per patient).</summary>
    Vitals = 1,

    /// <summary>Audio feature frames (per audio stream).</summary>
    Audio = 2,
}

/// <summary>Names used on the wire and in InfluxDB tags.</summary>
public static class SourceKindNames
{
    /// <summary>Lower-case wire name: <c>tick</c>, <c>vitals</c>, <c>audio</c>.</summary>
    /// <param name="kind">The source kind.</param>
    /// <returns>The wire name.</returns>
    public static string ToWireName(this SourceKind kind) => kind switch
    {
        SourceKind.Tick => "tick",
        SourceKind.Vitals => "vitals",
        SourceKind.Audio => "audio",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
