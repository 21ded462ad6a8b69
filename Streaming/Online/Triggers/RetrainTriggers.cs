using System.Reactive.Concurrency;
using System.Reactive.Linq;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Online.Triggers;

/// <summary>Why a fine-tune was asked for.</summary>
public enum TriggerReason
{
    /// <summary>Every N events of the kind.</summary>
    Events,

    /// <summary>Every N minutes.</summary>
    Interval,

    /// <summary>Page-Hinkley saw the kind's NLL drift upwards.</summary>
    Drift,

    /// <summary>Asked for by hand (CLI or HTTP).</summary>
    Manual,
}

/// <summary>A request to fine-tune one kind's model.</summary>
/// <param name="Kind">Kind.</param>
/// <param name="Reason">Why.</param>
/// <param name="At">When (the scheduler's clock).</param>
public sealed record RetrainRequest(SourceKind Kind, TriggerReason Reason, DateTimeOffset At);

/// <summary>
/// Composes a kind's fine-tune triggers with System.Reactive: the replay buffer's statistics are polled on
/// the given scheduler; every <c>EveryEvents</c> events, every <c>EveryInterval</c>, and Page-Hinkley drift on
/// the mean NLL each give a request; automatic requests closer than <c>MinGap</c> to the previous one are dropped;
/// manual requests always pass. Everything runs on the scheduler, so tests drive it with virtual time.
/// </summary>
public static class RetrainTriggers
{
    /// <summary>The kind's merged trigger stream.</summary>
    /// <param name="kind">Kind.</param>
    /// <param name="poll">Events fed and mean NLL since the previous poll (<see cref="Replay.ReplayBuffer.TakeStats"/>).</param>
    /// <param name="pollEvery">Polling period.</param>
    /// <param name="options">Settings.</param>
    /// <param name="manual">Manual requests (all kinds; filtered to <paramref name="kind"/>).</param>
    /// <param name="scheduler">Scheduler (virtual time in tests).</param>
    /// <returns>The requests.</returns>
    public static IObservable<RetrainRequest> Create(SourceKind kind, Func<(long Events, double MeanNll)> poll, TimeSpan pollEvery, OnlineOptions options,
        IObservable<RetrainRequest> manual, IScheduler scheduler)
    {
        ArgumentNullException.ThrowIfNull(poll);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(manual);
        ArgumentNullException.ThrowIfNull(scheduler);
        return Observable.Defer(() =>
        {
            var stats = Observable.Interval(pollEvery, scheduler).Select(_ => poll()).Publish().RefCount();
            var automatic = new List<IObservable<RetrainRequest>>();
            if (options.EveryEvents > 0)
            {
                // Events accumulate across polls; each time the total crosses a multiple of N one request goes out.
                automatic.Add(stats.Scan((Total: 0L, Fire: false), (s, p) =>
                    {
                        var total = s.Total + p.Events;
                        return (total, total / options.EveryEvents > s.Total / options.EveryEvents);
                    })
                    .Where(s => s.Fire)
                    .Select(_ => new RetrainRequest(kind, TriggerReason.Events, scheduler.Now)));
            }

            if (options.EveryInterval > TimeSpan.Zero)
            {
                automatic.Add(Observable.Interval(options.EveryInterval, scheduler).Select(_ => new RetrainRequest(kind, TriggerReason.Interval, scheduler.Now)));
            }

            if (options.DriftLambda > 0)
            {
                var detector = new PageHinkley(options.DriftDelta, options.DriftLambda);
                automatic.Add(stats.Where(p => p.Events > 0 && detector.Add(p.MeanNll)).Select(_ => new RetrainRequest(kind, TriggerReason.Drift, scheduler.Now)));
            }

            var last = DateTimeOffset.MinValue;
            var gated = automatic.Merge().Where(r =>
            {
                // Automatic triggers closer together than MinGap are one fine-tune's worth.
                if (last != DateTimeOffset.MinValue && r.At - last < options.MinGap) return false;
                last = r.At;
                return true;
            });
            return gated.Merge(manual.Where(r => r.Kind == kind));
        });
    }
}
