using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamLstm.Ingest.Kafka;

namespace StreamLstm.Ingest.Consumer;

/// <summary>
/// What the consumer needs of exactly-once delivery at each checkpoint: commit what the outputs produced since the last
/// one together with the input offsets, open the next transaction, or abort the open one.
/// </summary>
public interface ICheckpointTransaction
{
    /// <summary>Sends <paramref name="offsets"/> to the open transaction (as the group's offsets) and commits it. Throws when it could not commit.</summary>
    /// <param name="offsets">Next offset to read per input partition.</param>
    /// <param name="group">The consumer's group metadata.</param>
    void Commit(IReadOnlyList<TopicPartitionOffset> offsets, IConsumerGroupMetadata group);

    /// <summary>Opens the next transaction.</summary>
    void Begin();

    /// <summary>Aborts the open transaction (nothing it carried becomes visible to a <c>read_committed</c> consumer).</summary>
    void Abort();
}

/// <summary>
/// The one transactional producer of a process under <c>Kafka:Guarantee=exactly_once</c>. Every Kafka output (forecasts,
/// alerts, DLQ and <c>late</c>, changelog) produces through its <see cref="Handle"/> (a dependent producer), so each
/// checkpoint's records and input offsets commit as one transaction (Kafka Streams' <c>exactly_once_v2</c>). Counts
/// commits and aborts; can fail a chosen commit on purpose (tests).
/// </summary>
public sealed partial class TransactionalProducer : ICheckpointTransaction, IDisposable
{
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly ILogger _logger;
    private readonly TimeSpan _timeout;
    private readonly int _failAt;
    private long _attempts;
    private long _commits;
    private long _aborts;
    private bool _open;

    /// <summary>Creates the producer, initialises transactions (fencing an older instance with the same id) and opens the first one.</summary>
    /// <param name="bootstrapServers">Brokers.</param>
    /// <param name="transactionalId">Stable per instance.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="extra">Extra librdkafka properties.</param>
    /// <param name="timeout">Bound of each transactional call.</param>
    /// <param name="failAt">Tests: the commit with this number (1-based) throws before committing; 0 never.</param>
    public TransactionalProducer(string bootstrapServers, string transactionalId, ILogger logger, IReadOnlyDictionary<string, string>? extra = null,
        TimeSpan? timeout = null, int failAt = 0)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(transactionalId);
        KafkaNative.EnsureLoaded();
        _logger = logger;
        _timeout = timeout ?? TimeSpan.FromSeconds(30);
        _failAt = failAt;
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            TransactionalId = transactionalId,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            CompressionType = CompressionType.Lz4,
            QueueBufferingMaxMessages = 1_000_000,
            ClientId = "streamlstm-transactional",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) config.Set(k, v);
        _producer = new ProducerBuilder<byte[]?, byte[]?>(config)
            .SetErrorHandler((_, e) => { if (e.IsFatal) LogFatal(_logger, e.Reason); })
            .LogTo(_logger)
            .Build();
        _producer.InitTransactions(_timeout);
        Begin();
        LogReady(_logger, transactionalId);
    }

    /// <summary>The client handle the outputs build their dependent producers on.</summary>
    public Handle Handle => _producer.Handle;

    /// <summary>Transactions committed.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Transactions aborted.</summary>
    public long Aborts => Interlocked.Read(ref _aborts);

    /// <inheritdoc />
    public void Commit(IReadOnlyList<TopicPartitionOffset> offsets, IConsumerGroupMetadata group)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        if (_failAt > 0 && Interlocked.Increment(ref _attempts) == _failAt)
        {
            throw new KafkaException(new Error(ErrorCode.Local_Fail, $"injected failure of transaction {_failAt} (Kafka:FailTransactionAt)"));
        }

        if (offsets.Count > 0) _producer.SendOffsetsToTransaction(offsets, group, _timeout);
        _producer.CommitTransaction(_timeout);
        _open = false;
        Interlocked.Increment(ref _commits);
    }

    /// <inheritdoc />
    public void Begin()
    {
        _producer.BeginTransaction();
        _open = true;
    }

    /// <inheritdoc />
    public void Abort()
    {
        if (!_open) return;
        _open = false;
        _producer.AbortTransaction(_timeout);
        Interlocked.Increment(ref _aborts);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            // The transaction opened after the last checkpoint carries nothing that must survive.
            Abort();
        }
        catch (KafkaException ex)
        {
            LogFatal(_logger, ex.Error.Reason);
        }

        _producer.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Exactly-once: transactional producer {TransactionalId} ready")]
    private static partial void LogReady(ILogger logger, string transactionalId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Transactional producer error: {Reason}")]
    private static partial void LogFatal(ILogger logger, string reason);
}
