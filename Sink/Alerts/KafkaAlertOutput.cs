using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Kafka;

namespace StreamLstm.Sink.Alerts;

/// <summary>
/// Produces each alert event the pipeline's scoring put in a batch (<see cref="ForecastBatch.Alerts"/>, the same events the
/// InfluxDB output records, with the same ids) as JSON to the <c>alerts</c> topic, keyed by
/// <c>source/key</c> so one key's events stay ordered in one partition. The producer is idempotent (acks=all, no duplicates
/// from internal retries). A delivery error is reported (log + <see cref="DeliveryErrors"/>) and the event is produced again
/// after <see cref="KafkaAlertOptions.RedeliveryDelay"/>, until delivered: never dropped. <see cref="FlushAsync"/> waits for
/// every event to be acknowledged.
/// </summary>
public sealed partial class KafkaAlertOutput : IForecastOutput, IAsyncDisposable
{
    private readonly KafkaAlertOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IProducer<string, string> _producer;
    private long _pending;
    private long _delivered;
    private long _deliveryErrors;
    private int _disposed;

    /// <summary>Creates the output and its producer. Call <c>KafkaNative.EnsureLoaded()</c> (Ingest) first in this environment.</summary>
    /// <param name="options">Validated options with bootstrap servers.</param>
    /// <param name="time">Clock for redelivery delays.</param>
    /// <param name="logger">Logger.</param>
    public KafkaAlertOutput(KafkaAlertOptions options, TimeProvider time, ILogger<KafkaAlertOutput> logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        var config = new ProducerConfig
        {
            BootstrapServers = options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            ClientId = "streamlstm-alerts",
            LingerMs = 5,
            MessageTimeoutMs = (int)options.DeliveryTimeout.TotalMilliseconds,
        };
        foreach (var (k, v) in options.Extra) config.Set(k, v);
        _producer = options.SharedProducer is { } shared
            ? new DependentProducerBuilder<string, string>(shared).Build()
            : new ProducerBuilder<string, string>(config)
            .SetErrorHandler((_, e) => LogKafkaError(_logger, e.Code.ToString(), e.Reason))
            .SetLogHandler((_, m) => KafkaClientLog.Write(_logger, m))
            .Build();
    }

    /// <summary>Events acknowledged by Kafka.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Delivery errors seen (each was re-produced).</summary>
    public long DeliveryErrors => Interlocked.Read(ref _deliveryErrors);

    /// <summary>Events produced but not yet acknowledged.</summary>
    public long Pending => Interlocked.Read(ref _pending);

    /// <inheritdoc />
    public async ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0 || batch.Alerts.Count == 0)
        {
            return;
        }

        // Copied: the batch (and its list) is reused as soon as this call returns, and producing may wait.
        foreach (var alert in batch.Alerts.ToArray())
        {
            await ProduceAsync(alert, AlertJson.Serialize(alert), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        while (Pending > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Run(() => _producer.Flush(TimeSpan.FromMilliseconds(200)), cancellationToken).ConfigureAwait(false);
            if (Pending > 0)
            {
                // Events waiting for redelivery are not in librdkafka's queue yet.
                await Task.Delay(TimeSpan.FromMilliseconds(20), _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        using var cts = new CancellationTokenSource(_options.ShutdownTimeout, _time);
        try
        {
            await FlushAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            LogUndelivered(_logger, Pending);
        }

        _producer.Dispose();
    }

    private async ValueTask ProduceAsync(AlertEvent alert, string json, CancellationToken ct)
    {
        var message = new Message<string, string>
        {
            Key = alert.Source.ToWireName() + "/" + alert.Key,
            Value = json,
            Timestamp = new Timestamp(alert.EventMs, TimestampType.CreateTime),
        };
        Interlocked.Increment(ref _pending);
        while (true)
        {
            try
            {
                _producer.Produce(_options.Topic, message, report => OnDelivery(report, alert));
                return;
            }
            catch (ProduceException<string, string> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                // Backpressure: librdkafka's queue is full; let it drain. The client polls in the background (delivery
                // handlers), so calling Poll here would throw.
                await Task.Delay(TimeSpan.FromMilliseconds(20), _time, ct).ConfigureAwait(false);
            }
            catch
            {
                Interlocked.Decrement(ref _pending);
                throw;
            }
        }
    }

    private void OnDelivery(DeliveryReport<string, string> report, AlertEvent alert)
    {
        if (!report.Error.IsError)
        {
            Interlocked.Increment(ref _delivered);
            Interlocked.Decrement(ref _pending);
            return;
        }

        Interlocked.Increment(ref _deliveryErrors);
        LogDeliveryFailed(_logger, alert.AlertId, alert.KindName, report.Error.Reason, _options.RedeliveryDelay.TotalMilliseconds);
        _ = RedeliverAsync(report.Message, alert);
    }

    private async Task RedeliverAsync(Message<string, string> message, AlertEvent alert)
    {
        await Task.Delay(_options.RedeliveryDelay, _time).ConfigureAwait(false);
        while (true)
        {
            try
            {
                // _pending still counts this event, so FlushAsync keeps waiting for it.
                _producer.Produce(_options.Topic, message, report => OnDelivery(report, alert));
                return;
            }
            catch (Exception e) when (e is ProduceException<string, string> or KafkaException)
            {
                LogDeliveryFailed(_logger, alert.AlertId, alert.KindName, e.Message, _options.RedeliveryDelay.TotalMilliseconds);
                await Task.Delay(_options.RedeliveryDelay, _time).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                LogUndelivered(_logger, 1);
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Alert {AlertId} ({Kind}) was not delivered to Kafka: {Reason}; producing it again in {DelayMs} ms.")]
    private static partial void LogDeliveryFailed(ILogger logger, string alertId, string kind, string reason, double delayMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka producer error {Code}: {Reason}")]
    private static partial void LogKafkaError(ILogger logger, string code, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Stopping with {Count} alert events not acknowledged by Kafka.")]
    private static partial void LogUndelivered(ILogger logger, long count);
}
