using System.Buffers;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Sink.Kafka;

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

    /// <summary>Extra librdkafka producer properties.</summary>
    public Dictionary<string, string> Extra { get; set; } = [];

    /// <summary>Exactly-once: the process's transactional producer, produced through instead of an own client (null: own client).</summary>
    public Handle? SharedProducer { get; set; }
}

/// <summary>
/// Writes each forecast row as one JSON message to the forecasts topic, keyed by the entity id, through an idempotent
/// producer: <c>{"key","source","ts","observed","mu":[K],"sigma":[K],"model_version","partition","offset"}</c>
/// (or the compact <see cref="ForecastBinary"/> row when <see cref="KafkaForecastOutputOptions.Format"/> says so).
/// The hot path allocates nothing of its own per row: rows are serialized into large pooled slabs and the client's value
/// is a <see cref="ForecastValue"/> slice (a struct it stores inline; the bytes are copied into the client during
/// <c>Produce</c> from one reused array per length, so no per-row array stays referenced until delivery and gets promoted
/// by the GC); the slice is released when the row's delivery is final. One delivery delegate serves a whole flush epoch,
/// the topic-partition and the (empty) headers are reused instead of made per message by the client, and delivery reports
/// carry only the key, the value and the error (no headers or timestamps marshalled per report).
/// A row is handed over once the client has queued it (a full queue is waited out: backpressure). A delivery error
/// after the client's own retries is produced again up to <see cref="KafkaForecastOutputOptions.DeliveryRetries"/>
/// times, then given up: counted in <see cref="FailedDeliveries"/>, logged, and recorded in <see cref="DeliveryFailures"/>,
/// which holds the input partition's offset back so the row is read again after a restart. A fatal producer error fails
/// every later write (the worker stops the service). <see cref="FlushAsync"/> waits only for the rows queued before it was
/// called (an epoch count), not for an empty client queue, so it completes while workers keep writing.
/// </summary>
public sealed partial class KafkaForecastOutput : IForecastOutput, IDisposable
{
    private const string RetryHeader = "streamlstm.retry";
    private readonly KafkaForecastOutputOptions _options;
    private readonly IProducer<byte[], ForecastValue> _producer;
    private readonly ILogger _logger;
    [ThreadStatic]
    private static Message<byte[], ForecastValue>? t_message;

    // The client makes a Headers per message when a message has none, and a TopicPartition per Produce(string, ...) call.
    private static readonly Headers NoHeaders = [];
    private readonly TopicPartition _topicPartition;

    [ThreadStatic]
    private static string? t_version;

    [ThreadStatic]
    private static byte[]? t_versionBytes;

    // Rows live in long-lived slabs until their delivery is final (a retry or a given-up row reads them back).
    private readonly ValueSlabPool _values = new();

    // The hand-written row writer: byte-for-byte ToJson, without a Utf8JsonWriter per row.
    private readonly ForecastJsonRow _json = new();

    // Keys repeat (one per entity): cache their bytes instead of encoding each row. Workers call WriteAsync concurrently.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> _keyBytes = new(StringComparer.Ordinal);
    private readonly DeliveryEpochs _epochs = new();
    private readonly DeliveryFailures _failures;
    private long _produced;
    private long _delivered;
    private long _failed;
    private int _disposed;
    private long _retried;
    private long _queueFullWaits;
    private long _queueFullWaitTicks;

    /// <summary>Creates the output and its producer.</summary>
    /// <param name="options">Settings.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="failures">Where given-up rows are recorded (holds their offsets back); a private one when null.</param>
    public KafkaForecastOutput(KafkaForecastOutputOptions options, ILogger logger, DeliveryFailures? failures = null)
    {
        _options = options;
        _logger = logger;
        _failures = failures ?? new DeliveryFailures();
        var config = new ProducerConfig
        {
            BootstrapServers = options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = options.Linger.TotalMilliseconds,
            CompressionType = CompressionType.Lz4,
            ClientId = "streamlstm-forecasts",
            QueueBufferingMaxMessages = 1_000_000,
            // Reports need only the key and value (to produce again or to find the input row) and the error.
            DeliveryReportFields = "key,value",
        };
        foreach (var (k, v) in options.Extra) config.Set(k, v);
        _topicPartition = new TopicPartition(options.Topic, Partition.Any);
        _producer = options.SharedProducer is { } shared
            ? new DependentProducerBuilder<byte[], ForecastValue>(shared).SetValueSerializer(ForecastValueSerializer.Instance).Build()
            : new ProducerBuilder<byte[], ForecastValue>(config)
            .SetValueSerializer(ForecastValueSerializer.Instance)
            .SetErrorHandler((_, e) => { if (e.IsFatal) LogFatal(_logger, e.Reason); })
            .Build();
    }

    /// <summary>Rows queued to the client.</summary>
    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>Rows acknowledged by the broker.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Rows given up after retries.</summary>
    public long FailedDeliveries => Interlocked.Read(ref _failed);

    /// <summary>Rows produced again after a delivery error.</summary>
    public long Retried => Interlocked.Read(ref _retried);

    /// <summary>Times a worker found the client's queue full and waited for deliveries (backpressure).</summary>
    public long QueueFullWaits => Interlocked.Read(ref _queueFullWaits);

    /// <summary>Time workers spent waiting on a full client queue, summed over workers.</summary>
    public TimeSpan QueueFullWaitTime => TimeSpan.FromTicks(Interlocked.Read(ref _queueFullWaitTicks) * TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency);

    /// <inheritdoc />
    public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
    {
        // Counted in the current epoch before they are queued, so a flush that closes it waits for their delivery.
        var epoch = _epochs.Current;
        var onDelivery = Handler(epoch);
        epoch.Begin(batch.Count);
        var r = 0;
        var message = t_message ??= new Message<byte[], ForecastValue> { Headers = NoHeaders };
        try
        {
            for (; r < batch.Count; r++)
            {
                // The client copies the payload and keeps only references, so one Message instance serves every row.
                message.Key = _keyBytes.GetOrAdd(batch.Keys[r], static k => System.Text.Encoding.UTF8.GetBytes(k));
                message.Value = _options.Format == ForecastFormat.Binary ? SerializeBinary(batch, r) : SerializeJson(batch, r);
                Produce(message, onDelivery, cancellationToken);
                message.Value = default;
            }
        }
        finally
        {
            // Rows never queued (cancelled, or a fatal producer error) will get no delivery report: they are not delivered.
            message.Value.Release();
            message.Value = default;
            for (var left = r; left < batch.Count; left++)
            {
                _epochs.Complete(epoch);
            }
        }

        Interlocked.Add(ref _produced, batch.Count);
        return ValueTask.CompletedTask;
    }

    /// <summary>Waits until every row queued before the call is acknowledged or given up (safe while workers write).</summary>
    /// <param name="cancellationToken">Cancels waiting; the rows stay counted for the next flush.</param>
    /// <returns>A task.</returns>
    public async ValueTask FlushAsync(CancellationToken cancellationToken) => await _epochs.FlushAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public void Dispose()
    {
        // Registered under two service types, so DI may dispose it twice.
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }

    /// <summary>
    /// The JSON of one row through the general <see cref="Utf8JsonWriter"/> (used by tests and the console status; the
    /// reference the hot path's hand-written writer is checked against byte for byte).
    /// </summary>
    /// <param name="batch">Batch.</param>
    /// <param name="row">Row.</param>
    /// <returns>UTF-8 JSON.</returns>
    public static byte[] ToJson(ForecastBatch batch, int row)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            Write(w, batch, row, batch.Source.ToWireName());
        }

        return buffer.WrittenSpan.ToArray();
    }

    private ForecastValue SerializeJson(ForecastBatch batch, int row)
    {
        var written = _json.Write(batch, row, out var scratch);
        return _values.Append(scratch.AsSpan(0, written));
    }

    private ForecastValue SerializeBinary(ForecastBatch batch, int row)
    {
        if (!ReferenceEquals(t_version, batch.ModelVersion))
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(batch.ModelVersion);
            t_versionBytes = bytes.Length <= byte.MaxValue ? bytes : bytes[..byte.MaxValue];
            t_version = batch.ModelVersion;
        }

        Span<byte> value = stackalloc byte[ForecastBinary.Size(batch.Horizons, t_versionBytes!.Length)];
        ForecastBinary.Write(batch, row, t_versionBytes, value);
        return _values.Append(value);
    }

    private static void Write(Utf8JsonWriter w, ForecastBatch batch, int row, string source)
    {
        w.WriteStartObject();
        w.WriteString("key"u8, batch.Keys[row]);
        w.WriteString("source"u8, source);
        w.WriteNumber("ts"u8, batch.TimestampsMs[row]);
        var observed = batch.Observed[row];
        if (double.IsFinite(observed)) w.WriteNumber("observed"u8, observed);
        else w.WriteNull("observed"u8);
        WriteArray(w, "mu"u8, batch.MuOf(row));
        WriteArray(w, "sigma"u8, batch.SigmaOf(row));
        w.WriteString("model_version"u8, batch.ModelVersion);
        w.WriteNumber("partition"u8, batch.Partitions[row]);
        w.WriteNumber("offset"u8, batch.Offsets[row]);
        w.WriteEndObject();
    }

    private static void WriteArray(Utf8JsonWriter w, ReadOnlySpan<byte> name, ReadOnlySpan<float> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            if (float.IsFinite(v)) w.WriteNumberValue(v);
            else w.WriteNullValue();
        }

        w.WriteEndArray();
    }

    private void Produce(Message<byte[], ForecastValue> message, Action<DeliveryReport<byte[], ForecastValue>> onDelivery, CancellationToken ct)
    {
        // The backpressure signal is armed only once the queue was found full (arming resets a flag every delivery report
        // also writes: doing it per row made the workers and the client's poll thread contend for it).
        var armed = false;
        while (true)
        {
            if (armed) _epochs.ArmProgress();
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
                    _epochs.WaitForProgress(TimeSpan.FromMilliseconds(100), ct);
                    Interlocked.Increment(ref _queueFullWaits);
                    Interlocked.Add(ref _queueFullWaitTicks, System.Diagnostics.Stopwatch.GetTimestamp() - from);
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
                    TopicPartitionOffset = new TopicPartitionOffset(_options.Topic, Partition.Any, Offset.Unset),
                });
                return;
            }
        }
    }

    private Action<DeliveryReport<byte[], ForecastValue>> Handler(DeliveryEpochs.Epoch epoch) =>
        epoch.Handler(e => new EpochHandler(this, e)).OnDelivery;

    private void OnDelivery(DeliveryReport<byte[], ForecastValue> report, DeliveryEpochs.Epoch epoch, int attempt)
    {
        if (!report.Error.IsError)
        {
            Interlocked.Increment(ref _delivered);
            report.Message.Value.Release();
            _epochs.Complete(epoch);
            return;
        }

        // A report without its value (report fields narrowed in the extra properties) cannot be produced again: given up.
        if (attempt < _options.DeliveryRetries && !report.Error.IsFatal && report.Message.Value.Slab is not null)
        {
            Interlocked.Increment(ref _retried);
            LogRetry(_logger, report.Error.Reason, attempt + 1);
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
                LogRetryFailed(_logger, ex.Error.Reason);
            }
        }

        GiveUp(report.Message.Value.Span, report.Error.Reason);
        report.Message.Value.Release();
        _epochs.Complete(epoch);
    }

    /// <summary>A row that will not be delivered: counted, logged, and its input offset held back from commit.</summary>
    private void GiveUp(ReadOnlySpan<byte> value, string reason)
    {
        Interlocked.Increment(ref _failed);
        if (ForecastRowOrigin.TryRead(value, out var kind, out var partition, out var offset))
        {
            LogLost(_logger, reason, kind.ToWireName(), partition, offset);
            _failures.Record("forecasts topic", kind, partition, offset, reason);
        }
        else
        {
            LogLost(_logger, reason, "?", -1, -1);
        }
    }

    /// <summary>One epoch's delivery delegate (made once per epoch).</summary>
    private sealed class EpochHandler
    {
        private readonly KafkaForecastOutput _owner;
        private readonly DeliveryEpochs.Epoch _epoch;

        public EpochHandler(KafkaForecastOutput owner, DeliveryEpochs.Epoch epoch)
        {
            _owner = owner;
            _epoch = epoch;
            OnDelivery = Deliver;
        }

        public Action<DeliveryReport<byte[], ForecastValue>> OnDelivery { get; }

        private void Deliver(DeliveryReport<byte[], ForecastValue> report) => _owner.OnDelivery(report, _epoch, 0);
    }

    /// <summary>The delivery delegate of one row produced again (its attempt number).</summary>
    private sealed class RetryHandler(KafkaForecastOutput owner, DeliveryEpochs.Epoch epoch, int attempt)
    {
        public void OnDelivery(DeliveryReport<byte[], ForecastValue> report) => owner.OnDelivery(report, epoch, attempt);
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "Forecasts producer failed fatally: {Reason}; the service stops (offsets stay at what was delivered)")]
    private static partial void LogFatal(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Producing a forecast again failed: {Reason}")]
    private static partial void LogRetryFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forecast delivery failed ({Reason}); producing again (attempt {Attempt})")]
    private static partial void LogRetry(ILogger logger, string reason, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Forecast delivery failed for good ({Reason}) for input {Kind}[{Partition}]@{Offset}; that partition's offset is held back until a restart reads it again")]
    private static partial void LogLost(ILogger logger, string reason, string kind, int partition, long offset);
}
