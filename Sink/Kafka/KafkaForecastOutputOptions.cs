using Confluent.Kafka;

namespace StreamLstm.Sink.Kafka;

/// <summary>How <see cref="KafkaForecastOutput"/> hands rows to Kafka (<c>Kafka:ForecastProducePath</c>).</summary>
public enum ForecastProducePath
{
    /// <summary>Through Confluent.Kafka's producer (the default; the only path under exactly-once).</summary>
    Client,

    /// <summary>
    /// Straight through the same librdkafka with an own producer handle: no per-message delegate, handle or allocation,
    /// delivery reports handled in bulk on one thread. Refused under exactly-once (a shared transactional producer).
    /// </summary>
    Native,
}

/// <summary>
/// Compression of the forecasts producer's batches (<c>Kafka:ForecastCompression</c>, librdkafka's <c>compression.type</c>).
/// The producer's broker thread compresses every batch before it is sent; the brokers store the batches as they come and
/// consumers decompress them.
/// </summary>
public enum ForecastCompression
{
    /// <summary>Batches sent as they are: no compression CPU on the producer or the consumers, the most bytes on the wire and on disk.</summary>
    None,

    /// <summary>LZ4 (the default): fast, about half the bytes of JSON rows.</summary>
    Lz4,

    /// <summary>Snappy: about as fast as LZ4 with a little less reduction.</summary>
    Snappy,

    /// <summary>Zstandard: the fewest bytes, the most producer CPU.</summary>
    Zstd,
}

/// <summary>Settings of <see cref="KafkaForecastOutput"/>.</summary>
public sealed class KafkaForecastOutputOptions
{
    /// <summary>Brokers.</summary>
    public string BootstrapServers { get; set; } = "";

    /// <summary>Topic forecasts are written to.</summary>
    public string Topic { get; set; } = "forecasts";

    /// <summary>Producer linger (batching) time.</summary>
    public TimeSpan Linger { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>How many times a message whose delivery failed is produced again before it is reported as lost.</summary>
    public int DeliveryRetries { get; set; } = 3;

    /// <summary>How rows are encoded (<see cref="ForecastFormat.Json"/> by default).</summary>
    public ForecastFormat Format { get; set; } = ForecastFormat.Json;

    /// <summary>How rows are produced (<see cref="ForecastProducePath.Client"/> by default).</summary>
    public ForecastProducePath ProducePath { get; set; } = ForecastProducePath.Client;

    /// <summary>
    /// Compression of the producer's batches (<see cref="ForecastCompression.Lz4"/> by default; docs/sink.md, "Compression").
    /// A <c>compression.type</c> in <see cref="Extra"/> still wins (it is applied last).
    /// </summary>
    public ForecastCompression Compression { get; set; } = ForecastCompression.Lz4;

    /// <summary>Extra librdkafka producer properties.</summary>
    public Dictionary<string, string> Extra { get; set; } = [];

    /// <summary>Exactly-once: the process's transactional producer, produced through instead of an own client (null: own client).</summary>
    public Handle? SharedProducer { get; set; }
}
