using System.Diagnostics;
using System.Reactive.Concurrency;
using System.Reactive.Linq;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Hosting;

/// <summary>One source kind's figures in a status sample.</summary>
/// <param name="Kind">Kind.</param>
/// <param name="Forecasts">Forecasts of this kind since start.</param>
/// <param name="ForecastsPerSecond">Forecasts/s since the previous sample (every good event of the kind gives one).</param>
/// <param name="Lag">Consumer lag over the kind's partitions (messages).</param>
/// <param name="P50Micros">Median event→forecast latency (µs) over the recent window.</param>
/// <param name="P99Micros">99th percentile latency (µs) over the recent window.</param>
/// <param name="ModelVersion">Version of the model that made the latest forecast, if any.</param>
public sealed record KindStatus(SourceKind Kind, long Forecasts, double ForecastsPerSecond, long Lag, double P50Micros, double P99Micros, string? ModelVersion);

/// <summary>One status sample.</summary>
/// <param name="Totals">Counters.</param>
/// <param name="EventsPerSecond">Events/s since the previous sample.</param>
/// <param name="Lag">Consumer lag (messages).</param>
/// <param name="PausedLanes">Lanes paused by backpressure.</param>
/// <param name="P50Micros">Median event→forecast latency (µs) over the recent window (<see cref="LatencyHistogram.DefaultWindow"/>).</param>
/// <param name="P99Micros">99th percentile latency (µs) over the recent window.</param>
/// <param name="Latest">Latest forecast per kind.</param>
public sealed record StatusSample(PipelineTotals Totals, double EventsPerSecond, long Lag, int PausedLanes, double P50Micros, double P99Micros, IReadOnlyList<LatestForecast> Latest)
{
    /// <summary>When the sample was taken (the scheduler's clock).</summary>
    public DateTimeOffset At { get; init; }

    /// <summary>Per source kind: forecasts/s, lag, recent latency quantiles, model version (kinds with a model only).</summary>
    public IReadOnlyList<KindStatus> Kinds { get; init; } = [];

    /// <summary>Median LSTM step time per micro-batch (µs) over the recent window.</summary>
    public double StepP50Micros { get; init; }

    /// <summary>99th percentile LSTM step time per micro-batch (µs) over the recent window.</summary>
    public double StepP99Micros { get; init; }
}

/// <summary>Raw counters read at one instant; <see cref="StatusFeed.Derive"/> turns consecutive readings into samples.</summary>
/// <param name="At">When.</param>
/// <param name="Totals">Pipeline counters.</param>
/// <param name="KindForecasts">Forecasts per kind since start (index <c>(int)SourceKind</c>).</param>
/// <param name="Sample">The sample with everything but the rates filled in.</param>
public sealed record StatusReading(DateTimeOffset At, PipelineTotals Totals, long[] KindForecasts, StatusSample Sample);

/// <summary>
/// The status stream: an Rx timer samples the pipeline's counters (never per event) and derives rates from
/// consecutive samples. Latency quantiles are over the last <see cref="LatencyHistogram.DefaultWindow"/>, so the console
/// line, the dashboard and the recent-window metrics describe now, not the whole run.
/// </summary>
public sealed class StatusFeed(PipelineHostedService service, LatestForecasts latest)
{
    private static readonly SourceKind[] AllKinds = [SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio];

    /// <summary>Samples every <paramref name="period"/> once the pipeline runs.</summary>
    /// <param name="period">Sampling period.</param>
    /// <param name="scheduler">Scheduler (tests can pass a virtual one).</param>
    /// <returns>The stream of samples.</returns>
    public IObservable<StatusSample> Samples(TimeSpan period, IScheduler? scheduler = null)
    {
        var s = scheduler ?? DefaultScheduler.Instance;
        return Observable.FromAsync(() => service.Started)
            .SelectMany(pipeline => Derive(Observable.Interval(period, s).Select(_ => Read(pipeline, s.Now))));
    }

    /// <summary>
    /// Pairs each reading with the previous one and fills in the rates (events/s, forecasts/s per kind) from the
    /// difference over the elapsed time of the readings' own clock; the first reading has rate 0.
    /// </summary>
    /// <param name="readings">Readings in time order.</param>
    /// <returns>Samples.</returns>
    public static IObservable<StatusSample> Derive(IObservable<StatusReading> readings) =>
        readings
            .Scan((Prev: (StatusReading?)null, Cur: (StatusReading?)null), (acc, cur) => (acc.Cur, cur))
            .Select(x => WithRates(x.Prev, x.Cur!));

    /// <summary>The current reading of <paramref name="pipeline"/> (allocates a few small objects; call it on a timer).</summary>
    /// <param name="pipeline">The running pipeline.</param>
    /// <param name="at">Time stamp for the reading.</param>
    /// <returns>The reading.</returns>
    public StatusReading Read(StreamPipeline pipeline, DateTimeOffset at)
    {
        var totals = pipeline.Totals();
        var now = Stopwatch.GetTimestamp();
        var all = new LatencyHistogram();
        var step = new LatencyHistogram();
        var perKind = new[] { new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram() };
        var kindForecasts = new long[3];
        foreach (var m in pipeline.Metrics)
        {
            all.AddRecent(m.Latency, now);
            step.AddRecent(m.StepLatency, now);
            for (var k = 0; k < 3; k++)
            {
                perKind[k].AddRecent(m.KindLatency[k], now);
                kindForecasts[k] += m.KindLatency[k].Count;
            }
        }

        var consumer = service.Consumer;
        var lags = consumer?.PartitionLags ?? [];
        var latestRows = AllKinds.Select(latest.Of).OfType<LatestForecast>().ToList();
        var kinds = new List<KindStatus>(3);
        foreach (var kind in AllKinds)
        {
            var k = (int)kind;
            if (!pipeline.Models.TryGetValue(kind, out var model)) continue;
            long lag = 0;
            foreach (var l in lags)
            {
                if (l.Kind == kind) lag += l.Lag;
            }

            kinds.Add(new KindStatus(kind, kindForecasts[k], 0, lag, perKind[k].Quantile(0.5), perKind[k].Quantile(0.99), latest.Of(kind)?.ModelVersion ?? model.Metadata.Version));
        }

        var sample = new StatusSample(totals, 0, consumer?.Lag ?? 0, consumer?.PausedLanes ?? 0, all.Quantile(0.5), all.Quantile(0.99), latestRows)
        {
            At = at,
            Kinds = kinds,
            StepP50Micros = step.Quantile(0.5),
            StepP99Micros = step.Quantile(0.99),
        };
        return new StatusReading(at, totals, kindForecasts, sample);
    }

    private static StatusSample WithRates(StatusReading? prev, StatusReading cur)
    {
        if (prev is null || cur.At <= prev.At) return cur.Sample;
        var seconds = (cur.At - prev.At).TotalSeconds;
        return cur.Sample with
        {
            EventsPerSecond = (cur.Totals.Events - prev.Totals.Events) / seconds,
            Kinds = [.. cur.Sample.Kinds.Select(k => k with { ForecastsPerSecond = (cur.KindForecasts[(int)k.Kind] - prev.KindForecasts[(int)k.Kind]) / seconds })],
        };
    }
}
