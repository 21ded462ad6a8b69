namespace StreamLstm.Streaming.Hosting;

/// <summary>Durable per-key state settings (configuration section <c>State</c>; <c>run --state-dir DIR</c>).</summary>
public sealed class StateOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "State";

    /// <summary>Directory of the state stores; empty keeps state in memory only.</summary>
    public string Directory { get; set; } = "";
}
