using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Changelog;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Storage;
using StreamLstm.Streaming.Storage.RocksDb;

namespace StreamLstm.Streaming.Hosting;

/// <summary>
/// Runs the pipeline: the Kafka consumer on its own thread feeding the workers. Offsets are committed only behind the
/// consumer's durability barrier (<see cref="StreamPipeline.FlushOutputsAsync"/> every commit interval: the outputs and
/// the dead-letter producer). On shutdown it stops consuming, lets the consumer dispatch what it holds and the workers
/// drain and flush their micro-batches, flushes the outputs, stores and commits the final offsets and closes the consumer,
/// all within <see cref="PipelineOptions.ShutdownTimeout"/>.
/// <para>
/// Faults: a worker that fails (an exception escaping an output or the model) or a consumer that fails stops the host,
/// with the reason logged and in <see cref="Failure"/>; the commands then exit non-zero. Nothing is committed past what
/// was handed over, so the restart resumes from the last committed offsets. A bad message never gets this far: decoders
/// dead-letter it, and a decoder that throws dead-letters it as <c>decoder_error</c>.
/// </para>
/// </summary>
public sealed partial class PipelineHostedService : BackgroundService
{
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILogger<PipelineHostedService> _logger;
    private readonly TaskCompletionSource<StreamPipeline> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile string? _failure;

    /// <summary>Creates the service.</summary>
    /// <param name="services">Resolves settings, models, outputs (every <see cref="IForecastOutput"/>) and the DLQ sink
    /// when the service starts, after start-up validation.</param>
    /// <param name="time">Clock.</param>
    /// <param name="logger">Logger.</param>
    public PipelineHostedService(IServiceProvider services, TimeProvider time, ILogger<PipelineHostedService> logger)
    {
        _services = services;
        _time = time;
        _logger = logger;
    }

    /// <summary>The running pipeline, once started.</summary>
    public Task<StreamPipeline> Started => _started.Task;

    /// <summary>The consumer, once started.</summary>
    public KafkaIngestConsumer? Consumer { get; private set; }

    /// <summary>Why the service stopped on its own (a worker or the consumer failed); null while healthy or after a normal stop.</summary>
    public string? Failure => _failure;

    /// <summary>True when the last stop did not complete its drain within the bound (some offsets were left uncommitted).</summary>
    public bool IncompleteShutdown { get; private set; }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RunPipelineAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_failure is null)
        {
            // Anything that escapes (a client that cannot be built from its settings, a model that does not fit) stops the
            // host with the reason, as a worker failure does; the host's own log of it is filtered out (StreamLstmHost).
            LogPipelineFailed(_logger, ex, ex.Message);
            Fail($"the pipeline failed: {ex.Message}", _services.GetService<IHostApplicationLifetime>());
        }
    }

    private async Task RunPipelineAsync(CancellationToken stoppingToken)
    {
        var kafka = _services.GetRequiredService<IOptions<KafkaSettings>>().Value;
        var options = _services.GetRequiredService<IOptions<PipelineOptions>>().Value;
        // Rows are scored once, on the workers, with the sink's (already validated) thresholds: one scoring state per key.
        if (_services.GetService<IOptions<Sink.Hosting.SinkOptions>>() is { } sink) options.Anomaly = sink.Value.Anomaly;
        var tuning = options.Latency is { } latency ? LatencyTuning.For(latency) : null;
        tuning?.ApplyTo(options);
        var modelSet = _services.GetRequiredService<PipelineModels>();
        IReadOnlyList<IForecastOutput> outputs = [.. _services.GetServices<IForecastOutput>()];
        var deadLetters = _services.GetRequiredService<IDeadLetterSink>();
        var failures = _services.GetRequiredService<DeliveryFailures>();
        var decoders = _services.GetService<Func<SourceKind, EventDecoder>>();
        var lifetime = _services.GetService<IHostApplicationLifetime>();
        var topics = kafka.InputTopics();
        var models = modelSet.Models.Where(m => topics.ContainsValue(m.Key)).ToDictionary(m => m.Key, m => m.Value);
        var stateOptions = _services.GetService<IOptions<StateOptions>>()?.Value ?? new StateOptions();
        if (kafka.ExactlyOnce && string.IsNullOrWhiteSpace(stateOptions.Directory))
        {
            throw new InvalidOperationException("Kafka:Guarantee=exactly_once needs durable state: set State:Directory (run --state-dir DIR).");
        }

        var transactions = kafka.ExactlyOnce ? _services.GetRequiredService<TransactionalProducer>() : null;
        var store = OpenStore(stateOptions, options);
        using var changelog = store is not null && stateOptions.Changelog
            ? new KafkaChangelog(kafka.BootstrapServers, stateOptions.ChangelogTopicPrefix, _logger, kafka.Client, sharedProducer: transactions?.Handle)
            : null;
        var durable = store is null ? null : new DurableState(store, string.Equals(stateOptions.Restore, "eager", StringComparison.OrdinalIgnoreCase), stateOptions.KeyTtl, changelog);
        var pipeline = new StreamPipeline(options, models, outputs, deadLetters, _time, _logger, decoders, failures, durable);
        var consumerOptions = new KafkaConsumerOptions
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = kafka.GroupId,
            Topics = topics,
            AutoOffsetReset = kafka.AutoOffsetReset == "latest" ? AutoOffsetReset.Latest : AutoOffsetReset.Earliest,
            CommitInterval = kafka.CommitInterval,
            MaxPollMessages = kafka.MaxPollMessages,
            DrainTimeout = options.ShutdownTimeout,
            Extra = kafka.Client,
            ConsumePath = kafka.ConsumePath,
        };
        tuning?.ApplyTo(consumerOptions);
        var consumer = new KafkaIngestConsumer(consumerOptions, pipeline.Lanes, options.LaneCapacityMessages, pipeline.Pool, _logger, pipeline.FlushOutputsAsync, failures, store is null ? null : new StoreCheckpoints(store, changelog), pipeline.Mailboxes, transactions);
        Consumer = consumer;
        if (_services.GetService<Online.OnlineLearning>() is { } online) pipeline.AttachOnline(online);
        using var abort = new CancellationTokenSource();
        pipeline.Start(abort.Token);
        LogStarting(_logger, pipeline.Lanes.Count, string.Join(",", models.Select(m => $"{m.Key.ToWireName()}:{m.Value.Metadata.Version}")), outputs.Count);
        _started.TrySetResult(pipeline);

        using var stopConsumer = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var stopRequestedAt = 0L;
        using var stopClock = stopConsumer.Token.Register(() => Interlocked.CompareExchange(ref stopRequestedAt, Stopwatch.GetTimestamp(), 0));
        // A failed worker stops consumption and the host: offsets never move past what failed.
        _ = pipeline.Faulted.ContinueWith(t =>
        {
            Fail($"worker {t.Result.Lane} failed: {t.Result.Exception.GetType().Name}: {t.Result.Exception.Message}", lifetime);
            stopConsumer.Cancel();
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        failures.Recorded += OnUndelivered;
        var consumerDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var consumerThread = new Thread(() =>
        {
            try
            {
                consumer.Run(stopConsumer.Token);
                consumerDone.TrySetResult();
            }
            catch (Exception ex)
            {
                consumerDone.TrySetException(ex);
            }
        }) { Name = "streamlstm-consumer", IsBackground = true };
        consumerThread.Start();
        try
        {
            await consumerDone.Task.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogConsumerFailed(_logger, ex, ex.Message);
            Fail($"the Kafka consumer failed: {ex.Message}", lifetime);
        }
        finally
        {
            failures.Recorded -= OnUndelivered;
            // The rest of the stop budget (the consumer's drain spent part of it) bounds the workers' final flush.
            var started = Interlocked.Read(ref stopRequestedAt);
            var spent = started == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(started);
            var left = options.ShutdownTimeout - spent;
            using var bound = new CancellationTokenSource(left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1));
            try
            {
                await pipeline.CompleteAsync(bound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                IncompleteShutdown = true;
                LogIncompleteShutdown(_logger, options.ShutdownTimeout.TotalSeconds);
                // Workers still blocked in an output get cancelled; nothing of theirs was committed.
                await abort.CancelAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                IncompleteShutdown = true;
                LogFinalFlushFailed(_logger, ex, ex.Message);
            }

            // Closed only once no worker can read it any more (an aborted worker might still be inside a restore).
            if (pipeline.Completion.IsCompleted) store?.Dispose();
            if (transactions is not null) LogTransactions(_logger, transactions.Commits, transactions.Aborts, consumer.Barriers, consumer.TransactionsCommitted);
            var t = pipeline.Totals();
            LogStopped(_logger, t.Events, t.Forecasts, t.DeadLetters, t.Late, t.Undelivered);
        }
    }

    /// <summary>Opens the state store when <c>State:Directory</c> is set (null otherwise).</summary>
    private IStateStore? OpenStore(StateOptions state, PipelineOptions options)
    {
        if (string.IsNullOrWhiteSpace(state.Directory))
        {
            if (options.MaxResidentKeys > 0) LogCapWithoutStore(_logger);
            return null;
        }

        var store = new RocksDbStateStore(new RocksDbStateStoreOptions { Directory = state.Directory, Sync = state.Sync });
        LogStateStore(_logger, store.Path, state.Restore, options.MaxResidentKeys);
        return store;
    }

    private void Fail(string reason, IHostApplicationLifetime? lifetime)
    {
        if (_failure is not null) return;
        _failure = reason;
        LogFailing(_logger, reason);
        lifetime?.StopApplication();
    }

    private void OnUndelivered(string output, SourceKind kind, int partition, long offset, string reason) =>
        LogUndelivered(_logger, output, kind.ToWireName(), partition, offset, reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Durable state in {Directory} (restore {Restore}, at most {MaxResident} resident keys per worker and kind, 0 = no cap); partitions resume at their stored offsets")]
    private static partial void LogStateStore(ILogger logger, string directory, string restore, int maxResident);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pipeline:MaxResidentKeys is set but State:Directory is not: without a store no key can be hibernated, so the cap is not applied")]
    private static partial void LogCapWithoutStore(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Exactly-once: {Commits} transactions committed, {Aborts} aborted; {Checkpoints} checkpoints ({Periodic} periodic)")]
    private static partial void LogTransactions(ILogger logger, long commits, long aborts, long checkpoints, long periodic);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pipeline starting: {Workers} workers, models {Models}, {Outputs} outputs")]
    private static partial void LogStarting(ILogger logger, int workers, string models, int outputs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pipeline stopped after {Events} events: {Forecasts} forecasts, {DeadLetters} dead letters, {Late} late, {Undelivered} undelivered; offsets committed up to what was delivered")]
    private static partial void LogStopped(ILogger logger, long events, long forecasts, long deadLetters, long late, long undelivered);

    [LoggerMessage(Level = LogLevel.Critical, Message = "StreamLstm is stopping because {Reason}. Offsets stay at what was delivered; a restart resumes from there.")]
    private static partial void LogFailing(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The pipeline failed: {Reason}")]
    private static partial void LogPipelineFailed(ILogger logger, Exception ex, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The Kafka consumer failed: {Reason}")]
    private static partial void LogConsumerFailed(ILogger logger, Exception ex, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The stop did not finish within {Seconds} s; what was not handed over stays uncommitted and is read again on restart")]
    private static partial void LogIncompleteShutdown(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "The final flush failed ({Reason}); offsets stay at what was delivered")]
    private static partial void LogFinalFlushFailed(ILogger logger, Exception ex, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "UNDELIVERED: {Output} gave up a row of {Kind}[{Partition}]@{Offset} ({Reason}); that partition's commits are held at it until a restart")]
    private static partial void LogUndelivered(ILogger logger, string output, string kind, int partition, long offset, string reason);
}
