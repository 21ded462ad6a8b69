using Confluent.Kafka;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Consumer;

/// <summary>How <see cref="KafkaIngestConsumer"/> takes messages off the client (<c>Kafka:ConsumePath</c>).</summary>
public enum ConsumePath
{
    /// <summary>Confluent.Kafka's <c>Consume</c> (a result, a key and a value array per message). The default.</summary>
    Client,

    /// <summary>
    /// <c>rd_kafka_consumer_poll</c> on the same consumer's handle, key and value bytes copied straight into the chunk's
    /// pooled buffer: no managed object per message. Group membership, rebalances, offsets and commits stay with the client.
    /// </summary>
    Native,
}

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

    /// <summary>How messages are taken off the client (<see cref="ConsumePath.Client"/> by default).</summary>
    public ConsumePath ConsumePath { get; set; } = ConsumePath.Client;

    /// <summary>Extra librdkafka properties (e.g. security settings) applied last.</summary>
    public Dictionary<string, string> Extra { get; set; } = [];
}
