using System.Diagnostics;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Delivery;

namespace StreamLstm.Ingest.Consumer;

/// <summary>
/// The one Confluent.Kafka consumer of the process. On its own thread it drains every message the client has ready
/// (up to <see cref="KafkaConsumerOptions.MaxPollMessages"/>), packs them into chunks per worker lane (partition-affine)
/// and hands them to the lanes through a <see cref="LaneDispatcher"/>: a lane holding its capacity in messages pauses its
/// partitions until it is down to half (backpressure with bounded memory; nothing is dropped). Offsets are stored explicitly (auto-store off) only once
/// the lane's worker has published them as committable <em>and</em> the <see cref="DurabilityBarrier"/> has flushed every
/// output since; librdkafka's auto-commit commits what was stored. Rebalances are cooperative-sticky: revoked partitions
/// are drained, flushed and committed before they go. Every wait on a worker or an output is bounded by
/// <see cref="KafkaConsumerOptions.DrainTimeout"/>, so a failed worker or a wedged output can never hang a revoke or the
/// shutdown; what was not drained in time simply stays uncommitted.
/// </summary>
public sealed partial class KafkaIngestConsumer
{
    private readonly KafkaConsumerOptions _options;
    private readonly LaneDispatcher _dispatcher;
    private readonly DurabilityBarrier _barrier;
    private readonly DeliveryFailures? _failures;
    private readonly IStateCheckpoints? _state;
    private readonly IReadOnlyList<LaneMailbox>? _mailboxes;
    private readonly MessageChunkPool _pool;
    private readonly ILogger _logger;
    private readonly Dictionary<TopicPartition, PartitionState> _partitions = [];
    private readonly MessageChunk?[] _filling;
    private readonly HashSet<int> _pausedLanes = [];
    private IConsumer<byte[]?, byte[]?>? _consumer;
    private long _shutdownDeadline = long.MaxValue;
    private long _consumed;
    private long _pauses;
    private long _lagAt;

    /// <summary>Creates the consumer (nothing connects until <see cref="Run"/>).</summary>
    /// <param name="options">Settings.</param>
    /// <param name="lanes">One bounded channel per worker lane.</param>
    /// <param name="laneCapacity">Messages each lane may hold (in its channel, being processed, held back) before its
    /// partitions pause: e.g. <c>Pipeline:ChannelCapacity × Pipeline:ChunkSize</c>.</param>
    /// <param name="pool">Chunk pool shared with the workers.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="flushOutputs">Flushes every output (the durability barrier): offsets are stored for commit only after
    /// it completed since they became committable. Null when the outputs buffer nothing (committable is durable).</param>
    /// <param name="failures">Deliveries the outputs gave up: each holds its partition's offset back.</param>
    /// <param name="state">Durable per-key state: where assigned partitions resume and where checkpoints go (see
    /// <see cref="DurabilityBarrier"/>); null keeps state in memory only.</param>
    /// <param name="mailboxes">One per lane: checkpoint captures go there, ahead of the lane's backlog (in the lane's
    /// channel, behind it, when null).</param>
    /// <param name="transactions">Exactly-once: each checkpoint (periodic, revoke, stop) commits this transaction with its
    /// offsets, and the periodic one stops the world (see KafkaIngestConsumer.Transactions.cs). Needs <paramref name="state"/>.</param>
    public KafkaIngestConsumer(KafkaConsumerOptions options, IReadOnlyList<Channel<MessageChunk>> lanes, int laneCapacity, MessageChunkPool pool, ILogger logger,
        Func<CancellationToken, Task>? flushOutputs = null, DeliveryFailures? failures = null, IStateCheckpoints? state = null, IReadOnlyList<LaneMailbox>? mailboxes = null,
        ICheckpointTransaction? transactions = null)
    {
        if (transactions is not null && state is null) throw new ArgumentException("Exactly-once needs durable state (State:Directory).", nameof(transactions));
        if (transactions is not null && options.ConsumePath == ConsumePath.Native)
        {
            throw new ArgumentException("Kafka:ConsumePath=native is not supported with exactly-once (not verified there): use Kafka:ConsumePath=client.", nameof(options));
        }

        _transactions = transactions;
        _options = options;
        _state = state;
        _mailboxes = mailboxes;
        _dispatcher = new LaneDispatcher(lanes, laneCapacity);
        _barrier = new DurabilityBarrier(flushOutputs, failures, options.CommitInterval, logger, state, state is null ? null : CaptureState);
        _failures = failures;
        _pool = pool;
        _logger = logger;
        _filling = new MessageChunk?[lanes.Count];
    }

    /// <summary>Messages taken from the client so far.</summary>
    public long Consumed => Interlocked.Read(ref _consumed);

    /// <summary>How many times a lane's partitions were paused for backpressure.</summary>
    public long Pauses => Interlocked.Read(ref _pauses);

    /// <summary>Lanes currently paused.</summary>
    public int PausedLanes { get; private set; }

    /// <summary>Durability barriers (output flushes) completed so far.</summary>
    public long Barriers => _barrier.Completed;

    /// <summary>Durability barriers that failed (offsets were held at the last durable point).</summary>
    public long FailedBarriers => _barrier.Failed;

    /// <summary>Sum over assigned partitions of (high watermark − stored offset), refreshed twice a second.</summary>
    public long Lag { get; private set; }

    /// <summary>Lag per assigned partition, refreshed with <see cref="Lag"/> (a fresh list each time: safe to read anywhere).</summary>
    public IReadOnlyList<PartitionLag> PartitionLags { get; private set; } = [];

    /// <summary>Partitions currently assigned to this consumer.</summary>
    public int AssignedPartitions => Volatile.Read(ref _assignedPartitions);

    private int _assignedPartitions;

    /// <summary>The lane a partition belongs to.</summary>
    /// <param name="kindIndex">Source kind index (spreads topics over lanes).</param>
    /// <param name="partition">Partition.</param>
    /// <param name="lanes">Lane count.</param>
    /// <returns>The lane.</returns>
    public static int LaneOf(int kindIndex, int partition, int lanes) => (partition + kindIndex) % lanes;

    /// <summary>
    /// Consumes until <paramref name="stop"/> is cancelled; then dispatches what it holds, asks every lane to drain,
    /// stores and commits the final offsets and closes the consumer. Blocks the calling thread.
    /// </summary>
    /// <param name="stop">Stops consumption.</param>
    public void Run(CancellationToken stop)
    {
        KafkaNative.EnsureLoaded();
        var config = new ConsumerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = _options.GroupId,
            AutoOffsetReset = _options.AutoOffsetReset,
            EnableAutoCommit = true,
            EnableAutoOffsetStore = false,
            AutoCommitIntervalMs = (int)_options.CommitInterval.TotalMilliseconds,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            EnablePartitionEof = false,
            QueuedMinMessages = 100_000,
            FetchMaxBytes = 64 * 1024 * 1024,
            ClientId = "streamlstm-pipeline",
        };
        foreach (var (k, v) in _options.Extra)
        {
            config.Set(k, v);
        }

        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetPartitionsAssignedHandler((_, parts) => Guard(() => OnAssigned(parts)))
            .SetPartitionsRevokedHandler((c, parts) => Guard(() => OnRevoked(c, parts)))
            .SetPartitionsLostHandler((_, parts) => Guard(() => OnLost(parts)))
            .SetErrorHandler((_, e) => LogClientError(_logger, e.Code.ToString(), e.Reason))
            .LogTo(_logger)
            .Build();
        _consumer = consumer;
        // Released after the consumer is closed (the finally below runs first): the handle outlives every poll.
        using var native = _options.ConsumePath == ConsumePath.Native ? new NativeConsumerPoll(consumer) : null;
        consumer.Subscribe(_options.Topics.Keys);
        LogStarted(_logger, string.Join(",", _options.Topics.Keys), _options.GroupId);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (native is null) PollRound(consumer);
                else NativePollRound(consumer, native);
                TryUnblock(consumer);
                if (_transactions is null) _barrier.Advance(_partitions.Values);
                else TransactionalBarrier(consumer);
                StoreOffsets(consumer);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            Shutdown(consumer);
            _consumer = null;
        }
    }

    private void PollRound(IConsumer<byte[]?, byte[]?> consumer)
    {
        // Wait once, then drain whatever the client already holds: one blocking call per round, not per message.
        var timeout = RoundTimeout();
        var taken = 0;
        ConsumeResult<byte[]?, byte[]?>? r;
        try
        {
            r = consumer.Consume(timeout);
        }
        catch (ConsumeException ex)
        {
            LogConsumeError(_logger, ex.Error.Reason);
            return;
        }

        // The latency origin is when the round's messages arrived, not when the wait for them began (a quiet stream would
        // otherwise age every event by up to the poll timeout, and its micro-batch would skip its wait).
        var now = Stopwatch.GetTimestamp();

        while (r is not null)
        {
            if (!r.IsPartitionEOF && _partitions.TryGetValue(r.TopicPartition, out var ps))
            {
                var lane = ps.Lane;
                var chunk = _filling[lane] ??= _pool.Rent();
                chunk.Add(ps, r.Message.Key, r.Message.Value, r.Offset.Value, now);
                if (chunk.IsFull)
                {
                    _filling[lane] = null;
                    Dispatch(consumer, lane, chunk);
                }
            }

            if (++taken >= _options.MaxPollMessages)
            {
                break;
            }

            try
            {
                r = consumer.Consume(TimeSpan.Zero);
            }
            catch (ConsumeException ex)
            {
                LogConsumeError(_logger, ex.Error.Reason);
                break;
            }
        }

        EndRound(consumer, taken);
    }

    /// <summary>The round's wait: short while chunks are held back or lanes paused (they move on, and lanes resume, between rounds).</summary>
    private TimeSpan RoundTimeout() =>
        _pausedLanes.Count > 0 || _dispatcher.HeldChunks > 0 ? TimeSpan.FromMilliseconds(Math.Min(5, _options.PollTimeout.TotalMilliseconds)) : _options.PollTimeout;

    /// <summary>Counts the round's messages and dispatches every partly filled chunk.</summary>
    private void EndRound(IConsumer<byte[]?, byte[]?> consumer, int taken)
    {
        Interlocked.Add(ref _consumed, taken);
        for (var lane = 0; lane < _filling.Length; lane++)
        {
            if (_filling[lane] is { Count: > 0 } chunk)
            {
                _filling[lane] = null;
                Dispatch(consumer, lane, chunk);
            }
        }
    }

    private void Dispatch(IConsumer<byte[]?, byte[]?> consumer, int lane, MessageChunk chunk)
    {
        // Lane at its capacity in messages: the lane's partitions are paused so the client stops fetching them.
        if (_dispatcher.Dispatch(lane, chunk)) Pause(consumer, lane);
    }

    private void TryUnblock(IConsumer<byte[]?, byte[]?> consumer)
    {
        for (var lane = 0; lane < _dispatcher.LaneCount; lane++)
        {
            // Held chunks move on as soon as the channel has room, paused or not; a paused lane resumes at half its capacity.
            if (!_dispatcher.HasHeld(lane) && !_pausedLanes.Contains(lane)) continue;
            if (_dispatcher.TryUnblock(lane)) Resume(consumer, lane);
        }
    }

    private void Pause(IConsumer<byte[]?, byte[]?> consumer, int lane)
    {
        if (!_pausedLanes.Add(lane)) return;
        Interlocked.Increment(ref _pauses);
        PausedLanes = _pausedLanes.Count;
        consumer.Pause(LanePartitions(lane));
    }

    private void Resume(IConsumer<byte[]?, byte[]?> consumer, int lane)
    {
        if (!_pausedLanes.Remove(lane)) return;
        PausedLanes = _pausedLanes.Count;
        consumer.Resume(LanePartitions(lane));
    }

    private List<TopicPartition> LanePartitions(int lane) =>
        _partitions.Values.Where(p => p.Lane == lane).Select(p => p.TopicPartition).ToList();

    private void StoreOffsets(IConsumer<byte[]?, byte[]?> consumer)
    {
        // Lag needs a watermark query per partition: refresh it twice a second, not every round.
        var now = Stopwatch.GetTimestamp();
        var refreshLag = now - _lagAt >= Stopwatch.Frequency / 2;
        if (refreshLag) _lagAt = now;
        long lag = 0;
        var lags = refreshLag ? new List<PartitionLag>(_partitions.Count) : null;
        foreach (var ps in _partitions.Values)
        {
            var next = ps.Durable;
            if (next > ps.StoredOffset)
            {
                try
                {
                    consumer.StoreOffset(new TopicPartitionOffset(ps.TopicPartition, next));
                    ps.StoredOffset = next;
                }
                catch (KafkaException ex)
                {
                    LogStoreFailed(_logger, ps.Topic, ps.Partition, ex.Error.Reason);
                }
            }

            if (!refreshLag) continue;
            var wm = consumer.GetWatermarkOffsets(ps.TopicPartition);
            if (wm.High.Value >= 0)
            {
                lag += Math.Max(0, wm.High.Value - Math.Max(ps.StoredOffset, 0));
                lags!.Add(new PartitionLag(ps.Topic, ps.Partition, ps.Kind, Math.Max(0, wm.High.Value - Math.Max(ps.StoredOffset, 0))));
            }
        }

        Volatile.Write(ref _assignedPartitions, _partitions.Count);
        if (refreshLag)
        {
            Lag = lag;
            PartitionLags = lags!;
        }
    }

    /// <summary>A deadline <see cref="KafkaConsumerOptions.DrainTimeout"/> from now, never past the shutdown's.</summary>
    private long DrainDeadline() =>
        Math.Min(Stopwatch.GetTimestamp() + (long)(_options.DrainTimeout.TotalSeconds * Stopwatch.Frequency), _shutdownDeadline);

    /// <summary>Writes a control chunk (after the lane's held chunks) and returns the task it completes, or null when the
    /// lane could not take it before the deadline (its worker failed, or is stuck).</summary>
    private Task? SendControl(int lane, ChunkKind kind, IEnumerable<PartitionState> partitions, long deadline, CheckpointCapture? capture = null)
    {
        var control = _pool.RentControl(kind, partitions, capture);
        var done = control.Done!.Task;
        if (_filling[lane] is { Count: > 0 } filling)
        {
            _filling[lane] = null;
            if (!_dispatcher.WriteAll(lane, filling, deadline))
            {
                LogLaneStuck(_logger, lane, kind.ToString());
                return null;
            }
        }

        if (!_dispatcher.WriteAll(lane, control, deadline))
        {
            LogLaneStuck(_logger, lane, kind.ToString());
            return null;
        }

        // Whatever the lane held went in ahead of the control chunk: its partitions may fetch again.
        if (_consumer is { } consumer) Resume(consumer, lane);
        return done;
    }

    /// <summary>Waits for control chunks to be handled, until <paramref name="deadline"/>; false when some were not.</summary>
    private static bool WaitAll(List<Task?> waits, long deadline)
    {
        if (waits.Any(w => w is null)) return false;
        var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
        try
        {
            return Task.WaitAll([.. waits.OfType<Task>()], remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
        }
        catch (AggregateException)
        {
            return false;
        }
    }

    private void Shutdown(IConsumer<byte[]?, byte[]?> consumer)
    {
        // One deadline bounds the whole drain, including the revoke that Close() triggers.
        _shutdownDeadline = DrainDeadline();
        var deadline = _shutdownDeadline;
        var waits = new List<Task?>();
        // With durable state the drain also captures every partition's state: the stop ends with a checkpoint.
        // After a failed transaction nothing more may be committed: the restart resumes from the store.
        var capture = _state is null || _transactionFailed ? null : new CheckpointCapture(_barrier.NextSequence(), _dispatcher.LaneCount);
        for (var lane = 0; lane < _dispatcher.LaneCount; lane++)
        {
            var lanePartitions = _partitions.Values.Where(p => p.Lane == lane).ToList();
            waits.Add(SendControl(lane, ChunkKind.Drain, lanePartitions, deadline, capture));
        }

        var drained = WaitAll(waits, deadline);
        if (!drained)
        {
            LogDrainTimeout(_logger, _partitions.Count);
        }

        // Drained lanes → flushed outputs → stored and committed offsets: a graceful stop commits only delivered forecasts.
        if (!CommitCheckpoint(consumer, _partitions.Values, drained ? capture : null, deadline) && _transactions is not null && !_transactionFailed)
        {
            _transactionFailed = true;
            try
            {
                _transactions.Abort();
            }
            catch (KafkaException ex)
            {
                LogAbortFailed(_logger, ex.Error.Reason);
            }
        }

        StoreOffsets(consumer);
        try
        {
            consumer.Commit();
        }
        catch (KafkaException ex) when (ex.Error.Code == ErrorCode.Local_NoOffset)
        {
        }
        catch (KafkaException ex)
        {
            LogCommitFailed(_logger, ex.Error.Reason);
        }

        foreach (var lane in Enumerable.Range(0, _dispatcher.LaneCount))
        {
            // Chunks a failed or stuck lane never took: their offsets were never committable; return them to the pool.
            foreach (var chunk in _dispatcher.Abandon(lane))
            {
                chunk.Done?.TrySetCanceled();
                chunk.Release();
            }
        }

        consumer.Close();
        LogClosed(_logger, Consumed);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Consumer subscribed to {Topics} as group {Group}")]
    private static partial void LogStarted(ILogger logger, string topics, string group);

    [LoggerMessage(Level = LogLevel.Information, Message = "Assigned {Count} partitions: {Partitions}")]
    private static partial void LogAssigned(ILogger logger, int count, string partitions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Revoked {Count} partitions after draining and committing them")]
    private static partial void LogRevoked(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost {Count} partitions; their state was dropped without committing")]
    private static partial void LogLost(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Workers did not drain {Count} partitions before the drain deadline; committing only what was handed over and flushed")]
    private static partial void LogDrainTimeout(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka client error {Code}: {Reason}")]
    private static partial void LogClientError(ILogger logger, string code, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consume failed: {Reason}")]
    private static partial void LogConsumeError(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storing offset for {Topic}[{Partition}] failed: {Reason}")]
    private static partial void LogStoreFailed(ILogger logger, string topic, int partition, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Commit failed: {Reason}")]
    private static partial void LogCommitFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Worker lane {Lane} did not take its {Control} hand-over before the drain deadline (its worker failed or is stuck); its messages stay uncommitted")]
    private static partial void LogLaneStuck(ILogger logger, int lane, string control);

    [LoggerMessage(Level = LogLevel.Information, Message = "Consumer closed after {Count} messages")]
    private static partial void LogClosed(ILogger logger, long count);
}
