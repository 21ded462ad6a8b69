using System.Diagnostics;
using Microsoft.Extensions.Logging;
using StreamLstm.Model.Delivery;

namespace StreamLstm.Ingest.Consumer;

/// <summary>
/// The durability barrier between "handed to the outputs" and "may be committed". Once per commit interval it snapshots
/// each partition's <see cref="PartitionState.Committable"/> offset, flushes every output (forecasts, InfluxDB, alerts,
/// dead letters) off the consumer thread, and when that flush succeeded publishes the snapshot as
/// <see cref="PartitionState.Durable"/> — capped by <see cref="DeliveryFailures"/>, so a row whose delivery was given up
/// keeps its partition's offset at that row. A failed flush publishes nothing (offsets stay at the last durable point)
/// and is logged and counted. Consumer thread only.
/// </summary>
internal sealed partial class DurabilityBarrier
{
    private readonly Func<CancellationToken, Task>? _flush;
    private readonly DeliveryFailures? _failures;
    private readonly long _intervalTicks;
    private readonly ILogger _logger;
    private readonly List<(PartitionState Partition, long Offset)> _snapshot = [];
    private Task? _running;
    private long _nextAt;
    private long _completed;
    private long _failed;

    /// <param name="flush">Flushes every output; null when outputs buffer nothing (committable is durable).</param>
    /// <param name="failures">Given-up deliveries, capping what may be committed; null when none are tracked.</param>
    /// <param name="interval">How often the periodic barrier runs.</param>
    /// <param name="logger">Logger.</param>
    public DurabilityBarrier(Func<CancellationToken, Task>? flush, DeliveryFailures? failures, TimeSpan interval, ILogger logger)
    {
        _flush = flush;
        _failures = failures;
        _intervalTicks = (long)(interval.TotalSeconds * Stopwatch.Frequency);
        _logger = logger;
    }

    /// <summary>Barriers completed.</summary>
    public long Completed => Interlocked.Read(ref _completed);

    /// <summary>Barriers that failed (their offsets were not published).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>The periodic barrier: publishes a finished flush, starts the next one when due. Never blocks.</summary>
    public void Advance(IEnumerable<PartitionState> partitions)
    {
        if (_flush is null)
        {
            foreach (var ps in partitions) Publish(ps, ps.Committable);
            return;
        }

        if (_running is { IsCompleted: true } done)
        {
            if (done.IsCompletedSuccessfully) PublishSnapshot();
            else Fail(done.Exception?.GetBaseException().Message ?? "cancelled");
            _running = null;
            _snapshot.Clear();
        }

        var now = Stopwatch.GetTimestamp();
        if (_running is not null || now < _nextAt) return;
        _nextAt = now + _intervalTicks;
        foreach (var ps in partitions)
        {
            // Read before the flush starts: every write behind this offset returned before the flush was asked for.
            var committable = ps.Committable;
            if (committable > ps.Durable) _snapshot.Add((ps, committable));
        }

        if (_snapshot.Count > 0)
        {
            var flush = _flush;
            _running = Task.Run(() => flush(CancellationToken.None));
        }
    }

    /// <summary>
    /// Revoke and shutdown: lets a running flush finish, then flushes now and makes <paramref name="states"/>' committable
    /// offsets durable. Waits until <paramref name="deadline"/> (a <see cref="Stopwatch"/> timestamp) at most; returns false
    /// when the flush failed or did not finish in time (offsets then stay at the last durable point).
    /// </summary>
    public bool FlushNow(IReadOnlyCollection<PartitionState> states, long deadline)
    {
        if (_flush is null)
        {
            foreach (var ps in states) Publish(ps, ps.Committable);
            return true;
        }

        if (_running is { } running)
        {
            // Outputs see one flush at a time.
            if (Wait(running, deadline) && running.IsCompletedSuccessfully) PublishSnapshot();
            _running = null;
            _snapshot.Clear();
        }

        var snapshot = states.Select(ps => (ps, ps.Committable)).ToList();
        var flush = _flush;
        var task = Task.Run(() => flush(CancellationToken.None));
        if (!Wait(task, deadline))
        {
            // Still running: let the periodic path pick its result up if the consumer lives on.
            _running = task;
            Fail("the outputs did not flush before the drain deadline");
            return false;
        }

        if (!task.IsCompletedSuccessfully)
        {
            Fail(task.Exception?.GetBaseException().Message ?? "cancelled");
            return false;
        }

        foreach (var (ps, offset) in snapshot) Publish(ps, offset);
        Interlocked.Increment(ref _completed);
        return true;
    }

    private static bool Wait(Task task, long deadline)
    {
        var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
        try
        {
            return task.Wait(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
        }
        catch (AggregateException)
        {
            return true;
        }
    }

    private void PublishSnapshot()
    {
        foreach (var (ps, offset) in _snapshot) Publish(ps, offset);
        Interlocked.Increment(ref _completed);
    }

    private void Publish(PartitionState ps, long offset)
    {
        if (_failures is not null) offset = _failures.Cap(ps.Kind, ps.Partition, offset);
        if (offset > ps.Durable) ps.Durable = offset;
    }

    private void Fail(string reason)
    {
        Interlocked.Increment(ref _failed);
        LogBarrierFailed(_logger, reason);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Durability barrier failed ({Reason}); offsets stay at what was last flushed")]
    private static partial void LogBarrierFailed(ILogger logger, string reason);
}
