using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Kafka.Native;

namespace StreamLstm.Sink.Kafka;

/// <summary>
/// Writes each forecast row as one JSON message to the forecasts topic, keyed by the entity id, through an idempotent
/// producer: <c>{"key","source","ts","observed","mu":[K],"sigma":[K],"model_version","partition","offset"}</c>
/// (or the compact <see cref="ForecastBinary"/> row when <see cref="KafkaForecastOutputOptions.Format"/> says so).
/// Rows are encoded into per-thread scratch buffers (<see cref="ForecastRowEncoder"/>) and handed to one of two produce
/// paths (<see cref="KafkaForecastOutputOptions.ProducePath"/>): Confluent.Kafka's client (<see cref="ClientForecastProducer"/>,
/// the default) or librdkafka directly (<see cref="NativeForecastProducer"/>), which behave the same to the caller.
/// A row is handed over once the client has queued it (a full queue is waited out: backpressure). A delivery error
/// after the client's own retries is produced again up to <see cref="KafkaForecastOutputOptions.DeliveryRetries"/>
/// times, then given up: counted in <see cref="FailedDeliveries"/>, logged, and recorded in <see cref="DeliveryFailures"/>,
/// which holds the input partition's offset back so the row is read again after a restart. A fatal producer error fails
/// every later write (the worker stops the service). <see cref="FlushAsync"/> waits only for the rows queued before it was
/// called (an epoch count), not for an empty client queue, so it completes while workers keep writing.
/// </summary>
public sealed class KafkaForecastOutput : IForecastOutput, IDisposable
{
    private readonly ForecastDeliveryLedger _ledger;
    private readonly ForecastRowEncoder _encoder;
    private readonly IForecastProducer _producer;
    private int _disposed;

    /// <summary>Creates the output and its producer.</summary>
    /// <param name="options">Settings.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="failures">Where given-up rows are recorded (holds their offsets back); a private one when null.</param>
    /// <exception cref="InvalidOperationException">The native produce path was asked for under exactly-once.</exception>
    public KafkaForecastOutput(KafkaForecastOutputOptions options, ILogger logger, DeliveryFailures? failures = null)
    {
        _ledger = new ForecastDeliveryLedger(logger, failures ?? new DeliveryFailures(), options.DeliveryRetries);
        _encoder = new ForecastRowEncoder(options.Format);
        _producer = options.ProducePath switch
        {
            ForecastProducePath.Client => new ClientForecastProducer(options, _ledger),
            ForecastProducePath.Native => new NativeForecastProducer(options, _ledger),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.ProducePath, "Unknown forecasts produce path (client or native)."),
        };
    }

    /// <summary>
    /// The librdkafka producer properties this output's own producer is made with (both produce paths; not under exactly-once,
    /// where rows go through the shared transactional producer): for a producer that should behave like it, e.g. a benchmark's.
    /// </summary>
    /// <param name="options">Settings.</param>
    /// <returns>A fresh config.</returns>
    public static Confluent.Kafka.ProducerConfig ProducerConfig(KafkaForecastOutputOptions options) => ClientForecastProducer.Config(options);

    /// <summary>Rows queued to the client.</summary>
    public long Produced => _ledger.Produced;

    /// <summary>Rows acknowledged by the broker.</summary>
    public long Delivered => _ledger.Delivered;

    /// <summary>Rows given up after retries.</summary>
    public long FailedDeliveries => _ledger.Failed;

    /// <summary>Rows produced again after a delivery error.</summary>
    public long Retried => _ledger.Retried;

    /// <summary>Times a worker found the client's queue full and waited for deliveries (backpressure).</summary>
    public long QueueFullWaits => _ledger.QueueFullWaits;

    /// <summary>Time workers spent waiting on a full client queue, summed over workers.</summary>
    public TimeSpan QueueFullWaitTime => _ledger.QueueFullWaitTime;

    /// <inheritdoc />
    public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
    {
        // Counted in the current epoch before they are queued, so a flush that closes it waits for their delivery.
        var epoch = _ledger.Epochs.Current;
        epoch.Begin(batch.Count);
        var r = 0;
        try
        {
            for (; r < batch.Count; r++)
            {
                var key = _encoder.Key(batch, r);
                _producer.Produce(key.Utf8, _encoder.Value(batch, r, key), epoch, cancellationToken);
            }
        }
        finally
        {
            // Rows never queued (cancelled, or a fatal producer error) will get no delivery report: they are not delivered.
            if (r < batch.Count) _ledger.Epochs.Complete(epoch, batch.Count - r);
        }

        _ledger.AddProduced(batch.Count);
        return ValueTask.CompletedTask;
    }

    /// <summary>Waits until every row queued before the call is acknowledged or given up (safe while workers write).</summary>
    /// <param name="cancellationToken">Cancels waiting; the rows stay counted for the next flush.</param>
    /// <returns>A task.</returns>
    public async ValueTask FlushAsync(CancellationToken cancellationToken) => await _ledger.Epochs.FlushAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public void Dispose()
    {
        // Registered under two service types, so DI may dispose it twice.
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
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
}
