using System.Reactive.Concurrency;
using System.Reactive.Linq;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;

namespace StreamLstm.Streaming.Web.Live;

/// <summary>The Rx compositions behind the dashboard's push streams (pure operators, tested with virtual time).</summary>
public static class LiveStreams
{
    /// <summary>
    /// Per-key sampling: at most one point per <paramref name="period"/> (the latest of the period), so a key at 100 events/s
    /// and one at 1 event/s both cost a browser at most 1/period messages/s. A quiet key's points pass as they come.
    /// </summary>
    /// <param name="points">One key's points.</param>
    /// <param name="period">Sampling period.</param>
    /// <param name="scheduler">Scheduler.</param>
    /// <returns>The sampled stream.</returns>
    public static IObservable<KeyPoint> SamplePerKey(IObservable<KeyPoint> points, TimeSpan period, IScheduler scheduler) =>
        points.Sample(period, scheduler);

    /// <summary>
    /// Alert events in small batches: whatever arrived within <paramref name="window"/> (at most <paramref name="max"/>),
    /// empty windows skipped, so an alert storm becomes a few messages instead of thousands.
    /// </summary>
    /// <param name="alerts">Alert events.</param>
    /// <param name="window">Batching window.</param>
    /// <param name="max">Most events per batch.</param>
    /// <param name="scheduler">Scheduler.</param>
    /// <returns>Non-empty batches in arrival order.</returns>
    public static IObservable<IList<AlertEvent>> Batched(IObservable<AlertEvent> alerts, TimeSpan window, int max, IScheduler scheduler) =>
        alerts.Buffer(window, max, scheduler).Where(b => b.Count > 0);
}
