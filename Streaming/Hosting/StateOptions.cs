namespace StreamLstm.Streaming.Hosting;

/// <summary>Durable per-key state settings (configuration section <c>State</c>).</summary>
public sealed class StateOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "State";

    /// <summary>Directory of the per-(kind, partition) state stores (<c>run --state-dir DIR</c>); empty = no durable state.</summary>
    public string Directory { get; set; } = "";

    /// <summary>
    /// When a newly assigned partition's stored keys are loaded: <c>lazy</c> (each on its first event; the default) or
    /// <c>eager</c> (all at assignment, up to <c>Pipeline:MaxResidentKeys</c>).
    /// </summary>
    public string Restore { get; set; } = "lazy";

    /// <summary>
    /// Keys whose last event is older than this, in the event time of their partition's newest event, are deleted from
    /// memory and the store at a checkpoint (and start fresh if they come back). Null (the default): never.
    /// </summary>
    public TimeSpan? KeyTtl { get; set; }

    /// <summary>Fsync each checkpoint (survives power loss, not only a process kill; slower).</summary>
    public bool Sync { get; set; }

    /// <summary>
    /// Replicate checkpoints to a compacted changelog topic per kind, so that a partition's state follows it to another
    /// process of the group (rebalance, or its owner killed). Needs <see cref="Directory"/>.
    /// </summary>
    public bool Changelog { get; set; } = true;

    /// <summary>
    /// Changelog topic name prefix; the kind's wire name follows (<c>streamlstm.changelog.tick</c>, <c>.vitals</c>,
    /// <c>.audio</c>). Two applications that keep different state on one cluster need different prefixes.
    /// </summary>
    public string ChangelogTopicPrefix { get; set; } = "streamlstm.changelog.";
}
