namespace StreamLstm.Streaming.Hosting;

/// <summary>Durable per-key state settings (configuration section <c>State</c>).</summary>
public sealed class StateOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "State";

    /// <summary>Directory of the per-(kind, partition) state stores (<c>run --state-dir DIR</c>); empty = no durable state.</summary>
    public string Directory { get; set; } = "";
}
