using Confluent.Kafka;
using StreamLstm.Model.Delivery;

namespace StreamLstm.Sink.Kafka;

/// <summary>
/// The forecasts topic through Confluent.Kafka's <see cref="IProducer{TKey,TValue}"/> (the default produce path, and the
/// only one under exactly-once, where it is a dependent producer of the transactional one). Rows are copied into large
/// pooled slabs and the client's value is a <see cref="ForecastValue"/> slice (a struct it stores inline; the bytes are
/// copied into the client during <c>Produce</c> from one reused array per length, so no per-row array stays referenced
/// until delivery); the slice is released when the row's delivery is final. One delivery delegate serves a whole flush
/// epoch, the topic-partition and the (empty) headers are reused, and delivery reports carry only the key, the value and
/// the error. The client itself still allocates per message (its delivery opaque handle, and a report, message and key
/// array per report on its poll thread): <see cref="Native.NativeForecastProducer"/> avoids those.
/// </summary>
internal sealed class ClientForecastProducer : IForecastProducer
{
    private const string RetryHeader = "streamlstm.retry";

    // The client makes a Headers per message when a message has none, and a TopicPartition per Produce(string, ...) call.
    private static readonly Headers NoHeaders = [];

    [ThreadStatic]
    private static Message<byte[], ForecastValue>? t_message;

    private readonly IProducer<byte[], ForecastValue> _producer;
    private readonly ForecastDeliveryLedger _ledger;
    private readonly TopicPartition _topicPartition;
    private readonly string _topic;

    // Rows live in long-lived slabs until their delivery is final (a retry or a given-up row reads them back).
    private readonly ValueSlabPool _values = new();

    // Made once: a lambda passed per row would allocate a closure per row.
    private readonly Func<DeliveryEpochs.Epoch, EpochHandler> _newHandler;

    /// <summary>Creates the client producer.</summary>
    /// <param name="options">Settings.</param>
    /// <param name="ledger">Shared accounting.</param>
    public ClientForecastProducer(KafkaForecastOutputOptions options, ForecastDeliveryLedger ledger)
    {
        _ledger = ledger;
        _topic = options.Topic;
        _newHandler = e => new EpochHandler(this, e);
        _topicPartition = new TopicPartition(options.Topic, Partition.Any);
        _producer = options.SharedProducer is { } shared
            ? new DependentProducerBuilder<byte[], ForecastValue>(shared).SetValueSerializer(ForecastValueSerializer.Instance).Build()
            : new ProducerBuilder<byte[], ForecastValue>(Config(options))
            .SetValueSerializer(ForecastValueSerializer.Instance)
            .SetErrorHandler((p, e) =>
            {
                if (e.IsFatal) ledger.Fatal(e.Reason);
                else KafkaClientLog.TransientError(ledger.Logger, p.Name, e.Reason);
            })
            .SetLogHandler((_, m) => KafkaClientLog.Write(ledger.Logger, m))
            .Build();
    }

    /// <summary>The producer settings both produce paths apply (the native one skips the client-only <c>dotnet.*</c> keys).</summary>
    /// <param name="options">Settings.</param>
    /// <returns>librdkafka properties, the output's own first, then <see cref="KafkaForecastOutputOptions.Extra"/>.</returns>
    public static ProducerConfig Config(KafkaForecastOutputOptions options)
    {
        var config = new ProducerConfig
        {
            BootstrapServers = options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = options.Linger.TotalMilliseconds,
            CompressionType = Compression(options.Compression),
            ClientId = "streamlstm-forecasts",
            QueueBufferingMaxMessages = 1_000_000,
            // Reports need only the key and value (to produce again or to find the input row) and the error.
            DeliveryReportFields = "key,value",
        };
        foreach (var (k, v) in options.Extra) config.Set(k, v);
        return config;
    }

    /// <summary>librdkafka's compression for <paramref name="compression"/>.</summary>
    /// <param name="compression">The output's setting.</param>
    /// <returns>The client's value.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="ForecastCompression"/>.</exception>
    public static CompressionType Compression(ForecastCompression compression) => compression switch
    {
        ForecastCompression.None => CompressionType.None,
        ForecastCompression.Lz4 => CompressionType.Lz4,
        ForecastCompression.Snappy => CompressionType.Snappy,
        ForecastCompression.Zstd => CompressionType.Zstd,
        _ => throw new ArgumentOutOfRangeException(nameof(compression), compression, "Forecast compression must be none, lz4, snappy or zstd."),
    };

    /// <inheritdoc />
    public void Produce(byte[] key, ReadOnlySpan<byte> value, DeliveryEpochs.Epoch epoch, CancellationToken cancellationToken)
    {
        var onDelivery = epoch.Handler(_newHandler).OnDelivery;
        // The client copies the payload and keeps only references, so one Message instance serves every row.
        var message = t_message ??= new Message<byte[], ForecastValue> { Headers = NoHeaders };
        message.Key = key;
        message.Value = _values.Append(value);
        try
        {
            Produce(message, onDelivery, cancellationToken);
        }
        catch
        {
            // Never queued (cancelled, or a fatal producer error): no delivery report will release it.
            message.Value.Release();
            throw;
        }
        finally
        {
            message.Value = default;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }

    private void Produce(Message<byte[], ForecastValue> message, Action<DeliveryReport<byte[], ForecastValue>> onDelivery, CancellationToken ct)
    {
        // The backpressure signal is armed only once the queue was found full (arming resets a flag every delivery report
        // also writes: doing it per row made the workers and the client's poll thread contend for it).
        var armed = false;
        while (true)
        {
            if (armed) _ledger.Epochs.ArmProgress();
            try
            {
                _producer.Produce(_topicPartition, message, onDelivery);
                return;
            }
            catch (ProduceException<byte[], ForecastValue> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                // The client's queue is full: wait for a delivery report (this is the output's backpressure). The client
                // polls in the background, so calling Poll here would throw. The first time, arm and try again at once,
                // so a report landing between the failed attempt and the wait is not missed.
                if (armed)
                {
                    var from = System.Diagnostics.Stopwatch.GetTimestamp();
                    _ledger.Epochs.WaitForProgress(TimeSpan.FromMilliseconds(100), ct);
                    _ledger.QueueFullWaited(System.Diagnostics.Stopwatch.GetTimestamp() - from);
                }

                armed = true;
            }
            catch (ProduceException<byte[], ForecastValue> ex) when (!ex.Error.IsFatal)
            {
                // Refused at once (e.g. the client already knows the topic is not authorized): the row takes the path of a
                // failed delivery report (produced again, then given up with its input offset held back), so the output
                // neither throws (which would stop the service) nor loses the row silently.
                onDelivery(new DeliveryReport<byte[], ForecastValue>
                {
                    Error = ex.Error,
                    Status = PersistenceStatus.NotPersisted,
                    Message = new Message<byte[], ForecastValue> { Key = message.Key, Value = message.Value },
                    TopicPartitionOffset = new TopicPartitionOffset(_topic, Partition.Any, Offset.Unset),
                });
                return;
            }
        }
    }

    private void OnDelivery(DeliveryReport<byte[], ForecastValue> report, DeliveryEpochs.Epoch epoch, int attempt)
    {
        if (!report.Error.IsError)
        {
            report.Message.Value.Release();
            _ledger.OnDelivered(epoch);
            return;
        }

        // A report without its value (report fields narrowed in the extra properties) cannot be produced again: given up.
        if (_ledger.ShouldRetry(attempt, report.Error.IsFatal) && report.Message.Value.Slab is not null)
        {
            _ledger.Retrying(report.Error.Reason, attempt + 1);
            // Rare path: a handler per retried row carries its attempt count (reports carry no headers).
            var again = new Message<byte[], ForecastValue> { Key = report.Message.Key, Value = report.Message.Value, Headers = [new Header(RetryHeader, [(byte)(attempt + 1)])] };
            var retry = new RetryHandler(this, epoch, attempt + 1);
            try
            {
                _producer.Produce(_topicPartition, again, retry.OnDelivery);
                return;
            }
            catch (KafkaException ex)
            {
                _ledger.RetryFailed(ex.Error.Reason);
            }
        }

        _ledger.GiveUp(report.Message.Value.Span, report.Error.Reason, epoch);
        report.Message.Value.Release();
    }

    /// <summary>One epoch's delivery delegate (made once per epoch).</summary>
    private sealed class EpochHandler
    {
        private readonly ClientForecastProducer _owner;
        private readonly DeliveryEpochs.Epoch _epoch;

        public EpochHandler(ClientForecastProducer owner, DeliveryEpochs.Epoch epoch)
        {
            _owner = owner;
            _epoch = epoch;
            OnDelivery = Deliver;
        }

        public Action<DeliveryReport<byte[], ForecastValue>> OnDelivery { get; }

        private void Deliver(DeliveryReport<byte[], ForecastValue> report) => _owner.OnDelivery(report, _epoch, 0);
    }

    /// <summary>The delivery delegate of one row produced again (its attempt number).</summary>
    private sealed class RetryHandler(ClientForecastProducer owner, DeliveryEpochs.Epoch epoch, int attempt)
    {
        public void OnDelivery(DeliveryReport<byte[], ForecastValue> report) => owner.OnDelivery(report, epoch, attempt);
    }
}
