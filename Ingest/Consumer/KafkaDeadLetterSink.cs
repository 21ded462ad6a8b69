using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Delivery;

namespace StreamLstm.Ingest.Consumer;

/// <summary>
/// Sends dead letters to <c>streamlstm.dlq</c> and late events to the late topic through an idempotent producer:
/// original key and value, headers <c>reason</c>, <c>source.topic</c>, <c>source.partition</c>, <c>source.offset</c>
/// (late events also <c>last.ts</c>). Counts per reason. Deliveries join the durability barrier (<see cref="FlushAsync"/>
/// waits for what was handed over before it); one that fails for good is logged and recorded in
/// <see cref="DeliveryFailures"/>, which holds its input offset back from commit. A value too large for the producer is
/// truncated (header <c>value.truncated</c> gives its original size) rather than lost.
/// </summary>
public sealed partial class KafkaDeadLetterSink : IDeadLetterSink, IDisposable
{
    /// <summary>Largest message the dead-letter producer sends (librdkafka's <c>message.max.bytes</c>).</summary>
    public const int MaxMessageBytes = 1_000_000;

    // Headroom for headers, key and the record's own framing within MaxMessageBytes.
    private const int MaxValueBytes = MaxMessageBytes - 64 * 1024;

    private static readonly byte[][] ReasonBytes = Enumerable.Range(0, DeadLetterReasonNames.Count)
        .Select(i => Encoding.UTF8.GetBytes(((DeadLetterReason)i).ToWireName())).ToArray();

    private static readonly byte[] LateReason = "late"u8.ToArray();
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly string _dlqTopic;
    private readonly string _lateTopic;
    private readonly ILogger _logger;
    private readonly DeliveryFailures _failures;
    private readonly DeliveryEpochs _epochs = new();
    private readonly long[] _counts = new long[DeadLetterReasonNames.Count];
    private long _late;
    private long _failed;
    private long _truncated;
    private int _disposed;

    /// <summary>Creates the sink.</summary>
    /// <param name="bootstrapServers">Brokers.</param>
    /// <param name="dlqTopic">Dead-letter topic.</param>
    /// <param name="lateTopic">Late-event topic.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="failures">Where given-up deliveries are recorded (holds their offsets back); a private one when null.</param>
    /// <param name="extra">Extra librdkafka producer properties.</param>
    /// <param name="sharedProducer">Exactly-once: the process's transactional producer, produced through instead of an own client.</param>
    public KafkaDeadLetterSink(string bootstrapServers, string dlqTopic, string lateTopic, ILogger logger, DeliveryFailures? failures = null,
        IReadOnlyDictionary<string, string>? extra = null, Handle? sharedProducer = null)
    {
        KafkaNative.EnsureLoaded();
        _dlqTopic = dlqTopic;
        _lateTopic = lateTopic;
        _logger = logger;
        _failures = failures ?? new DeliveryFailures();
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = true,
            LingerMs = 5,
            ClientId = "streamlstm-dlq",
            MessageMaxBytes = MaxMessageBytes,
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) config.Set(k, v);
        _producer = sharedProducer is not null ? new DependentProducerBuilder<byte[]?, byte[]?>(sharedProducer).Build() : new ProducerBuilder<byte[]?, byte[]?>(config).LogTo(logger).Build();
    }

    /// <summary>Dead letters handed over, by reason.</summary>
    /// <param name="reason">Reason.</param>
    /// <returns>The count.</returns>
    public long Count(DeadLetterReason reason) => Interlocked.Read(ref _counts[(int)reason]);

    /// <summary>Late events handed over.</summary>
    public long LateCount => Interlocked.Read(ref _late);

    /// <summary>Deliveries given up (each holds its input offset back).</summary>
    public long FailedDeliveries => Interlocked.Read(ref _failed);

    /// <summary>Dead letters whose value was truncated to fit the producer's message size.</summary>
    public long Truncated => Interlocked.Read(ref _truncated);

    /// <inheritdoc />
    public void DeadLetter(DeadLetterReason reason, PartitionState partition, long offset, byte[]? key, byte[]? value)
    {
        Interlocked.Increment(ref _counts[(int)reason]);
        Produce(_dlqTopic, ReasonBytes[(int)reason], partition, offset, key, value, null);
    }

    /// <inheritdoc />
    public void Late(PartitionState partition, long offset, byte[]? key, byte[]? value, long lastTimestampMs)
    {
        Interlocked.Increment(ref _late);
        Produce(_lateTopic, LateReason, partition, offset, key, value, lastTimestampMs);
    }

    /// <inheritdoc />
    public async ValueTask FlushAsync(CancellationToken cancellationToken) => await _epochs.FlushAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public void Dispose()
    {
        // Registered under two service types, so DI may dispose it twice.
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }

    private void Produce(string topic, byte[] reason, PartitionState partition, long offset, byte[]? key, byte[]? value, long? lastTs)
    {
        var headers = new Headers
        {
            { "reason", reason },
            { "source.topic", Encoding.UTF8.GetBytes(partition.Topic) },
            { "source.partition", Encoding.UTF8.GetBytes(partition.Partition.ToString(CultureInfo.InvariantCulture)) },
            { "source.offset", Encoding.UTF8.GetBytes(offset.ToString(CultureInfo.InvariantCulture)) },
        };
        if (lastTs is { } ts)
        {
            headers.Add("last.ts", Encoding.UTF8.GetBytes(ts.ToString(CultureInfo.InvariantCulture)));
        }

        if (value is { Length: > MaxValueBytes })
        {
            // The original is larger than this producer may send: keep its head and say how large it was.
            headers.Add("value.truncated", Encoding.UTF8.GetBytes(value.Length.ToString(CultureInfo.InvariantCulture)));
            value = value.AsSpan(0, MaxValueBytes).ToArray();
            Interlocked.Increment(ref _truncated);
        }

        if (key is { Length: > 16 * 1024 })
        {
            headers.Add("key.truncated", Encoding.UTF8.GetBytes(key.Length.ToString(CultureInfo.InvariantCulture)));
            key = key.AsSpan(0, 16 * 1024).ToArray();
        }

        var message = new Message<byte[]?, byte[]?> { Key = key, Value = value, Headers = headers };
        var epoch = _epochs.Current;
        epoch.Begin();
        // Dead letters are off the hot path: a closure per message carries the origin a failure must hold back.
        void OnDelivery(DeliveryReport<byte[]?, byte[]?> report)
        {
            if (report.Error.IsError) GiveUp(topic, partition, offset, report.Error.Reason);
            _epochs.Complete(epoch);
        }

        while (true)
        {
            _epochs.ArmProgress();
            try
            {
                _producer.Produce(topic, message, OnDelivery);
                return;
            }
            catch (ProduceException<byte[]?, byte[]?> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                // Backpressure from the client's queue: wait for a delivery report (the client polls in the background,
                // so its Poll would throw).
                _epochs.WaitForProgress(TimeSpan.FromMilliseconds(100), CancellationToken.None);
            }
            catch (KafkaException ex)
            {
                // Refused outright (fatal producer state, unknown topic...): never crash the worker over a dead letter.
                GiveUp(topic, partition, offset, ex.Error.Reason);
                _epochs.Complete(epoch);
                return;
            }
        }
    }

    private void GiveUp(string topic, PartitionState partition, long offset, string reason)
    {
        Interlocked.Increment(ref _failed);
        LogDeliveryFailed(_logger, topic, partition.Topic, partition.Partition, offset, reason);
        _failures.Record(topic, partition.Kind, partition.Partition, offset, reason);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Delivery to {Topic} failed for good for input {Source}[{Partition}]@{Offset}: {Reason}; that partition's offset is held back until a restart reads it again")]
    private static partial void LogDeliveryFailed(ILogger logger, string topic, string source, int partition, long offset, string reason);
}
