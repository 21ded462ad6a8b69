using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Storage;

namespace StreamLstm.Streaming.Changelog;

/// <summary>
/// The changelog on Kafka: one compacted topic per kind (<c>{prefix}{kind}</c>, created when missing with as many
/// partitions as the kind's input topic), input partition p's records in changelog partition p. A checkpoint's records
/// go first, its markers after them, through an idempotent producer (order kept across retries), and
/// <see cref="Publish"/> returns only once every one is acknowledged: the store write and the offset commit that
/// follow it can never be ahead of the changelog.
/// </summary>
public sealed partial class KafkaChangelog : IChangelog, IDisposable
{
    private readonly string _bootstrap;
    private readonly string _prefix;
    private readonly IReadOnlyDictionary<string, string> _extra;
    private readonly ILogger _logger;
    private readonly TimeSpan _timeout;
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly bool _transactional;
    private readonly ProducerConfig _config;
    private IProducer<byte[], byte[]>? _swapProducer;
    private readonly ConcurrentDictionary<SourceKind, int> _ensured = new();
    private readonly Lock _publishLock = new();
    private long _restores;
    private long _rebuilds;
    private long _published;

    /// <summary>Creates the changelog.</summary>
    /// <param name="bootstrapServers">Brokers.</param>
    /// <param name="topicPrefix">Topic name prefix; the kind's wire name follows.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="extra">Extra librdkafka properties (every client).</param>
    /// <param name="timeout">Bound on a publish and on a restore's reading.</param>
    /// <param name="sharedProducer">Exactly-once: the process's transactional producer (records join each checkpoint's transaction).</param>
    public KafkaChangelog(string bootstrapServers, string topicPrefix, ILogger logger, IReadOnlyDictionary<string, string>? extra = null, TimeSpan? timeout = null,
        Handle? sharedProducer = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topicPrefix);
        KafkaNative.EnsureLoaded();
        _bootstrap = bootstrapServers;
        _prefix = topicPrefix;
        _logger = logger;
        _extra = extra ?? new Dictionary<string, string>();
        _timeout = timeout ?? TimeSpan.FromSeconds(30);
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = true,
            LingerMs = 5,
            ClientId = "streamlstm-changelog",
            QueueBufferingMaxMessages = 1_000_000,
        };
        foreach (var (k, v) in _extra) config.Set(k, v);
        _config = config;
        _transactional = sharedProducer is not null;
        _producer = sharedProducer is not null ? new DependentProducerBuilder<byte[], byte[]>(sharedProducer).Build() : new ProducerBuilder<byte[], byte[]>(config).LogTo(logger).Build();
    }

    /// <summary>Partitions looked at on assignment.</summary>
    public long Restores => Interlocked.Read(ref _restores);

    /// <summary>Partitions rebuilt from the changelog.</summary>
    public long Rebuilds => Interlocked.Read(ref _rebuilds);

    /// <summary>Records and markers published.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>The changelog topic of a kind.</summary>
    /// <param name="kind">Source kind.</param>
    /// <returns>The topic name.</returns>
    public string Topic(SourceKind kind) => _prefix + kind.ToWireName();

    /// <inheritdoc />
    public void Publish(IReadOnlyList<CheckpointBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        lock (_publishLock)
        {
            var failures = 0;
            string? reason = null;
            void Delivered(DeliveryReport<byte[], byte[]> r)
            {
                if (r.Error.IsError)
                {
                    Interlocked.Increment(ref failures);
                    reason = r.Error.Reason;
                }
            }

            long count = 0;
            // Records first, markers after them: a reader that sees a partition's marker has seen its records.
            foreach (var batch in batches)
            {
                foreach (var e in batch.Entries)
                {
                    // A deletion (zero bytes: an expired key, a pruned swap record) is a tombstone, so compaction drops the key.
                    Send(_producer, e.Kind, e.Partition, ChangelogRecord.Key(e.Partition, batch.Key(e)), e.ValueLength == 0 ? null : batch.Value(e).ToArray(), Delivered);
                    count++;
                }
            }

            foreach (var batch in batches)
            {
                foreach (var (kind, partition, offset) in batch.Offsets)
                {
                    Send(_producer, kind, partition, ChangelogRecord.Key(partition, []), ChangelogRecord.Marker(offset), Delivered);
                    count++;
                }
            }

            if (_producer.Flush(_timeout) > 0) throw new InvalidOperationException($"The changelog did not take a checkpoint within {_timeout.TotalSeconds:0.#} s.");
            if (failures > 0) throw new InvalidOperationException($"The changelog refused {failures} records of a checkpoint: {reason}");
            Interlocked.Add(ref _published, count);
        }
    }

    /// <inheritdoc />
    public void PublishSwaps(CheckpointBatch swaps)
    {
        ArgumentNullException.ThrowIfNull(swaps);
        if (swaps.Count == 0) return;
        lock (_publishLock)
        {
            // Exactly-once: outside the open transaction (which holds outputs until the next checkpoint), on a plain
            // idempotent producer, so a new owner re-applies the swap at its offset as a restart from the store does.
            var producer = _transactional ? _swapProducer ??= new ProducerBuilder<byte[], byte[]>(_config).LogTo(_logger).Build() : _producer;
            var failures = 0;
            string? reason = null;
            foreach (var e in swaps.Entries)
            {
                Send(producer, e.Kind, e.Partition, ChangelogRecord.Key(e.Partition, swaps.Key(e)), swaps.Value(e).ToArray(), r =>
                {
                    if (!r.Error.IsError) return;
                    Interlocked.Increment(ref failures);
                    reason = r.Error.Reason;
                });
            }

            if (producer.Flush(_timeout) > 0) throw new InvalidOperationException($"The changelog did not take a swap record within {_timeout.TotalSeconds:0.#} s.");
            if (failures > 0) throw new InvalidOperationException($"The changelog refused {failures} swap records: {reason}");
            Interlocked.Add(ref _published, swaps.Count);
        }
    }

    /// <inheritdoc />
    public ChangelogRestore Restore(SourceKind kind, string inputTopic, int partition, IStateStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var sw = Stopwatch.StartNew();
        Interlocked.Increment(ref _restores);
        EnsureTopic(kind, inputTopic);
        var local = store.ReadOffset(kind, partition);
        var (marker, records) = ReadToLastMarker(kind, partition);
        if (marker <= local || marker < 0)
        {
            // The store is current, but a swap recorded after its checkpoint by the previous owner must still come along.
            var swaps = new CheckpointBatch();
            foreach (var (key, value) in records)
            {
                if (key.StartsWith(PartitionModelRecord.SwapPrefix, StringComparison.Ordinal)) value.CopyTo(swaps.Add(kind, partition, key, value.Length));
            }

            if (swaps.Count > 0) store.Write([swaps]);
            return new ChangelogRestore(local, marker, 0, false, sw.Elapsed);
        }

        // The local store is older than the changelog (or has no state): the changelog's records up to its newest marker
        // are the partition's state as of that marker's offset.
        var batch = new CheckpointBatch();
        foreach (var (key, value) in records) value.CopyTo(batch.Add(kind, partition, key, value.Length));
        batch.SetOffset(kind, partition, marker);
        store.Write([batch]);
        Interlocked.Increment(ref _rebuilds);
        var result = new ChangelogRestore(local, marker, records.Count, true, sw.Elapsed);
        LogRebuilt(_logger, kind.ToWireName(), partition, records.Count, marker, local, result.Elapsed.TotalMilliseconds);
        return result;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
        _swapProducer?.Flush(TimeSpan.FromSeconds(5));
        _swapProducer?.Dispose();
    }

    private void Send(IProducer<byte[], byte[]> producer, SourceKind kind, int partition, byte[] key, byte[]? value, Action<DeliveryReport<byte[], byte[]>> delivered)
    {
        var tp = new TopicPartition(Topic(kind), partition);
        while (true)
        {
            try
            {
                producer.Produce(tp, new Message<byte[], byte[]> { Key = key, Value = value! }, delivered);
                return;
            }
            catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                // The local queue is full: let deliveries drain it.
                producer.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    /// <summary>Reads a changelog partition to its end: the newest marker, and every key's newest record before it.</summary>
    private (long Marker, Dictionary<string, byte[]> Records) ReadToLastMarker(SourceKind kind, int partition)
    {
        var applied = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var pending = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        long marker = -1;
        var config = new ConsumerConfig
        {
            BootstrapServers = _bootstrap,
            GroupId = "streamlstm-changelog-restore",
            EnableAutoCommit = false,
            EnablePartitionEof = true,
            ClientId = "streamlstm-changelog-restore",
        };
        foreach (var (k, v) in _extra) config.Set(k, v);
        // The changelog is read as committed data only (matters under exactly-once; harmless otherwise).
        config.IsolationLevel = IsolationLevel.ReadCommitted;
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).LogTo(_logger).Build();
        var tp = new TopicPartition(Topic(kind), partition);
        var marks = consumer.QueryWatermarkOffsets(tp, _timeout);
        if (marks.High.Value <= marks.Low.Value) return (-1, applied);
        consumer.Assign(new TopicPartitionOffset(tp, Offset.Beginning));
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (deadline.Elapsed > _timeout) throw new TimeoutException($"Reading the changelog {tp.Topic}[{partition}] did not reach its end ({marks.High.Value}) within {_timeout.TotalSeconds:0.#} s.");
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null) continue;
            if (r.IsPartitionEOF) break;
            if (ChangelogRecord.TryParseKey(r.Message.Key, out var p, out var eventKey) && p == partition)
            {
                if (eventKey.IsEmpty)
                {
                    if (ChangelogRecord.TryParseMarker(r.Message.Value, out var offset))
                    {
                        // Everything before a marker belongs to a checkpoint that was published whole.
                        foreach (var (k, v) in pending) applied[k] = v;
                        pending.Clear();
                        marker = offset;
                    }
                }
                else
                {
                    var name = Encoding.UTF8.GetString(eventKey);
                    // A tombstone is a deletion: written into the store as a zero-byte record (older builds sent zero bytes).
                    var value = r.Message.Value ?? [];
                    if (value.Length > 0 && name.StartsWith(PartitionModelRecord.SwapPrefix, StringComparison.Ordinal))
                    {
                        // A swap record is written when the swap happens, not with a checkpoint: no marker has to follow it.
                        applied[name] = value;
                        pending.Remove(name);
                    }
                    else
                    {
                        // A record of a checkpoint, a swap record's prune included: applied only once its marker follows.
                        pending[name] = value;
                    }
                }
            }

            if (r.Offset.Value >= marks.High.Value - 1) break;
        }

        // Records after the newest marker belong to a checkpoint whose publish did not complete: not part of any state.
        return (marker, applied);
    }

    private void EnsureTopic(SourceKind kind, string inputTopic)
    {
        if (_ensured.ContainsKey(kind)) return;
        var config = new AdminClientConfig { BootstrapServers = _bootstrap };
        foreach (var (k, v) in _extra) config.Set(k, v);
        using var admin = new AdminClientBuilder(config).Build();
        var meta = admin.GetMetadata(TimeSpan.FromSeconds(10));
        var input = meta.Topics.FirstOrDefault(t => t.Topic == inputTopic)?.Partitions.Count ?? 0;
        var existing = meta.Topics.FirstOrDefault(t => t.Topic == Topic(kind) && t.Error.Code == ErrorCode.NoError);
        if (existing is null)
        {
            try
            {
                admin.CreateTopicsAsync([new TopicSpecification
                {
                    Name = Topic(kind),
                    NumPartitions = Math.Max(1, input),
                    ReplicationFactor = -1,
                    Configs = new Dictionary<string, string> { ["cleanup.policy"] = "compact" },
                }], new CreateTopicsOptions { RequestTimeout = TimeSpan.FromSeconds(10), OperationTimeout = TimeSpan.FromSeconds(10) }).GetAwaiter().GetResult();
                LogCreated(_logger, Topic(kind), input);
            }
            catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.TopicAlreadyExists or ErrorCode.NoError))
            {
                // Another member created it meanwhile.
            }
            catch (KafkaException ex)
            {
                throw new InvalidOperationException($"The changelog topic {Topic(kind)} is missing and could not be created ({ex.Error.Reason}): create it compacted (cleanup.policy=compact) with {input} partitions.", ex);
            }
        }
        else if (existing.Partitions.Count < input)
        {
            throw new InvalidOperationException($"The changelog topic {Topic(kind)} has {existing.Partitions.Count} partitions; its input topic {inputTopic} has {input}.");
        }

        _ensured[kind] = input;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "State changelog {Kind}[{Partition}]: rebuilt {Records} keys up to input offset {Marker} (local store was at {Local}) in {Ms:0.0} ms")]
    private static partial void LogRebuilt(ILogger logger, string kind, int partition, int records, long marker, long local, double ms);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created the compacted changelog topic {Topic} with {Partitions} partitions")]
    private static partial void LogCreated(ILogger logger, string topic, int partitions);
}
