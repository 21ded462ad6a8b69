using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Hosting;

/// <summary>
/// Runs the pipeline: the Kafka consumer on its own thread feeding the workers. Offsets are committed only behind the
/// consumer's durability barrier (<see cref="StreamPipeline.FlushOutputsAsync"/> every commit interval). On shutdown it
/// stops consuming, lets the consumer dispatch what it holds and the workers drain and flush their micro-batches, flushes
/// the outputs, stores and commits the final offsets, closes the consumer, then flushes the dead-letter producer.
/// </summary>
public sealed partial class PipelineHostedService : BackgroundService
{
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILogger<PipelineHostedService> _logger;
    private readonly TaskCompletionSource<StreamPipeline> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

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

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var kafka = _services.GetRequiredService<IOptions<KafkaSettings>>().Value;
        var options = _services.GetRequiredService<IOptions<PipelineOptions>>().Value;
        var modelSet = _services.GetRequiredService<PipelineModels>();
        IReadOnlyList<IForecastOutput> outputs = [.. _services.GetServices<IForecastOutput>()];
        var deadLetters = _services.GetRequiredService<IDeadLetterSink>();
        var topics = kafka.InputTopics();
        var models = modelSet.Models.Where(m => topics.ContainsValue(m.Key)).ToDictionary(m => m.Key, m => m.Value);
        var pipeline = new StreamPipeline(options, models, outputs, deadLetters, _time);
        var consumer = new KafkaIngestConsumer(new KafkaConsumerOptions
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = kafka.GroupId,
            Topics = topics,
            AutoOffsetReset = kafka.AutoOffsetReset == "latest" ? AutoOffsetReset.Latest : AutoOffsetReset.Earliest,
            CommitInterval = kafka.CommitInterval,
            MaxPollMessages = kafka.MaxPollMessages,
        }, pipeline.Lanes, options.ChannelCapacity, pipeline.Pool, _logger, pipeline.FlushOutputsAsync);
        Consumer = consumer;
        using var abort = new CancellationTokenSource();
        pipeline.Start(abort.Token);
        LogStarting(_logger, pipeline.Lanes.Count, string.Join(",", models.Select(m => $"{m.Key.ToWireName()}:{m.Value.Metadata.Version}")), outputs.Count);
        _started.TrySetResult(pipeline);

        using var stopConsumer = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        // A worker failure stops consumption too, so offsets never move past what failed.
        _ = pipeline.Completion.ContinueWith(t => { if (t.IsFaulted) stopConsumer.Cancel(); }, TaskScheduler.Default);
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
        finally
        {
            await pipeline.CompleteAsync(CancellationToken.None).ConfigureAwait(false);
            deadLetters.Flush(TimeSpan.FromSeconds(30));
            var t = pipeline.Totals();
            LogStopped(_logger, t.Events, t.Forecasts, t.DeadLetters, t.Late);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Pipeline starting: {Workers} workers, models {Models}, {Outputs} outputs")]
    private static partial void LogStarting(ILogger logger, int workers, string models, int outputs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pipeline stopped after {Events} events: {Forecasts} forecasts, {DeadLetters} dead letters, {Late} late; offsets committed")]
    private static partial void LogStopped(ILogger logger, long events, long forecasts, long deadLetters, long late);
}
