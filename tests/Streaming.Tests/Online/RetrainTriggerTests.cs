using System.Reactive.Concurrency;
using System.Reactive.Subjects;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Online.Triggers;

namespace StreamLstm.Streaming.Tests.Online;

// Virtual time: System.Reactive's own HistoricalScheduler (Microsoft.Reactive.Testing 3.1.1, the only version on the
// mirror, is built against System.Reactive 3.x and clashes with 6.0.1).
public class RetrainTriggerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private sealed class Stats
    {
        public long Events { get; set; }

        public double Nll { get; set; } = 1.0;

        public (long, double) Poll() => (Events, Nll);
    }

    private static (HistoricalScheduler Scheduler, List<RetrainRequest> Fired, Subject<RetrainRequest> Manual) Start(OnlineOptions o, Stats stats)
    {
        var scheduler = new HistoricalScheduler(T0);
        var manual = new Subject<RetrainRequest>();
        var fired = new List<RetrainRequest>();
        RetrainTriggers.Create(SourceKind.Tick, stats.Poll, TimeSpan.FromSeconds(1), o, manual, scheduler).Subscribe(fired.Add);
        return (scheduler, fired, manual);
    }

    [Fact]
    public void EveryNEvents_FiresEachTimeTheCountCrossesAMultiple()
    {
        var stats = new Stats { Events = 300 };
        var (scheduler, fired, _) = Start(new OnlineOptions { EveryEvents = 1000, EveryInterval = TimeSpan.Zero, DriftLambda = 0, MinGap = TimeSpan.Zero }, stats);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(10));
        // 300 per second: 1000 at 4 s, 2000 at 7 s, 3000 at 10 s.
        Assert.Equal([4, 7, 10], fired.Select(f => (int)(f.At - T0).TotalSeconds));
        Assert.All(fired, f => Assert.Equal(TriggerReason.Events, f.Reason));
    }

    [Fact]
    public void EveryInterval_Fires_OnTheClock_AndMinGapDropsTheTriggersInBetween()
    {
        var stats = new Stats { Events = 600 };
        var (scheduler, fired, _) = Start(new OnlineOptions { EveryEvents = 1000, EveryInterval = TimeSpan.FromMinutes(1), DriftLambda = 0, MinGap = TimeSpan.FromSeconds(30) }, stats);
        scheduler.AdvanceBy(TimeSpan.FromMinutes(2));
        // Event triggers come every second or two; with a 30 s gap only one per 30 s passes (2, 32, 62, 92 s): the interval ones at 60 and 120 s fall inside gaps.
        var times = fired.Select(f => (f.At - T0).TotalSeconds).ToList();
        Assert.All(times.Zip(times.Skip(1)), p => Assert.True(p.Second - p.First >= 30, $"{p.First} then {p.Second}"));
        Assert.Equal(4, fired.Count);
    }

    [Fact]
    public void Drift_FiresWhenTheNllRises_AndNotWhileItIsSteady()
    {
        var stats = new Stats { Events = 100, Nll = 1.0 };
        var (scheduler, fired, _) = Start(new OnlineOptions { EveryEvents = 0, EveryInterval = TimeSpan.Zero, DriftDelta = 0.05, DriftLambda = 5, MinGap = TimeSpan.Zero }, stats);
        scheduler.AdvanceBy(TimeSpan.FromMinutes(5));
        Assert.Empty(fired);
        stats.Nll = 3.0;
        scheduler.AdvanceBy(TimeSpan.FromSeconds(10));
        var drift = Assert.Single(fired);
        Assert.Equal(TriggerReason.Drift, drift.Reason);
    }

    [Fact]
    public void Manual_PassesAtOnce_ForItsKindOnly_EvenInsideTheGap()
    {
        var stats = new Stats();
        var (scheduler, fired, manual) = Start(new OnlineOptions { EveryEvents = 0, EveryInterval = TimeSpan.FromSeconds(10), DriftLambda = 0, MinGap = TimeSpan.FromHours(1) }, stats);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(10));
        manual.OnNext(new RetrainRequest(SourceKind.Vitals, TriggerReason.Manual, scheduler.Now));
        manual.OnNext(new RetrainRequest(SourceKind.Tick, TriggerReason.Manual, scheduler.Now));
        scheduler.AdvanceBy(TimeSpan.FromSeconds(30));
        Assert.Equal([TriggerReason.Interval, TriggerReason.Manual], fired.Select(f => f.Reason));
    }

    [Fact]
    public void PageHinkley_IgnoresNoise_AndCatchesAShift()
    {
        var ph = new PageHinkley(0.05, 10);
        var rng = new Random(3);
        for (var i = 0; i < 2000; i++) Assert.False(ph.Add(1 + (rng.NextDouble() - 0.5) * 0.2), $"steady step {i}");
        var at = Enumerable.Range(0, 200).First(_ => ph.Add(2 + (rng.NextDouble() - 0.5) * 0.2));
        Assert.InRange(at, 1, 20);
    }
}
