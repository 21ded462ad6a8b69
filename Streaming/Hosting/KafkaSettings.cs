using System.ComponentModel.DataAnnotations;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Hosting;

/// <summary>Kafka settings (configuration section <c>Kafka</c>).</summary>
public sealed class KafkaSettings
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Kafka";

    /// <summary>Brokers, <c>host:port,...</c> (<c>--bootstrap-servers</c>).</summary>
    public string BootstrapServers { get; set; } = "";

    /// <summary>Consumer group.</summary>
    public string GroupId { get; set; } = "streamlstm";

    /// <summary>Tick topic (empty disables ticks).</summary>
    public string TicksTopic { get; set; } = "ticks";

    /// <summary>Vitals topic (empty disables vitals).</summary>
    public string VitalsTopic { get; set; } = "vitals";

    /// <summary>Audio-feature topic (empty disables audio).</summary>
    public string AudioTopic { get; set; } = "audio-features";

    /// <summary>Forecast output topic.</summary>
    public string ForecastsTopic { get; set; } = "forecasts";

    /// <summary>Encoding of the forecasts topic: <c>json</c> (default) or the compact <c>binary</c> row (<see cref="Sink.Kafka.ForecastBinary"/>).</summary>
    public Sink.Kafka.ForecastFormat ForecastFormat { get; set; } = Sink.Kafka.ForecastFormat.Json;

    /// <summary>
    /// How forecasts are produced: <c>client</c> (default, Confluent.Kafka's producer) or <c>native</c> (librdkafka directly:
    /// no per-message allocation, delivery reports in bulk; see docs/sink.md). An unknown value fails start-up; <c>native</c>
    /// under <c>Kafka:Guarantee=exactly_once</c> is refused at start-up (forecasts go through the transactional producer).
    /// </summary>
    public Sink.Kafka.ForecastProducePath ForecastProducePath { get; set; } = Sink.Kafka.ForecastProducePath.Client;

    /// <summary>
    /// Compression of the forecasts producer's batches: <c>lz4</c> (default), <c>none</c>, <c>snappy</c> or <c>zstd</c> (see
    /// docs/sink.md, "Compression": <c>none</c> saves the producer's CPU where the brokers are on a LAN and disk is not the
    /// constraint). An unknown value fails start-up. Under exactly-once rows go through the transactional producer, whose
    /// compression is lz4 (set <c>Kafka:Client:compression.type</c> to change every client's).
    /// </summary>
    public Sink.Kafka.ForecastCompression ForecastCompression { get; set; } = Sink.Kafka.ForecastCompression.Lz4;

    /// <summary>
    /// How input messages are taken off the consumer: <c>client</c> (default, Confluent.Kafka's <c>Consume</c>) or <c>native</c>
    /// (<c>rd_kafka_consumer_poll</c> on the same consumer, bytes copied into pooled chunks: no per-message allocation; see
    /// docs/pipeline.md). An unknown value fails start-up; <c>native</c> under <c>Kafka:Guarantee=exactly_once</c> is refused.
    /// </summary>
    public Ingest.Consumer.ConsumePath ConsumePath { get; set; } = Ingest.Consumer.ConsumePath.Client;

    /// <summary>Dead-letter topic.</summary>
    public string DeadLetterTopic { get; set; } = "streamlstm.dlq";

    /// <summary>Late-event side topic.</summary>
    public string LateTopic { get; set; } = "late";

    /// <summary>Where a new group starts: <c>earliest</c> or <c>latest</c>.</summary>
    public string AutoOffsetReset { get; set; } = "earliest";

    /// <summary>How often stored offsets are committed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00", ParseLimitsInInvariantCulture = true, ConvertValueInInvariantCulture = true, ErrorMessage = "Kafka:CommitInterval must be between {1} and {2}.")]
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Most messages taken per poll round.</summary>
    [Range(1, 1_000_000, ErrorMessage = "Kafka:MaxPollMessages must be {1}..{2}.")]
    public int MaxPollMessages { get; set; } = 8192;

    /// <summary>
    /// Delivery guarantee: <c>at_least_once</c> (default) or <c>exactly_once</c>. Exactly-once needs <c>State:Directory</c>:
    /// one transactional producer carries the forecasts, alerts, DLQ, <c>late</c> and changelog records of each checkpoint
    /// and commits them atomically with the input offsets (<c>SendOffsetsToTransaction</c>).
    /// </summary>
    public string Guarantee { get; set; } = "at_least_once";

    /// <summary>The transactional producer's <c>transactional.id</c> under exactly-once; empty derives it from the group id
    /// and the host name (stable across restarts of one instance; give each instance its own).</summary>
    public string TransactionalId { get; set; } = "";

    /// <summary>Tests only: under exactly-once, the checkpoint transaction with this number (1-based) fails before its
    /// commit, as a broker error would; 0 (default) never.</summary>
    public int FailTransactionAt { get; set; }

    /// <summary>True when <see cref="Guarantee"/> is <c>exactly_once</c>.</summary>
    public bool ExactlyOnce => string.Equals(Guarantee, "exactly_once", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// librdkafka properties applied to every Kafka client of the service (the consumer, the forecasts, dead-letter and alerts
    /// producers), e.g. <c>--Kafka:Client:security.protocol=SASL_SSL</c>, <c>sasl.mechanism</c>, <c>sasl.username</c>: how a
    /// secured cluster is reached.
    /// </summary>
    public Dictionary<string, string> Client { get; set; } = [];

    /// <summary>The enabled input topics and their kinds.</summary>
    /// <returns>Topic → kind.</returns>
    public Dictionary<string, SourceKind> InputTopics()
    {
        var d = new Dictionary<string, SourceKind>(StringComparer.Ordinal);
        if (!string.IsNullOrWhiteSpace(TicksTopic)) d[TicksTopic] = SourceKind.Tick;
        if (!string.IsNullOrWhiteSpace(VitalsTopic)) d[VitalsTopic] = SourceKind.Vitals;
        if (!string.IsNullOrWhiteSpace(AudioTopic)) d[AudioTopic] = SourceKind.Audio;
        return d;
    }
}

/// <summary>Model settings (configuration section <c>Models</c>).</summary>
public sealed class ModelSettings
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Models";

    /// <summary>Tick model file (safetensors); empty = randomly initialised (demo: trained at start-up).</summary>
    public string TickModel { get; set; } = "";

    /// <summary>Vitals model file.</summary>
    public string VitalsModel { get; set; } = "";

    /// <summary>Audio model file.</summary>
    public string AudioModel { get; set; } = "";

    /// <summary>Hidden size of models created here.</summary>
    [Range(1, 4096, ErrorMessage = "Models:Hidden must be {1}..{2}.")]
    public int Hidden { get; set; } = 64;

    /// <summary>Layers of models created here.</summary>
    [Range(1, 8, ErrorMessage = "Models:Layers must be {1}..{2}.")]
    public int Layers { get; set; } = 1;

    /// <summary>Forecast horizons of models created here.</summary>
    [Range(1, 256, ErrorMessage = "Models:Horizons must be {1}..{2}.")]
    public int Horizons { get; set; } = 5;

    /// <summary>Seed for initialisation.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Model registry directory: a kind without a model file above is served the registry's promoted version, if any.</summary>
    public string Registry { get; set; } = StreamLstm.Streaming.Registry.ModelRegistry.DefaultDirectory;
}
