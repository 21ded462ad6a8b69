using System.Reactive.Concurrency;
using System.Reactive.Linq;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Hosting;

/// <summary>One status sample.</summary>
/// <param name="Totals">Counters.</param>
/// <param name="EventsPerSecond">Events/s since the previous sample.</param>
/// <param name="Lag">Consumer lag (messages).</param>
/// <param name="PausedLanes">Lanes paused by backpressure.</param>
/// <param name="P50Micros">Median event→forecast latency (µs) since start.</param>
/// <param name="P99Micros">99th percentile latency (µs) since start.</param>
/// <param name="Latest">Latest forecast per kind.</param>
public sealed record StatusSample(PipelineTotals Totals, double EventsPerSecond, long Lag, int PausedLanes, double P50Micros, double P99Micros, IReadOnlyList<LatestForecast> Latest);

/// <summary>
/// The status stream: an Rx timer samples the pipeline's counters (never per event) and derives rates from
/// consecutive samples.
/// </summary>
public sealed class StatusFeed(PipelineHostedService service, LatestForecasts latest)
{
    /// <summary>Samples every <paramref name="period"/> once the pipeline runs.</summary>
    /// <param name="period">Sampling period.</param>
    /// <param name="scheduler">Scheduler (tests can pass a virtual one).</param>
    /// <returns>The stream of samples.</returns>
    public IObservable<StatusSample> Samples(TimeSpan period, IScheduler? scheduler = null) =>
        Observable.FromAsync(() => service.Started)
            .SelectMany(pipeline => Observable.Interval(period, scheduler ?? DefaultScheduler.Instance)
                .Select(_ => (Pipeline: pipeline, Totals: pipeline.Totals(), At: DateTime.UtcNow))
                .Scan((Prev: default((PipelineTotals Totals, DateTime At)?), Cur: default((StreamPipeline Pipeline, PipelineTotals Totals, DateTime At))),
                    (acc, cur) => (acc.Cur.Totals is null ? null : (acc.Cur.Totals, acc.Cur.At), cur))
                .Select(x => ToSample(x.Prev, x.Cur.Pipeline, x.Cur.Totals, x.Cur.At)));

    private StatusSample ToSample((PipelineTotals Totals, DateTime At)? prev, StreamPipeline pipeline, PipelineTotals totals, DateTime at)
    {
        var rate = prev is { } p && at > p.At ? (totals.Events - p.Totals.Events) / (at - p.At).TotalSeconds : 0;
        var hist = new LatencyHistogram();
        foreach (var m in pipeline.Metrics) hist.Add(m.Latency);
        var latestRows = new[] { SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio }.Select(latest.Of).OfType<LatestForecast>().ToList();
        var consumer = service.Consumer;
        return new StatusSample(totals, rate, consumer?.Lag ?? 0, consumer?.PausedLanes ?? 0, hist.Quantile(0.5), hist.Quantile(0.99), latestRows);
    }
}
