using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Training;
using StreamLstm.Streaming.Online.FineTuning;
using StreamLstm.Streaming.Online.Gate;
using StreamLstm.Streaming.Online.Replay;
using StreamLstm.Streaming.Online.Scheduling;
using StreamLstm.Streaming.Online.Triggers;
using StreamLstm.Streaming.Registry;

namespace StreamLstm.Streaming.Online;

/// <summary>
/// The trainer: a hosted service that fine-tunes each kind's serving model off the hot path, on its own thread at a lowered
/// scheduling priority (<see cref="OnlineOptions.TrainerPriority"/>, Linux <c>SCHED_IDLE</c> by default) using at most
/// <see cref="OnlineOptions.MaxCores"/> threads (or the GPU), its CPU time capped (<see cref="OnlineOptions.MaxCpuShare"/>). Requests come from the Rx
/// triggers (<see cref="RetrainTriggers"/>) and by hand (<see cref="RequestRetrain"/>: the CLI and the web endpoint);
/// at most one per kind waits at a time. Each fine-tune goes through the champion/challenger gate; a promoted candidate
/// is registered (when <see cref="OnlineOptions.RegistryDirectory"/> is set) and published to the workers, which swap to
/// it between micro-batches. The replay buffers are loaded from and saved to <see cref="OnlineOptions.ReplayPath"/>.
/// </summary>
public sealed partial class OnlineTrainerService : BackgroundService
{
    private readonly OnlineLearning _online;
    private readonly OnlineOptions _o;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IScheduler _scheduler;
    private readonly Subject<RetrainRequest> _manual = new();
    private readonly BlockingCollection<RetrainRequest> _queue = new();
    private readonly ConcurrentDictionary<SourceKind, int> _waiting = new();
    private readonly ConcurrentDictionary<SourceKind, OnlineCounters> _counters = new();
    private readonly Dictionary<SourceKind, AdamState> _adam = [];
    private readonly List<IDisposable> _subscriptions = [];
    private readonly ConcurrentDictionary<SourceKind, ReplaySample> _samples = new();
    private readonly TrainerThreads _threads;
    private readonly double _cores;
    private long _cpuTicks;
    private int _fits;

    /// <summary>Creates the service.</summary>
    /// <param name="online">Online learning state (replay buffers, serving models).</param>
    /// <param name="time">Clock.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="scheduler">Scheduler of the triggers (default: the task pool).</param>
    public OnlineTrainerService(OnlineLearning online, TimeProvider time, ILogger<OnlineTrainerService> logger, IScheduler? scheduler = null)
    {
        ArgumentNullException.ThrowIfNull(online);
        _online = online;
        _o = online.Options;
        _time = time;
        _logger = logger;
        _scheduler = scheduler ?? TaskPoolScheduler.Default;
        foreach (var k in online.Kinds) _counters[k.Kind] = new OnlineCounters();
        _threads = new TrainerThreads(_o.MaxCores, _o.TrainerPriority);
        _cores = _o.TrainerCores(Environment.ProcessorCount);
    }

    /// <summary>The trainer's threads (its own fine-tuning thread, <see cref="OnlineOptions.MaxCores"/> − 1 helpers), all at the lowered priority.</summary>
    public TrainerThreads Threads => _threads;

    /// <summary>What the trainer thread's priority became (null until the thread has started).</summary>
    public AppliedPriority? AppliedPriority { get; private set; }

    /// <summary>CPU time fine-tunes have used so far, on every trainer thread (updated at the end of each fine-tune).</summary>
    public TimeSpan CpuTime => TimeSpan.FromTicks(Interlocked.Read(ref _cpuTicks));

    /// <summary>Cores' worth of CPU time the trainer may use (<see cref="OnlineOptions.MaxCpuShare"/> or <see cref="OnlineOptions.DutyCycle"/>).</summary>
    public double CoresAllowed => _cores;

    /// <summary>Counters of <paramref name="kind"/> (null when it is not served).</summary>
    /// <param name="kind">Kind.</param>
    /// <returns>The counters.</returns>
    public OnlineCounters? Counters(SourceKind kind) => _counters.GetValueOrDefault(kind);

    /// <summary>Asks for a fine-tune of <paramref name="kind"/> now (manual trigger).</summary>
    /// <param name="kind">Kind.</param>
    /// <returns>False when the kind is not served.</returns>
    public bool RequestRetrain(SourceKind kind)
    {
        if (_online.For(kind) is null) return false;
        _manual.OnNext(new RetrainRequest(kind, TriggerReason.Manual, _time.GetUtcNow()));
        return true;
    }

    /// <inheritdoc />
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the host goes on (ExecuteAsync runs in the background): the history is back and the triggers listen.
        LoadReplay();
        _subscriptions.AddRange(_online.Kinds.Select(k => RetrainTriggers
            .Create(k.Kind, k.Replay.TakeStats, TimeSpan.FromSeconds(1), _o, _manual, _scheduler)
            .Subscribe(Enqueue)));
        return base.StartAsync(cancellationToken);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the hot path: one dedicated thread at the lowered priority runs the fine-tunes, one at a time.
        var thread = _threads.Start(applied =>
        {
            AppliedPriority = applied;
            LogTrainerThread(_logger, applied.ToString(), _cores, Environment.ProcessorCount, ThreadCpuClock.IsThreadCpuTime ? "thread CPU time" : "wall time");
            Loop(stoppingToken);
        });
        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        finally
        {
            foreach (var s in _subscriptions) s.Dispose();
            _subscriptions.Clear();
            _queue.CompleteAdding();
            thread.Join(TimeSpan.FromSeconds(30));
            SaveReplay();
        }
    }

    private void Enqueue(RetrainRequest request)
    {
        // One waiting request per kind is enough: later ones would train on the same history.
        if (_waiting.AddOrUpdate(request.Kind, 1, (_, n) => n + 1) > 1)
        {
            _waiting.AddOrUpdate(request.Kind, 0, (_, n) => n - 1);
            return;
        }

        if (!_queue.IsAddingCompleted) _queue.Add(request);
    }

    private void Loop(CancellationToken ct)
    {
        try
        {
            foreach (var request in _queue.GetConsumingEnumerable(ct))
            {
                _waiting.AddOrUpdate(request.Kind, 0, (_, n) => n - 1);
                try
                {
                    RetrainNow(request.Kind, request.Reason, ct);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A failed fine-tune leaves the serving model as it is; the next trigger tries again.
                    LogFineTuneFailed(_logger, ex, request.Kind.ToWireName(), ex.Message);
                    _counters[request.Kind].Failed++;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>
    /// Fine-tunes <paramref name="kind"/> now on this thread: sample, fine-tune, gate, register, publish. The CPU-share cap
    /// counts this thread's CPU time (and the helpers'); the priority is the calling thread's own (the service's loop runs on
    /// a lowered <see cref="Threads"/> thread; call it from one of those to get the same).
    /// </summary>
    /// <param name="kind">Kind.</param>
    /// <param name="reason">Why (logged).</param>
    /// <param name="ct">Stops between optimizer steps.</param>
    /// <returns>The verdict, or null when there was too little history to fine-tune.</returns>
    public GateVerdict? RetrainNow(SourceKind kind, TriggerReason reason, CancellationToken ct = default)
    {
        var state = _online.For(kind) ?? throw new ArgumentException($"{kind.ToWireName()} is not served.", nameof(kind));
        var counters = _counters[kind];
        var cpuStart = ThreadCpuClock.Current();
        var helpersStart = _threads.HelperCpuTime;
        try
        {
            return Retrain(state, kind, reason, counters, ct);
        }
        finally
        {
            Interlocked.Add(ref _cpuTicks, (ThreadCpuClock.Current() - cpuStart + _threads.HelperCpuTime - helpersStart).Ticks);
        }
    }

    private GateVerdict? Retrain(OnlineKind state, SourceKind kind, TriggerReason reason, OnlineCounters counters, CancellationToken ct)
    {
        // Counted from here: copying the sample is trainer CPU too. One limiter per fine-tune, on the calling thread's clock.
        var limiter = _cores < _o.MaxCores ? new CpuShareLimiter(_cores, () => ThreadCpuClock.Current() + _threads.HelperCpuTime, _time) : null;
        // The previous sample's arrays are refilled: no megabytes of large-object garbage per fine-tune.
        var sample = state.Replay.Sample(_o.WindowLength, _o.HoldoutKeys, reuse: _samples.GetValueOrDefault(kind));
        _samples[kind] = sample;
        limiter?.Throttle(ct);
        if (sample.Train.Count < _o.MinWindows || sample.Holdout.Count == 0)
        {
            counters.Skipped++;
            LogSkipped(_logger, kind.ToWireName(), reason, sample.Train.Count, sample.Holdout.Count);
            return null;
        }

        var serving = state.Serving;
        var started = Stopwatch.GetTimestamp();
        var result = FineTuner.Run(serving, sample, _adam.GetValueOrDefault(kind), _o, _o.Seed + Interlocked.Increment(ref _fits), ct, limiter, _threads.Scheduler);
        _adam[kind] = result.Adam;
        counters.FineTunes++;
        var verdict = ChampionChallengerGate.Decide(result.Champion, result.Score, _o.GateMargin, _o.RmseTolerance);
        LogFineTuned(_logger, kind.ToWireName(), reason, verdict, result.Champion.Nll, result.Score.Nll, result.Champion.Rmse, result.Score.Rmse,
            result.Steps, result.Epochs, result.Device, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        counters.Count(verdict);
        if (verdict != GateVerdict.Promoted) return verdict;

        var candidate = result.Candidate;
        var now = _time.GetUtcNow();
        candidate.Metadata = candidate.Metadata with
        {
            Version = $"{kind.ToWireName()}-ft{now:yyyyMMdd'T'HHmmssfff'Z'}",
            Kind = kind.ToWireName(),
            ParentVersion = serving.Metadata.Version,
            TrainedFrom = $"replay-seq:{sample.FromSeq}",
            TrainedTo = $"replay-seq:{sample.ToSeq}",
            CreatedAt = now,
            Metrics = new Dictionary<string, double>
            {
                ["holdout_nll"] = result.Score.Nll, ["holdout_rmse"] = result.Score.Rmse,
                ["parent_holdout_nll"] = result.Champion.Nll, ["parent_holdout_rmse"] = result.Champion.Rmse,
            },
        };
        Register(candidate, kind);
        state.Publish(candidate);
        counters.LastPromoted = candidate.Metadata.Version;
        LogPromoted(_logger, kind.ToWireName(), candidate.Metadata.Version, serving.Metadata.Version);
        SaveReplay();
        return verdict;
    }

    // An immutable registry version with its parent, data range and metrics; the registry then serves it on restart.
    private void Register(Model.Lstm.LstmModel candidate, SourceKind kind)
    {
        if (string.IsNullOrWhiteSpace(_o.RegistryDirectory)) return;
        try
        {
            var registry = new ModelRegistry(_o.RegistryDirectory, _time);
            var parent = candidate.Metadata.ParentVersion;
            var hasParent = ParentExists(registry, parent);
            var version = registry.Save(candidate, kind.ToWireName(), candidate.Metadata.Version, hasParent ? parent : "");
            registry.Promote(version);
        }
        catch (Exception ex) when (ex is RegistryException or IOException or UnauthorizedAccessException)
        {
            LogRegisterFailed(_logger, ex, kind.ToWireName(), ex.Message);
        }
    }

    private static bool ParentExists(ModelRegistry registry, string parent)
    {
        try
        {
            return parent.Length > 0 && File.Exists(registry.PathOf(parent));
        }
        catch (RegistryException)
        {
            // Not a registry name (a model loaded from a plain file): registered without a parent link.
            return false;
        }
    }

    private void LoadReplay()
    {
        foreach (var k in _online.Kinds)
        {
            var path = ReplayFile(k.Kind);
            if (path is null) continue;
            try
            {
                if (k.Replay.TryLoadFile(path)) LogReplayLoaded(_logger, k.Kind.ToWireName(), k.Replay.KeyCount, path);
            }
            catch (Exception ex) when (ex is IOException or EndOfStreamException or UnauthorizedAccessException)
            {
                LogReplayUnreadable(_logger, ex, path, ex.Message);
            }
        }
    }

    private void SaveReplay()
    {
        foreach (var k in _online.Kinds)
        {
            var path = ReplayFile(k.Kind);
            if (path is null) continue;
            try
            {
                k.Replay.SaveFile(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogReplayUnreadable(_logger, ex, path, ex.Message);
            }
        }
    }

    private string? ReplayFile(SourceKind kind) => string.IsNullOrWhiteSpace(_o.ReplayPath) ? null : Path.Combine(_o.ReplayPath, $"replay-{kind.ToWireName()}.bin");

    /// <inheritdoc />
    public override void Dispose()
    {
        _manual.Dispose();
        _queue.Dispose();
        _threads.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Online {Kind}: fine-tune ({Reason}) {Verdict}: held-out NLL {ChampionNll:F4} -> {CandidateNll:F4}, RMSE {ChampionRmse:F4} -> {CandidateRmse:F4}; {Steps} steps, {Epochs} epochs on {Device} in {Ms:F0} ms")]
    private static partial void LogFineTuned(ILogger logger, string kind, TriggerReason reason, GateVerdict verdict, double championNll, double candidateNll,
        double championRmse, double candidateRmse, int steps, int epochs, string device, double ms);

    [LoggerMessage(Level = LogLevel.Information, Message = "Online trainer thread: priority {Priority}; CPU cap {Cores:F2} cores of {ProcessorCount} (counted in {Clock})")]
    private static partial void LogTrainerThread(ILogger logger, string priority, double cores, int processorCount, string clock);

    [LoggerMessage(Level = LogLevel.Information, Message = "Online {Kind}: promoted {Version} (parent {Parent}); workers swap to it before their next micro-batch")]
    private static partial void LogPromoted(ILogger logger, string kind, string version, string parent);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Online {Kind}: fine-tune ({Reason}) skipped: {Train} training and {Holdout} held-out windows in the replay buffer")]
    private static partial void LogSkipped(ILogger logger, string kind, TriggerReason reason, int train, int holdout);

    [LoggerMessage(Level = LogLevel.Error, Message = "Online {Kind}: fine-tune failed ({Message}); the serving model stays")]
    private static partial void LogFineTuneFailed(ILogger logger, Exception ex, string kind, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Online {Kind}: the promoted model could not be registered ({Message}); it serves until restart")]
    private static partial void LogRegisterFailed(ILogger logger, Exception ex, string kind, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Online {Kind}: replay buffer loaded ({Keys} keys) from {Path}")]
    private static partial void LogReplayLoaded(ILogger logger, string kind, int keys, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Online: replay file {Path} could not be used ({Message}); the history starts empty")]
    private static partial void LogReplayUnreadable(ILogger logger, Exception ex, string path, string message);
}

/// <summary>A kind's trainer counters (fine-tunes, promotions, rejections by reason).</summary>
public sealed class OnlineCounters
{
    private readonly long[] _verdicts = new long[Enum.GetValues<GateVerdict>().Length];

    /// <summary>Fine-tunes run.</summary>
    public long FineTunes { get; internal set; }

    /// <summary>Requests skipped for too little history.</summary>
    public long Skipped { get; internal set; }

    /// <summary>Fine-tunes that threw.</summary>
    public long Failed { get; internal set; }

    /// <summary>Latest promoted version (null: none yet).</summary>
    public string? LastPromoted { get; internal set; }

    /// <summary>Fine-tunes that ended with <paramref name="verdict"/>.</summary>
    /// <param name="verdict">Verdict.</param>
    /// <returns>The count.</returns>
    public long Verdicts(GateVerdict verdict) => Interlocked.Read(ref _verdicts[(int)verdict]);

    internal void Count(GateVerdict verdict) => Interlocked.Increment(ref _verdicts[(int)verdict]);
}
