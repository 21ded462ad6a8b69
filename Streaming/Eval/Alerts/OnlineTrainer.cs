using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Online.Gate;
using StreamLstm.Streaming.Online.Scheduling;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Eval.Alerts;

/// <summary>
/// The one place where <c>eval alerts</c> attaches the service's online learning (<see cref="OnlineTrainerService"/>) to
/// its pipeline when <c>Online:Enabled</c> is true: replay buffers fed by the workers, fine-tunes through the same gate,
/// hot swaps between micro-batches, as in <c>run</c>/<c>demo</c>. The one difference: the schedule trigger fires by event
/// count in the evaluation's own loop (<see cref="RetrainAsync"/>), with the input paused, instead of on the service's
/// timer, because an evaluation replays hours of events in seconds and must give the same figures on every run.
/// The fine-tunes run as the service's do: on a dedicated trainer thread started through the service's
/// <see cref="TrainerThreads"/>, lowered to <c>Online:TrainerPriority</c>, with the helpers and the CPU-share cap of
/// <c>Online:MaxCores</c> / <c>Online:MaxCpuShare</c>. Nothing is registered on disk.
/// </summary>
public sealed class OnlineTrainer : IAsyncDisposable
{
    private readonly OnlineTrainerService? _service;
    private readonly BlockingCollection<(SourceKind Kind, TaskCompletionSource Done, CancellationToken Ct)> _requests = [];
    private readonly Thread? _thread;
    private readonly TaskCompletionSource<AppliedPriority> _applied = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private OnlineTrainer(OnlineTrainerService? service)
    {
        _service = service;
        if (service is null) return;
        // The service's own path: a thread of its TrainerThreads, which lowers itself before it runs anything.
        _thread = service.Threads.Start(applied =>
        {
            _applied.TrySetResult(applied);
            Loop(service);
        }, "eval-online-trainer");
    }

    /// <summary>What the trainer thread's priority became, read back from the kernel (null when off, or until the thread has lowered itself).</summary>
    public AppliedPriority? Priority => _applied.Task.IsCompletedSuccessfully ? _applied.Task.Result : null;

    /// <summary>The thread that ran the last fine-tune, as the kernel reports it then (tid, policy, nice); null before the first.</summary>
    public (int ThreadId, int Policy, int Nice)? LastFineTuneThread { get; private set; }

    /// <summary>Whether a trainer is running beside the pipeline.</summary>
    public bool Active => _service is not null;

    /// <summary>Fine-tunes tried and promoted so far, over all kinds (0 when off).</summary>
    public (long Tried, long Promoted) Totals
    {
        get
        {
            if (_service is null) return (0, 0);
            long tried = 0, promoted = 0;
            foreach (var k in Enum.GetValues<SourceKind>())
            {
                if (_service.Counters(k) is not { } c) continue;
                tried += c.FineTunes;
                promoted += c.Verdicts(GateVerdict.Promoted);
            }

            return (tried, promoted);
        }
    }

    /// <summary>Attaches online learning to <paramref name="pipeline"/> and starts the trainer when <paramref name="enabled"/>; call before the pipeline starts.</summary>
    /// <param name="pipeline">The pipeline, not yet started.</param>
    /// <param name="models">The serving models.</param>
    /// <param name="configuration">Configuration (its <c>Online</c> section).</param>
    /// <param name="enabled"><c>Online:Enabled</c>.</param>
    /// <param name="eventsPerKind">Events the evaluation sends per kind: without <c>Online:EveryEvents</c> set, a fine-tune every eighth of them.</param>
    /// <param name="ct">Cancels the start.</param>
    /// <returns>A handle that stops the trainer when disposed.</returns>
    public static async Task<OnlineTrainer> AttachAsync(StreamPipeline pipeline, IReadOnlyDictionary<SourceKind, LstmModel> models, IConfiguration configuration, bool enabled, long eventsPerKind, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!enabled) return new OnlineTrainer(null);
        var options = configuration.GetSection(OnlineOptions.Section).Get<OnlineOptions>() ?? new OnlineOptions();
        options.Enabled = true;
        // The service's default (every 200 K events) would never fire in a short evaluation.
        if (configuration[$"{OnlineOptions.Section}:{nameof(OnlineOptions.EveryEvents)}"] is null) options.EveryEvents = Math.Max(1_000, eventsPerKind / 8);
        options.RegistryDirectory = ""; // an evaluation promotes in memory only
        var online = new OnlineLearning(models, options);
        pipeline.AttachOnline(online);
        await Task.CompletedTask.ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        return new OnlineTrainer(new OnlineTrainerService(online, TimeProvider.System, NullLogger<OnlineTrainerService>.Instance)) { EveryEvents = options.EveryEvents };
    }

    /// <summary>The schedule trigger's period in events (<c>Online:EveryEvents</c>).</summary>
    public long EveryEvents { get; private init; }

    /// <summary>Fine-tunes <paramref name="kind"/> now (the schedule trigger) on the trainer thread; a promoted model is swapped in by the workers before their next micro-batch.</summary>
    /// <param name="kind">Kind.</param>
    /// <param name="ct">Cancels between optimizer steps.</param>
    /// <returns>A task that completes when the fine-tune and gate are done.</returns>
    public Task RetrainAsync(SourceKind kind, CancellationToken ct)
    {
        if (_service is null) return Task.CompletedTask;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests.Add((kind, done, ct), ct);
        return done.Task;
    }

    private void Loop(OnlineTrainerService service)
    {
        foreach (var (kind, done, ct) in _requests.GetConsumingEnumerable())
        {
            try
            {
                ct.ThrowIfCancellationRequested();
                LastFineTuneThread = ThreadScheduling.ReadCurrentThread();
                service.RetrainNow(kind, Online.Triggers.TriggerReason.Events, ct);
                done.TrySetResult();
            }
            catch (OperationCanceledException e)
            {
                done.TrySetCanceled(e.CancellationToken);
            }
            catch (Exception e)
            {
                // The evaluation's loop awaits the fine-tune: the failure surfaces there, not on this thread.
                done.TrySetException(e);
            }
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _requests.CompleteAdding();
        _thread?.Join(TimeSpan.FromSeconds(60));
        _requests.Dispose();
        _service?.Dispose();
        return ValueTask.CompletedTask;
    }
}
