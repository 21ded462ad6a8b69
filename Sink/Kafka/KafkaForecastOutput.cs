using System.Buffers;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
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

    /// <summary>Extra librdkafka producer properties.</summary>
    public Dictionary<string, string> Extra { get; set; } = [];
}

/// <summary>
/// Writes each forecast row as one JSON message to the forecasts topic, keyed by the entity id, through an idempotent
/// producer: <c>{"key","source","ts","observed","mu":[K],"sigma":[K],"model_version","partition","offset"}</c>.
/// A row is handed over once the client has queued it (a full queue is waited out: backpressure). A delivery error
/// after the client's own retries is produced again up to <see cref="KafkaForecastOutputOptions.DeliveryRetries"/>
/// times, then counted in <see cref="FailedDeliveries"/> and logged. <see cref="FlushAsync"/> waits only for the rows
/// queued before it was called (an epoch count), not for an empty client queue, so it completes while workers keep writing.
/// </summary>
public sealed partial class KafkaForecastOutput : IForecastOutput, IDisposable
{
    private const string RetryHeader = "streamlstm.retry";
    private readonly KafkaForecastOutputOptions _options;
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly ILogger _logger;
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    // Keys repeat (one per entity): cache their bytes instead of encoding each row. Workers call WriteAsync concurrently.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> _keyBytes = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _flushLock = new(1, 1);
    private readonly List<Epoch> _closed = [];
    private Epoch _epoch;
    private long _produced;
    private long _delivered;
    private long _failed;
    private int _disposed;
    private long _retried;

    /// <summary>Creates the output and its producer.</summary>
    /// <param name="options">Settings.</param>
    /// <param name="logger">Logger.</param>
    public KafkaForecastOutput(KafkaForecastOutputOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        var config = new ProducerConfig
        {
            BootstrapServers = options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = options.Linger.TotalMilliseconds,
            CompressionType = CompressionType.Lz4,
            ClientId = "streamlstm-forecasts",
            QueueBufferingMaxMessages = 1_000_000,
        };
        foreach (var (k, v) in options.Extra) config.Set(k, v);
        _producer = new ProducerBuilder<byte[], byte[]>(config).Build();
        _epoch = new Epoch(this);
    }

    /// <summary>Rows queued to the client.</summary>
    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>Rows acknowledged by the broker.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Rows given up after retries.</summary>
    public long FailedDeliveries => Interlocked.Read(ref _failed);

    /// <summary>Rows produced again after a delivery error.</summary>
    public long Retried => Interlocked.Read(ref _retried);

    /// <inheritdoc />
    public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
    {
        var source = batch.Source.ToWireName();
        // Counted in the current epoch before they are queued, so a flush that closes it waits for their delivery.
        var epoch = Volatile.Read(ref _epoch);
        Interlocked.Add(ref epoch.Pending, batch.Count);
        var r = 0;
        try
        {
            for (; r < batch.Count; r++)
            {
                var key = _keyBytes.GetOrAdd(batch.Keys[r], static k => System.Text.Encoding.UTF8.GetBytes(k));
                var value = Serialize(batch, r, source);
                Produce(new Message<byte[], byte[]> { Key = key, Value = value }, epoch.OnDelivery, cancellationToken);
            }
        }
        finally
        {
            // Rows never queued (cancelled) will get no delivery report.
            for (var left = r; left < batch.Count; left++) epoch.Complete();
        }

        Interlocked.Add(ref _produced, batch.Count);
        return ValueTask.CompletedTask;
    }

    /// <summary>Waits until every row queued before the call is acknowledged or given up (safe while workers write).</summary>
    /// <param name="cancellationToken">Cancels waiting; the rows stay counted for the next flush.</param>
    /// <returns>A task.</returns>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        await _flushLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Close the current epoch: rows written from now on belong to the next flush.
            var closed = Interlocked.Exchange(ref _epoch, new Epoch(this));
            closed.Close();
            _closed.Add(closed);
            await Task.WhenAll(_closed.Select(e => e.Drained.Task)).WaitAsync(cancellationToken).ConfigureAwait(false);
            _closed.Clear();
        }
        finally
        {
            _flushLock.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Registered under two service types, so DI may dispose it twice.
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }

    /// <summary>The JSON of one row (also used by tests and the console status).</summary>
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

    private static byte[] Serialize(ForecastBatch batch, int row, string source)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(512);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        Write(writer, batch, row, source);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
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

    private void Produce(Message<byte[], byte[]> message, Action<DeliveryReport<byte[], byte[]>> onDelivery, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                _producer.Produce(_options.Topic, message, onDelivery);
                return;
            }
            catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                // The client's queue is full: wait for deliveries (this is the output's backpressure).
                ct.ThrowIfCancellationRequested();
                _producer.Poll(TimeSpan.FromMilliseconds(20));
            }
        }
    }

    private void OnDelivery(DeliveryReport<byte[], byte[]> report, Epoch epoch)
    {
        if (!report.Error.IsError)
        {
            Interlocked.Increment(ref _delivered);
            epoch.Complete();
            return;
        }

        var attempt = 0;
        if (report.Message.Headers?.TryGetLastBytes(RetryHeader, out var b) == true && b.Length == 1) attempt = b[0];
        if (attempt < _options.DeliveryRetries && !report.Error.IsFatal)
        {
            Interlocked.Increment(ref _retried);
            LogRetry(_logger, report.Error.Reason, attempt + 1);
            var again = new Message<byte[], byte[]> { Key = report.Message.Key, Value = report.Message.Value, Headers = [new Header(RetryHeader, [(byte)(attempt + 1)])] };
            try
            {
                _producer.Produce(_options.Topic, again, epoch.OnDelivery);
                return;
            }
            catch (KafkaException ex)
            {
                LogLost(_logger, ex.Error.Reason);
            }
        }

        Interlocked.Increment(ref _failed);
        LogLost(_logger, report.Error.Reason);
        epoch.Complete();
    }

    /// <summary>Rows queued between two flushes; drained once closed and every one is acknowledged or given up.</summary>
    private sealed class Epoch
    {
        public long Pending;
        private int _closed;

        public Epoch(KafkaForecastOutput owner) => OnDelivery = report => owner.OnDelivery(report, this);

        public Action<DeliveryReport<byte[], byte[]>> OnDelivery { get; }

        public TaskCompletionSource Drained { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Complete()
        {
            // Full fences on both sides (Decrement here, Exchange in Close): one of them sees the other's write.
            if (Interlocked.Decrement(ref Pending) == 0 && Volatile.Read(ref _closed) == 1) Drained.TrySetResult();
        }

        public void Close()
        {
            Interlocked.Exchange(ref _closed, 1);
            if (Interlocked.Read(ref Pending) == 0) Drained.TrySetResult();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forecast delivery failed ({Reason}); producing again (attempt {Attempt})")]
    private static partial void LogRetry(ILogger logger, string reason, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Forecast delivery failed for good: {Reason}")]
    private static partial void LogLost(ILogger logger, string reason);
}
