using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>
/// The pipeline core without Kafka: one bounded channel per worker lane and the workers reading them.
/// A source (the Kafka consumer, or an in-process source) writes <see cref="MessageChunk"/>s to <see cref="Lanes"/>;
/// <see cref="CompleteAsync"/> lets the workers drain and flush, then flushes the outputs.
/// A worker that fails (an exception escaping an output or the model) is not restarted: its lane's channel is closed so
/// nothing waits on it, and <see cref="Faulted"/> completes with the failure, which the host turns into a logged stop with
/// a non-zero exit. Its partitions' offsets stay at what it had handed over, so a restart resumes from there.
/// </summary>
public sealed partial class StreamPipeline
{
    private readonly Channel<MessageChunk>[] _lanes;
    private readonly PipelineWorker[] _workers;
    private readonly LaneMailbox[] _mailboxes;
    private readonly IReadOnlyList<IForecastOutput> _outputs;
    private readonly IDeadLetterSink _deadLetters;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<WorkerFailure> _faulted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int[] _alive;
    private Task[] _running = [];

    /// <summary>Builds the lanes and workers.</summary>
    /// <param name="options">Pipeline settings.</param>
    /// <param name="models">One model per enabled source kind.</param>
    /// <param name="outputs">Where forecasts go.</param>
    /// <param name="deadLetters">Where bad and late messages go.</param>
    /// <param name="time">Clock for max-wait.</param>
    /// <param name="logger">Logger (worker failures, decoder errors).</param>
    /// <param name="decoders">Makes each worker's decoder per kind; the standard decoders when null.</param>
    /// <param name="failures">Deliveries the outputs gave up (reported in <see cref="Totals"/>).</param>
    /// <param name="state">Durable per-key state (restore, checkpoint capture, hibernation); null keeps state in memory only.</param>
    public StreamPipeline(PipelineOptions options, IReadOnlyDictionary<SourceKind, LstmModel> models, IReadOnlyList<IForecastOutput> outputs,
        IDeadLetterSink deadLetters, TimeProvider? time = null, ILogger? logger = null, Func<SourceKind, EventDecoder>? decoders = null,
        DeliveryFailures? failures = null, DurableState? state = null)
    {
        State = state;
        Failures = failures ?? new DeliveryFailures();
        Options = options;
        Models = models;
        _outputs = outputs;
        _deadLetters = deadLetters;
        _logger = logger ?? NullLogger.Instance;
        var n = options.ResolvedWorkers;
        Pool = new MessageChunkPool(options.ChunkSize);
        _lanes = new Channel<MessageChunk>[n];
        _workers = new PipelineWorker[n];
        _mailboxes = new LaneMailbox[n];
        for (var i = 0; i < n; i++)
        {
            _mailboxes[i] = new LaneMailbox();
            _lanes[i] = Channel.CreateBounded<MessageChunk>(new BoundedChannelOptions(options.ChannelCapacity)
            {
                SingleReader = true,
                SingleWriter = false,
                FullMode = BoundedChannelFullMode.Wait,
            });
            _workers[i] = new PipelineWorker(i, _lanes[i].Reader, models, outputs, deadLetters, options, time ?? TimeProvider.System, _logger, decoders, state, _mailboxes[i]);
        }

        _alive = new int[n];
    }

    /// <summary>Settings.</summary>
    public PipelineOptions Options { get; }

    /// <summary>Durable per-key state, when configured.</summary>
    public DurableState? State { get; }

    /// <summary>Deliveries the outputs gave up; each holds its input partition's offset back.</summary>
    public DeliveryFailures Failures { get; }

    /// <summary>The model of each enabled source kind.</summary>
    public IReadOnlyDictionary<SourceKind, LstmModel> Models { get; }

    /// <summary>One mailbox per worker: control items it takes ahead of its channel's backlog (checkpoint captures).</summary>
    public IReadOnlyList<LaneMailbox> Mailboxes => _mailboxes;

    /// <summary>One bounded channel per worker.</summary>
    public IReadOnlyList<Channel<MessageChunk>> Lanes => _lanes;

    /// <summary>Chunk pool shared by source and workers.</summary>
    public MessageChunkPool Pool { get; }

    /// <summary>Per-worker counters.</summary>
    public IEnumerable<WorkerMetrics> Metrics => _workers.Select(w => w.Metrics);

    internal IReadOnlyList<PipelineWorker> Workers => _workers;

    /// <summary>Starts the workers, each on a thread of its own that its continuations come back to (see <see cref="WorkerThread"/>).</summary>
    /// <param name="ct">Aborts the workers (graceful stop is <see cref="CompleteAsync"/>).</param>
    public void Start(CancellationToken ct = default)
    {
        _running = new Task[_workers.Length];
        for (var i = 0; i < _workers.Length; i++)
        {
            var w = _workers[i];
            _alive[i] = 1;
            _running[i] = WorkerThread.Run($"worker {w.Lane}", () => w.RunAsync(ct));
            _ = _running[i].ContinueWith(t => OnWorkerEnded(w.Lane, t), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Completes the lanes, waits for the workers to drain and flush, then flushes every output (the dead-letter producer
    /// included). Cancelling <paramref name="ct"/> bounds the wait: what is not handed over by then stays uncommitted.
    /// </summary>
    /// <param name="ct">Bounds the wait.</param>
    /// <returns>A task that completes when everything was handed over, or faults when a worker failed.</returns>
    public async Task CompleteAsync(CancellationToken ct = default)
    {
        foreach (var lane in _lanes) lane.Writer.TryComplete();
        try
        {
            await Task.WhenAll(_running).WaitAsync(ct).ConfigureAwait(false);
        }
        catch (Exception) when (_faulted.Task.IsCompleted)
        {
            // Already reported through Faulted; flush what the live workers handed over.
        }

        await FlushOutputsAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Flushes every output and the dead-letter sink, concurrently: when it completes, everything whose
    /// <see cref="IForecastOutput.WriteAsync"/> (or dead-letter hand-over) returned before the call is delivered, or durably
    /// spooled, or recorded as given up. The Kafka consumer's durability barrier; safe while workers write.
    /// </summary>
    /// <param name="ct">Cancels the flush.</param>
    /// <returns>A task that completes when every output is flushed.</returns>
    public Task FlushOutputsAsync(CancellationToken ct = default)
    {
        var flushes = new Task[_outputs.Count + 1];
        for (var i = 0; i < _outputs.Count; i++) flushes[i] = _outputs[i].FlushAsync(ct).AsTask();
        flushes[^1] = _deadLetters.FlushAsync(ct).AsTask();
        return Task.WhenAll(flushes);
    }

    /// <summary>A task that faults if any worker fails.</summary>
    public Task Completion => Task.WhenAll(_running);

    /// <summary>Completes with the first worker failure (never completes while every worker is healthy).</summary>
    public Task<WorkerFailure> Faulted => _faulted.Task;

    /// <summary>True while every started worker is running (false after one failed or all finished).</summary>
    public bool WorkersAlive
    {
        get
        {
            if (_running.Length == 0) return false;
            for (var i = 0; i < _alive.Length; i++)
            {
                if (Volatile.Read(ref _alive[i]) == 0) return false;
            }

            return true;
        }
    }

    private void OnWorkerEnded(int lane, Task task)
    {
        Volatile.Write(ref _alive[lane], 0);
        if (!task.IsFaulted) return;
        var ex = task.Exception!.GetBaseException();
        // Close the lane so the consumer's hand-overs fail at once instead of waiting on a worker that will never read.
        _lanes[lane].Writer.TryComplete(ex);
        while (_mailboxes[lane].TryTake(out var mail))
        {
            mail.Done?.TrySetException(ex);
            mail.Release();
        }

        while (_lanes[lane].Reader.TryRead(out var chunk))
        {
            // Control chunks still queued are answered, so nobody waits for them; their partitions stay uncommitted.
            chunk.Done?.TrySetException(ex);
            chunk.Release();
        }

        LogWorkerFailed(_logger, ex, lane, ex.GetType().Name, ex.Message);
        _faulted.TrySetResult(new WorkerFailure(lane, ex));
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "Worker {Lane} failed ({Type}: {Message}); the service stops. Its partitions stay at the last committed offset and are read again on restart.")]
    private static partial void LogWorkerFailed(ILogger logger, Exception ex, int lane, string type, string message);

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
            t.Restored += Volatile.Read(ref m.Restored);
            t.Evicted += Volatile.Read(ref m.Evicted);
        }

        t.Undelivered = Failures.Count;
        return t;
    }
}

/// <summary>A worker's failure: the lane and what escaped it.</summary>
/// <param name="Lane">The worker's lane.</param>
/// <param name="Exception">What it threw.</param>
public sealed record WorkerFailure(int Lane, Exception Exception);

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

    /// <summary>Keys restored from the state store.</summary>
    public long Restored { get; set; }

    /// <summary>Keys hibernated (evicted from memory, state in the store).</summary>
    public long Evicted { get; set; }

    /// <summary>Deliveries given up by an output (their partitions' offsets are held back until a restart).</summary>
    public long Undelivered { get; set; }
}
