using Microsoft.Extensions.Logging;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Delivery;

namespace StreamLstm.Sink.Kafka;

/// <summary>
/// What both produce paths of <see cref="KafkaForecastOutput"/> account the same way: the flush epochs, the counters,
/// retries and given-up rows (counted, logged, recorded in <see cref="DeliveryFailures"/> so the input offset is held
/// back), and queue-full waits (backpressure).
/// </summary>
internal sealed partial class ForecastDeliveryLedger(ILogger logger, DeliveryFailures failures, int deliveryRetries)
{
    private long _produced;
    private long _delivered;
    private long _failed;
    private long _retried;
    private long _queueFullWaits;
    private long _queueFullWaitTicks;

    /// <summary>The flush epochs (a flush waits only for what was queued before it).</summary>
    public DeliveryEpochs Epochs { get; } = new();

    /// <summary>How many times a failed row is produced again before it is given up.</summary>
    public int DeliveryRetries => deliveryRetries;

    /// <summary>The logger.</summary>
    public ILogger Logger => logger;

    /// <summary>Rows queued.</summary>
    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>Rows acknowledged.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Rows given up.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Rows produced again.</summary>
    public long Retried => Interlocked.Read(ref _retried);

    /// <summary>Queue-full waits.</summary>
    public long QueueFullWaits => Interlocked.Read(ref _queueFullWaits);

    /// <summary>Time spent in queue-full waits.</summary>
    public TimeSpan QueueFullWaitTime => TimeSpan.FromTicks(Interlocked.Read(ref _queueFullWaitTicks) * TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency);

    /// <summary>Counts rows handed to the client.</summary>
    /// <param name="rows">How many.</param>
    public void AddProduced(int rows) => Interlocked.Add(ref _produced, rows);

    /// <summary>One row acknowledged: counted and its epoch completed.</summary>
    /// <param name="epoch">Its epoch.</param>
    public void OnDelivered(DeliveryEpochs.Epoch epoch)
    {
        Interlocked.Increment(ref _delivered);
        Epochs.Complete(epoch);
    }

    /// <summary>Several rows of one epoch acknowledged at once (bulk delivery reports).</summary>
    /// <param name="epoch">Their epoch.</param>
    /// <param name="rows">How many.</param>
    public void OnDelivered(DeliveryEpochs.Epoch epoch, int rows)
    {
        Interlocked.Add(ref _delivered, rows);
        Epochs.Complete(epoch, rows);
    }

    /// <summary>Whether a row that failed on attempt <paramref name="attempt"/> is produced again.</summary>
    /// <param name="attempt">Attempts made so far beyond the first (0: the first failed).</param>
    /// <param name="fatal">The error is fatal.</param>
    /// <returns>True to retry.</returns>
    public bool ShouldRetry(int attempt, bool fatal) => attempt < deliveryRetries && !fatal;

    /// <summary>A row is produced again.</summary>
    /// <param name="reason">The delivery error.</param>
    /// <param name="attempt">The new attempt number.</param>
    public void Retrying(string reason, int attempt)
    {
        Interlocked.Increment(ref _retried);
        LogRetry(logger, reason, attempt);
    }

    /// <summary>Producing a row again failed at once (it is given up next).</summary>
    /// <param name="reason">Why.</param>
    public void RetryFailed(string reason) => LogRetryFailed(logger, reason);

    /// <summary>A queue-full wait of <paramref name="ticks"/> stopwatch ticks.</summary>
    /// <param name="ticks">Duration.</param>
    public void QueueFullWaited(long ticks)
    {
        Interlocked.Increment(ref _queueFullWaits);
        Interlocked.Add(ref _queueFullWaitTicks, ticks);
    }

    /// <summary>The producer failed fatally.</summary>
    /// <param name="reason">Why.</param>
    public void Fatal(string reason) => LogFatal(logger, reason);

    /// <summary>A row that will not be delivered: counted, logged, its input offset held back, and its epoch completed.</summary>
    /// <param name="value">The row's bytes (its origin is read from them).</param>
    /// <param name="reason">Why.</param>
    /// <param name="epoch">Its epoch.</param>
    public void GiveUp(ReadOnlySpan<byte> value, string reason, DeliveryEpochs.Epoch epoch)
    {
        Interlocked.Increment(ref _failed);
        if (ForecastRowOrigin.TryRead(value, out var kind, out var partition, out var offset))
        {
            LogLost(logger, reason, kind.ToWireName(), partition, offset);
            failures.Record("forecasts topic", kind, partition, offset, reason);
        }
        else
        {
            LogLost(logger, reason, "?", -1, -1);
        }

        Epochs.Complete(epoch);
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
