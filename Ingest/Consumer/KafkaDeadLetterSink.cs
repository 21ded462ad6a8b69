using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Ingest.Kafka;

namespace StreamLstm.Ingest.Consumer;

/// <summary>
/// Sends dead letters to <c>streamlstm.dlq</c> and late events to the late topic through an idempotent producer:
/// original key and value, headers <c>reason</c>, <c>source.topic</c>, <c>source.partition</c>, <c>source.offset</c>
/// (late events also <c>last.ts</c>). Counts per reason; delivery failures are counted and logged.
/// </summary>
public sealed partial class KafkaDeadLetterSink : IDeadLetterSink, IDisposable
{
    private static readonly byte[][] ReasonBytes = Enumerable.Range(0, DeadLetterReasonNames.Count)
        .Select(i => Encoding.UTF8.GetBytes(((DeadLetterReason)i).ToWireName())).ToArray();

    private static readonly byte[] LateReason = "late"u8.ToArray();
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly string _dlqTopic;
    private readonly string _lateTopic;
    private readonly ILogger _logger;
    private readonly long[] _counts = new long[DeadLetterReasonNames.Count];
    private readonly Action<DeliveryReport<byte[]?, byte[]?>> _onDelivery;
    private long _late;
    private long _failed;
    private int _disposed;

    /// <summary>Creates the sink.</summary>
    /// <param name="bootstrapServers">Brokers.</param>
    /// <param name="dlqTopic">Dead-letter topic.</param>
    /// <param name="lateTopic">Late-event topic.</param>
    /// <param name="logger">Logger.</param>
    public KafkaDeadLetterSink(string bootstrapServers, string dlqTopic, string lateTopic, ILogger logger)
    {
        KafkaNative.EnsureLoaded();
        _dlqTopic = dlqTopic;
        _lateTopic = lateTopic;
        _logger = logger;
        _producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = true,
            LingerMs = 5,
            ClientId = "streamlstm-dlq",
        }).Build();
        _onDelivery = OnDelivery;
    }

    /// <summary>Dead letters handed over, by reason.</summary>
    /// <param name="reason">Reason.</param>
    /// <returns>The count.</returns>
    public long Count(DeadLetterReason reason) => Interlocked.Read(ref _counts[(int)reason]);

    /// <summary>Late events handed over.</summary>
    public long LateCount => Interlocked.Read(ref _late);

    /// <summary>Deliveries that failed after the client's retries.</summary>
    public long FailedDeliveries => Interlocked.Read(ref _failed);

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
    public void Flush(TimeSpan timeout) => _producer.Flush(timeout);

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

        var message = new Message<byte[]?, byte[]?> { Key = key, Value = value, Headers = headers };
        while (true)
        {
            try
            {
                _producer.Produce(topic, message, _onDelivery);
                return;
            }
            catch (ProduceException<byte[]?, byte[]?> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                // Backpressure from the client's queue: let deliveries complete, then retry.
                _producer.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    private void OnDelivery(DeliveryReport<byte[]?, byte[]?> report)
    {
        if (report.Error.IsError)
        {
            Interlocked.Increment(ref _failed);
            LogDeliveryFailed(_logger, report.Topic, report.Error.Reason);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Dead-letter delivery to {Topic} failed: {Reason}")]
    private static partial void LogDeliveryFailed(ILogger logger, string topic, string reason);
}
