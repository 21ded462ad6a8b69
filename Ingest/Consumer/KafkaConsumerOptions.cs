using Confluent.Kafka;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Consumer;

/// <summary>Settings of the one Kafka consumer per process.</summary>
public sealed class KafkaConsumerOptions
{
    /// <summary>Brokers, <c>host:port,...</c>.</summary>
    public string BootstrapServers { get; set; } = "";

    /// <summary>Consumer group id.</summary>
    public string GroupId { get; set; } = "streamlstm";

    /// <summary>Input topics and the source kind each carries.</summary>
    public Dictionary<string, SourceKind> Topics { get; set; } = [];

    /// <summary>Where a group with no committed offset starts.</summary>
    public AutoOffsetReset AutoOffsetReset { get; set; } = AutoOffsetReset.Earliest;

    /// <summary>Most messages taken from the client per poll round before they are dispatched.</summary>
    public int MaxPollMessages { get; set; } = 8192;

    /// <summary>How long one poll waits when nothing is ready.</summary>
    public TimeSpan PollTimeout { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How often stored offsets are committed (librdkafka auto-commit interval).</summary>
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Upper bound of every wait on the workers and outputs during a revoke or the shutdown (hand-over, drain, final flush).
    /// What is not drained by then stays uncommitted and is read again by the next owner.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Extra librdkafka properties (e.g. security settings) applied last.</summary>
    public Dictionary<string, string> Extra { get; set; } = [];
}
