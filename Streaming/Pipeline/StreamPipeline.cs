using System.Threading.Channels;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>
/// The pipeline core without Kafka: one bounded channel per worker lane and the workers reading them.
/// A source (the Kafka consumer, or an in-process source) writes <see cref="MessageChunk"/>s to <see cref="Lanes"/>;
/// <see cref="CompleteAsync"/> lets the workers drain and flush, then flushes the outputs.
/// </summary>
public sealed class StreamPipeline
{
    private readonly Channel<MessageChunk>[] _lanes;
    private readonly PipelineWorker[] _workers;
    private readonly IReadOnlyList<IForecastOutput> _outputs;
    private Task[] _running = [];

    /// <summary>Builds the lanes and workers.</summary>
    /// <param name="options">Pipeline settings.</param>
    /// <param name="models">One model per enabled source kind.</param>
    /// <param name="outputs">Where forecasts go.</param>
    /// <param name="deadLetters">Where bad and late messages go.</param>
    /// <param name="time">Clock for max-wait.</param>
    public StreamPipeline(PipelineOptions options, IReadOnlyDictionary<SourceKind, LstmModel> models, IReadOnlyList<IForecastOutput> outputs,
        IDeadLetterSink deadLetters, TimeProvider? time = null)
    {
        Options = options;
        Models = models;
        _outputs = outputs;
        var n = options.ResolvedWorkers;
        Pool = new MessageChunkPool(options.ChunkSize);
        _lanes = new Channel<MessageChunk>[n];
        _workers = new PipelineWorker[n];
        for (var i = 0; i < n; i++)
        {
            _lanes[i] = Channel.CreateBounded<MessageChunk>(new BoundedChannelOptions(options.ChannelCapacity)
            {
                SingleReader = true,
                SingleWriter = false,
                FullMode = BoundedChannelFullMode.Wait,
            });
            _workers[i] = new PipelineWorker(i, _lanes[i].Reader, models, outputs, deadLetters, options, time ?? TimeProvider.System);
        }
    }

    /// <summary>Settings.</summary>
    public PipelineOptions Options { get; }

    /// <summary>The model of each enabled source kind.</summary>
    public IReadOnlyDictionary<SourceKind, LstmModel> Models { get; }

    /// <summary>One bounded channel per worker.</summary>
    public IReadOnlyList<Channel<MessageChunk>> Lanes => _lanes;

    /// <summary>Chunk pool shared by source and workers.</summary>
    public MessageChunkPool Pool { get; }

    /// <summary>Per-worker counters.</summary>
    public IEnumerable<WorkerMetrics> Metrics => _workers.Select(w => w.Metrics);

    internal IReadOnlyList<PipelineWorker> Workers => _workers;

    /// <summary>Starts the workers, each on its own long-running task.</summary>
    /// <param name="ct">Aborts the workers (graceful stop is <see cref="CompleteAsync"/>).</param>
    public void Start(CancellationToken ct = default) =>
        _running = _workers.Select(w => Task.Factory.StartNew(() => w.RunAsync(ct), ct, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap()).ToArray();

    /// <summary>Completes the lanes, waits for the workers to drain and flush, then flushes every output.</summary>
    /// <param name="ct">Cancels the flush.</param>
    /// <returns>A task that completes when everything was handed over.</returns>
    public async Task CompleteAsync(CancellationToken ct = default)
    {
        foreach (var lane in _lanes) lane.Writer.TryComplete();
        await Task.WhenAll(_running).ConfigureAwait(false);
        await FlushOutputsAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Flushes every output: when it completes, everything whose <see cref="IForecastOutput.WriteAsync"/> returned before
    /// the call is delivered (or durably spooled). The Kafka consumer's durability barrier; safe while workers write.
    /// </summary>
    /// <param name="ct">Cancels the flush.</param>
    /// <returns>A task that completes when every output is flushed.</returns>
    public async Task FlushOutputsAsync(CancellationToken ct = default)
    {
        foreach (var o in _outputs) await o.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>A task that faults if any worker fails.</summary>
    public Task Completion => Task.WhenAll(_running);

    /// <summary>Totals over all workers.</summary>
    /// <returns>A fresh snapshot.</returns>
    public PipelineTotals Totals()
    {
        var t = new PipelineTotals();
        foreach (var m in Metrics)
        {
            t.Events += Volatile.Read(ref m.Events);
            t.Forecasts += Volatile.Read(ref m.Forecasts);
            t.Batches += Volatile.Read(ref m.Batches);
            t.Late += Volatile.Read(ref m.Late);
            t.Duplicates += Volatile.Read(ref m.Duplicates);
            t.DeadLetters += m.DeadLetterTotal;
            t.Keys += Volatile.Read(ref m.Keys);
        }

        return t;
    }
}

/// <summary>Pipeline counters summed over workers.</summary>
public sealed record PipelineTotals
{
    /// <summary>Messages read.</summary>
    public long Events { get; set; }

    /// <summary>Forecasts handed over.</summary>
    public long Forecasts { get; set; }

    /// <summary>Micro-batches stepped.</summary>
    public long Batches { get; set; }

    /// <summary>Late events.</summary>
    public long Late { get; set; }

    /// <summary>Skipped redeliveries.</summary>
    public long Duplicates { get; set; }

    /// <summary>Dead letters.</summary>
    public long DeadLetters { get; set; }

    /// <summary>Keys held.</summary>
    public long Keys { get; set; }
}
