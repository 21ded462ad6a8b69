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
/// <para>
/// With durable state (<see cref="IStateCheckpoints"/>) each barrier is a checkpoint: first every lane's worker captures
/// its partitions' changed state, between micro-batches and with nothing pending, together with the offsets that state
/// corresponds to; then the outputs flush (everything before those offsets was handed over before the capture, so it is
/// delivered); then the state and offsets are written as one atomic batch; only then are those offsets published as
/// durable and stored for the Kafka commit. A crash at any point leaves the store at the previous checkpoint, whose
/// forecasts were all delivered: restoring it and reading on from its offset repeats work (duplicates), never loses it.
/// </para>
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
    private readonly IStateCheckpoints? _state;
    private readonly Func<long, Task<CheckpointCapture>>? _capture;
    private Task<CheckpointCapture>? _capturing;
    private CheckpointCapture? _writing;
    private long _sequence;

    /// <param name="flush">Flushes every output; null when outputs buffer nothing (committable is durable).</param>
    /// <param name="failures">Given-up deliveries, capping what may be committed; null when none are tracked.</param>
    /// <param name="interval">How often the periodic barrier runs.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="state">Where captured state is written; null when state is not durable.</param>
    /// <param name="capture">Asks every lane to capture its state for a checkpoint sequence (consumer thread); required with <paramref name="state"/>.</param>
    public DurabilityBarrier(Func<CancellationToken, Task>? flush, DeliveryFailures? failures, TimeSpan interval, ILogger logger,
        IStateCheckpoints? state = null, Func<long, Task<CheckpointCapture>>? capture = null)
    {
        if (state is not null && capture is null) throw new ArgumentNullException(nameof(capture), "Durable state needs a capture function.");
        _state = state;
        _capture = capture;
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
        if (_state is not null)
        {
            AdvanceCheckpoint(partitions);
            return;
        }

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
    /// <param name="states">The partitions to make durable.</param>
    /// <param name="deadline">Bound of the wait.</param>
    /// <param name="capture">With durable state: the state the workers captured for <paramref name="states"/> (revoke,
    /// drain); it is written after the flush and its offsets are published. Null with durable state: nothing is published.</param>
    /// <returns>True when everything was made durable.</returns>
    public bool FlushNow(IReadOnlyCollection<PartitionState> states, long deadline, CheckpointCapture? capture = null)
    {
        if (_state is not null) return CheckpointNow(deadline, capture);
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

    /// <summary>A new checkpoint sequence number (revoke and drain captures take one too).</summary>
    /// <returns>The number.</returns>
    public long NextSequence() => ++_sequence;

    private void AdvanceCheckpoint(IEnumerable<PartitionState> partitions)
    {
        if (_running is { IsCompleted: true } done) FinishCheckpoint(done);
        if (_running is not null) return;
        if (_capturing is { } capturing)
        {
            if (!capturing.IsCompleted) return;
            _capturing = null;
            if (!capturing.IsCompletedSuccessfully)
            {
                Fail($"a worker did not capture its state ({capturing.Exception?.GetBaseException().Message ?? "cancelled"})");
                return;
            }

            _writing = capturing.Result;
            _running = StartWrite(_writing);
            return;
        }

        var now = Stopwatch.GetTimestamp();
        if (now < _nextAt) return;
        _nextAt = now + _intervalTicks;
        if (!partitions.Any()) return;
        _capturing = _capture!(NextSequence());
    }

    /// <summary>Flush, then store (off the consumer thread): the store never gets ahead of what the outputs delivered.</summary>
    private Task StartWrite(CheckpointCapture capture)
    {
        var flush = _flush;
        var state = _state!;
        var failures = _failures;
        return Task.Run(async () =>
        {
            if (flush is not null) await flush(CancellationToken.None).ConfigureAwait(false);
            foreach (var part in capture.Partitions)
            {
                // A row an output gave up before this offset: the state must not be stored past it.
                part.Excluded = failures is not null && failures.Cap(part.Partition.Kind, part.Partition.Partition, part.Offset) < part.Offset;
            }

            state.Write(capture);
        });
    }

    private void FinishCheckpoint(Task task)
    {
        var capture = _writing!;
        _running = null;
        _writing = null;
        if (task.IsCompletedSuccessfully) PublishCapture(capture);
        else Fail(task.Exception?.GetBaseException().Message ?? "cancelled");
        capture.Release();
    }

    private void PublishCapture(CheckpointCapture capture)
    {
        foreach (var part in capture.Partitions)
        {
            if (!part.Written) continue;
            var ps = part.Partition;
            ps.StateOffset = part.Offset;
            ps.StateSequence = capture.Sequence;
            Publish(ps, part.Offset);
        }

        Interlocked.Increment(ref _completed);
    }

    private bool CheckpointNow(long deadline, CheckpointCapture? capture)
    {
        if (_capturing is { } capturing)
        {
            // A periodic capture still under way is abandoned: what it took is not durable, so the workers take it again.
            _capturing = null;
            _ = capturing.ContinueWith(t => t.Result.Release(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }

        if (_running is { } running)
        {
            if (Wait(running, deadline) && running.IsCompleted) FinishCheckpoint(running);
            else
            {
                // Left running: the store skips whatever it would write older than what is written next.
                _running = null;
                _writing = null;
                Fail("the previous checkpoint did not finish before the drain deadline");
            }
        }

        if (capture is null) return false;
        var task = StartWrite(capture);
        if (!Wait(task, deadline))
        {
            Fail("the outputs did not flush (or the state store did not write) before the drain deadline");
            return false;
        }

        if (!task.IsCompletedSuccessfully)
        {
            Fail(task.Exception?.GetBaseException().Message ?? "cancelled");
            capture.Release();
            return false;
        }

        PublishCapture(capture);
        capture.Release();
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
