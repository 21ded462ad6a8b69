using System.Reactive.Concurrency;
using System.Reactive.Linq;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Web.Tests.Live;

/// <summary>The status feed's rate derivation on virtual time.</summary>
public sealed class StatusFeedTests
{
    [Fact]
    public void Rates_come_from_consecutive_readings_over_the_scheduler_clock()
    {
        var scheduler = new HistoricalScheduler(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var samples = new List<StatusSample>();
        // 1 000 events and 600 tick forecasts per virtual second, read every 2 s.
        var readings = Observable.Interval(TimeSpan.FromSeconds(2), scheduler).Select(i => Reading(scheduler.Now, (i + 1) * 2000, (i + 1) * 1200));
        using var _ = StatusFeed.Derive(readings).Subscribe(samples.Add);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(6));
        Assert.Equal(3, samples.Count);
        Assert.Equal(0, samples[0].EventsPerSecond);
        Assert.Equal(1000, samples[1].EventsPerSecond, 6);
        Assert.Equal(1000, samples[2].EventsPerSecond, 6);
        Assert.Equal(600, samples[2].Kinds.Single().ForecastsPerSecond, 6);
        Assert.Equal(scheduler.Now, samples[2].At);
    }

    private static StatusReading Reading(DateTimeOffset at, long events, long tickForecasts)
    {
        var totals = new PipelineTotals { Events = events, Forecasts = tickForecasts };
        var sample = new StatusSample(totals, 0, 0, 0, 0, 0, []) { At = at, Kinds = [new KindStatus(SourceKind.Tick, tickForecasts, 0, 0, 0, 0, "m")] };
        return new StatusReading(at, totals, [tickForecasts, 0, 0], sample);
    }
}
