using System.Diagnostics;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamLstm.Ingest.Kafka;

namespace StreamLstm.Ingest.Consumer;

/// <summary>
/// The one Confluent.Kafka consumer of the process. On its own thread it drains every message the client has ready
/// (up to <see cref="KafkaConsumerOptions.MaxPollMessages"/>), packs them into chunks per worker lane (partition-affine)
/// and writes them to the lanes' bounded channels. A full channel pauses that lane's partitions until the channel is
/// half empty (backpressure with bounded memory). Offsets are stored explicitly (auto-store off) only once the
/// lane's worker has published them as committable <em>and</em> a durability barrier has flushed every output since
/// (every commit interval: snapshot the committable offsets, flush the outputs off this thread, then publish the
/// snapshot as <see cref="PartitionState.Durable"/>); librdkafka's auto-commit commits what was stored.
/// Rebalances are cooperative-sticky: revoked partitions are drained, flushed and committed before they go.
/// </summary>
public sealed partial class KafkaIngestConsumer
{
    private readonly KafkaConsumerOptions _options;
    private readonly Channel<MessageChunk>[] _lanes;
    private readonly int _laneCapacity;
    private readonly MessageChunkPool _pool;
    private readonly ILogger _logger;
    private readonly Dictionary<TopicPartition, PartitionState> _partitions = [];
    private readonly MessageChunk?[] _filling;
    private readonly MessageChunk?[] _blocked;
    private readonly HashSet<int> _pausedLanes = [];
    private readonly Func<CancellationToken, Task>? _flushOutputs;
    private readonly List<(PartitionState Partition, long Offset)> _barrierSnapshot = [];
    private Task? _barrier;
    private long _nextBarrierAt;
    private IConsumer<byte[]?, byte[]?>? _consumer;
    private long _consumed;
    private long _pauses;
    private long _lagAt;

    /// <summary>Creates the consumer (nothing connects until <see cref="Run"/>).</summary>
    /// <param name="options">Settings.</param>
    /// <param name="lanes">One bounded channel per worker lane.</param>
    /// <param name="laneCapacity">Capacity of each channel, in chunks.</param>
    /// <param name="pool">Chunk pool shared with the workers.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="flushOutputs">Flushes every output (the durability barrier): offsets are stored for commit only after
    /// it completed since they became committable. Null when the outputs buffer nothing (committable is durable).</param>
    public KafkaIngestConsumer(KafkaConsumerOptions options, IReadOnlyList<Channel<MessageChunk>> lanes, int laneCapacity, MessageChunkPool pool, ILogger logger,
        Func<CancellationToken, Task>? flushOutputs = null)
    {
        _flushOutputs = flushOutputs;
        _options = options;
        _lanes = [.. lanes];
        _laneCapacity = laneCapacity;
        _pool = pool;
        _logger = logger;
        _filling = new MessageChunk?[_lanes.Length];
        _blocked = new MessageChunk?[_lanes.Length];
    }

    /// <summary>Messages taken from the client so far.</summary>
    public long Consumed => Interlocked.Read(ref _consumed);

    /// <summary>How many times a lane's partitions were paused for backpressure.</summary>
    public long Pauses => Interlocked.Read(ref _pauses);

    /// <summary>Lanes currently paused.</summary>
    public int PausedLanes { get; private set; }

    /// <summary>Durability barriers (output flushes) completed so far.</summary>
    public long Barriers => Interlocked.Read(ref _barriers);

    private long _barriers;

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
            .SetPartitionsAssignedHandler((_, parts) => OnAssigned(parts))
            .SetPartitionsRevokedHandler((c, parts) => OnRevoked(c, parts))
            .SetPartitionsLostHandler((_, parts) => OnLost(parts))
            .SetErrorHandler((_, e) => LogClientError(_logger, e.Code.ToString(), e.Reason))
            .Build();
        _consumer = consumer;
        consumer.Subscribe(_options.Topics.Keys);
        LogStarted(_logger, string.Join(",", _options.Topics.Keys), _options.GroupId);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                PollRound(consumer, stop);
                TryUnblock(consumer);
                AdvanceDurable();
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

    private void PollRound(IConsumer<byte[]?, byte[]?> consumer, CancellationToken stop)
    {
        // Wait once, then drain whatever the client already holds: one blocking call per round, not per message.
        var timeout = _pausedLanes.Count > 0 ? TimeSpan.FromMilliseconds(5) : _options.PollTimeout;
        var taken = 0;
        var now = Stopwatch.GetTimestamp();
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
                    Dispatch(consumer, lane, chunk, stop);
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

        Interlocked.Add(ref _consumed, taken);
        for (var lane = 0; lane < _lanes.Length; lane++)
        {
            if (_filling[lane] is { Count: > 0 } chunk)
            {
                _filling[lane] = null;
                Dispatch(consumer, lane, chunk, stop);
            }
        }
    }

    private void Dispatch(IConsumer<byte[]?, byte[]?> consumer, int lane, MessageChunk chunk, CancellationToken stop)
    {
        if (_blocked[lane] is null)
        {
            if (_lanes[lane].Writer.TryWrite(chunk))
            {
                return;
            }

            // Lane full: hold this chunk and pause the lane's partitions so the client stops fetching them.
            _blocked[lane] = chunk;
            Pause(consumer, lane);
            return;
        }

        // A second chunk for a lane that is already blocked (messages fetched before the pause took effect):
        // wait for room rather than hold more.
        WriteBlocking(_blocked[lane]!, lane);
        _blocked[lane] = chunk;
    }

    private void TryUnblock(IConsumer<byte[]?, byte[]?> consumer)
    {
        for (var lane = 0; lane < _lanes.Length; lane++)
        {
            if (_blocked[lane] is { } held && _lanes[lane].Reader.Count <= _laneCapacity / 2 && _lanes[lane].Writer.TryWrite(held))
            {
                _blocked[lane] = null;
                Resume(consumer, lane);
            }
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

    private void WriteBlocking(MessageChunk chunk, int lane)
    {
        // Bounded: a worker that died must not hang the consumer thread (its offsets simply stop advancing).
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            _lanes[lane].Writer.WriteAsync(chunk, timeout.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            LogLaneStuck(_logger, lane);
            chunk.Done?.TrySetResult();
        }
    }

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

    /// <summary>
    /// The durability barrier, run every poll round but acting once per commit interval: when the last flush finished,
    /// what was committable before it started becomes durable; then a new flush starts for what is committable now.
    /// The flush runs on the thread pool, so polling never waits for it.
    /// </summary>
    private void AdvanceDurable()
    {
        if (_flushOutputs is null)
        {
            foreach (var ps in _partitions.Values) ps.Durable = ps.Committable;
            return;
        }

        if (_barrier is { IsCompleted: true } done)
        {
            if (done.IsCompletedSuccessfully)
            {
                PublishSnapshot();
            }
            else
            {
                LogBarrierFailed(_logger, done.Exception?.GetBaseException().Message ?? "cancelled");
            }

            _barrier = null;
            _barrierSnapshot.Clear();
        }

        var now = Stopwatch.GetTimestamp();
        if (_barrier is not null || now < _nextBarrierAt) return;
        _nextBarrierAt = now + (long)(_options.CommitInterval.TotalSeconds * Stopwatch.Frequency);
        foreach (var ps in _partitions.Values)
        {
            // Read before the flush starts: every write behind this offset returned before the flush was asked for.
            var committable = ps.Committable;
            if (committable > ps.Durable) _barrierSnapshot.Add((ps, committable));
        }

        if (_barrierSnapshot.Count > 0)
        {
            var flush = _flushOutputs;
            _barrier = Task.Run(() => flush(CancellationToken.None));
        }
    }

    private void PublishSnapshot()
    {
        foreach (var (ps, offset) in _barrierSnapshot)
        {
            if (offset > ps.Durable) ps.Durable = offset;
        }

        Interlocked.Increment(ref _barriers);
    }

    /// <summary>
    /// Revoke and shutdown: after the lanes drained, flushes every output now (waiting up to 60 s) and makes
    /// <paramref name="states"/>' committable offsets durable. On failure they keep the last durable offset.
    /// </summary>
    private void FlushNow(IEnumerable<PartitionState> states)
    {
        if (_flushOutputs is null)
        {
            foreach (var ps in states) ps.Durable = ps.Committable;
            return;
        }

        // Let a periodic flush that is under way finish first (outputs then see one flush at a time).
        if (_barrier is { } running)
        {
            try
            {
                if (running.Wait(TimeSpan.FromSeconds(60)) && running.IsCompletedSuccessfully) PublishSnapshot();
            }
            catch (AggregateException)
            {
                // Logged below if the fresh flush fails as well.
            }

            _barrier = null;
            _barrierSnapshot.Clear();
        }

        var snapshot = states.Select(ps => (ps, ps.Committable)).ToList();
        var flush = _flushOutputs;
        try
        {
            if (!Task.Run(() => flush(CancellationToken.None)).Wait(TimeSpan.FromSeconds(60)))
            {
                LogBarrierFailed(_logger, "the outputs did not flush within 60 s");
                return;
            }
        }
        catch (AggregateException ex)
        {
            LogBarrierFailed(_logger, ex.GetBaseException().Message);
            return;
        }

        foreach (var (ps, offset) in snapshot)
        {
            if (offset > ps.Durable) ps.Durable = offset;
        }

        Interlocked.Increment(ref _barriers);
    }

    private void OnAssigned(List<TopicPartition> parts)
    {
        var added = new List<PartitionState>();
        foreach (var tp in parts)
        {
            if (_partitions.ContainsKey(tp) || !_options.Topics.TryGetValue(tp.Topic, out var kind)) continue;
            var ps = new PartitionState(tp.Topic, tp.Partition.Value, kind, LaneOf((int)kind, tp.Partition.Value, _lanes.Length));
            _partitions[tp] = ps;
            added.Add(ps);
        }

        foreach (var group in added.GroupBy(p => p.Lane))
        {
            WriteBlocking(_pool.RentControl(ChunkKind.Assigned, group), group.Key);
        }

        LogAssigned(_logger, parts.Count, string.Join(",", parts.Select(p => $"{p.Topic}[{p.Partition.Value}]")));
    }

    private void OnRevoked(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartitionOffset> parts)
    {
        // Drain the lanes' work for these partitions, flush the outputs, then commit exactly what they took durably.
        var states = parts.Select(p => _partitions.GetValueOrDefault(p.TopicPartition)).OfType<PartitionState>().ToList();
        var waits = new List<Task>();
        foreach (var group in states.GroupBy(p => p.Lane))
        {
            FlushLane(group.Key);
            var control = _pool.RentControl(ChunkKind.Revoked, group);
            waits.Add(control.Done!.Task);
            WriteBlocking(control, group.Key);
        }

        if (!Task.WaitAll([.. waits], TimeSpan.FromSeconds(60)))
        {
            LogRevokeTimeout(_logger, states.Count);
        }

        FlushNow(states);
        var commits = new List<TopicPartitionOffset>();
        foreach (var ps in states)
        {
            var next = ps.Durable;
            if (next >= 0)
            {
                commits.Add(new TopicPartitionOffset(ps.TopicPartition, next));
            }

            _partitions.Remove(ps.TopicPartition);
        }

        if (commits.Count > 0)
        {
            try
            {
                consumer.Commit(commits);
            }
            catch (KafkaException ex)
            {
                LogCommitFailed(_logger, ex.Error.Reason);
            }
        }

        RefreshPaused();
        LogRevoked(_logger, parts.Count);
    }

    private void OnLost(List<TopicPartitionOffset> parts)
    {
        var states = parts.Select(p => _partitions.GetValueOrDefault(p.TopicPartition)).OfType<PartitionState>().ToList();
        foreach (var group in states.GroupBy(p => p.Lane))
        {
            FlushLane(group.Key);
            WriteBlocking(_pool.RentControl(ChunkKind.Lost, group), group.Key);
        }

        foreach (var ps in states) _partitions.Remove(ps.TopicPartition);
        RefreshPaused();
        LogLost(_logger, parts.Count);
    }

    private void RefreshPaused()
    {
        foreach (var lane in _pausedLanes.ToList())
        {
            if (_blocked[lane] is null) _pausedLanes.Remove(lane);
        }

        PausedLanes = _pausedLanes.Count;
    }

    private void FlushLane(int lane)
    {
        if (_blocked[lane] is { } held)
        {
            _blocked[lane] = null;
            WriteBlocking(held, lane);
            if (_pausedLanes.Remove(lane) && _consumer is { } c)
            {
                c.Resume(LanePartitions(lane));
            }
        }

        if (_filling[lane] is { Count: > 0 } filling)
        {
            _filling[lane] = null;
            WriteBlocking(filling, lane);
        }
    }

    private void Shutdown(IConsumer<byte[]?, byte[]?> consumer)
    {
        var waits = new List<Task>();
        for (var lane = 0; lane < _lanes.Length; lane++)
        {
            FlushLane(lane);
            var control = _pool.RentControl(ChunkKind.Drain, []);
            waits.Add(control.Done!.Task);
            WriteBlocking(control, lane);
        }

        if (!Task.WaitAll([.. waits], TimeSpan.FromSeconds(60)))
        {
            LogRevokeTimeout(_logger, _partitions.Count);
        }

        // Drained lanes → flushed outputs → stored and committed offsets: a graceful stop commits only delivered forecasts.
        FlushNow(_partitions.Values);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Workers did not drain {Count} partitions within 60 s; committing what was handed over")]
    private static partial void LogRevokeTimeout(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka client error {Code}: {Reason}")]
    private static partial void LogClientError(ILogger logger, string code, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consume failed: {Reason}")]
    private static partial void LogConsumeError(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storing offset for {Topic}[{Partition}] failed: {Reason}")]
    private static partial void LogStoreFailed(ILogger logger, string topic, int partition, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Commit failed: {Reason}")]
    private static partial void LogCommitFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Worker lane {Lane} took no input for 60 s (or is closed); its messages stay uncommitted")]
    private static partial void LogLaneStuck(ILogger logger, int lane);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Durability barrier failed ({Reason}); offsets stay at what was last flushed")]
    private static partial void LogBarrierFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Consumer closed after {Count} messages")]
    private static partial void LogClosed(ILogger logger, long count);
}
