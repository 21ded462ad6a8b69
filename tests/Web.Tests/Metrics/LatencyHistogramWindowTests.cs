using System.Diagnostics;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Web.Tests.Metrics;

/// <summary>The recent window of <see cref="LatencyHistogram"/>: old seconds drop out, the since-start counts keep them.</summary>
public sealed class LatencyHistogramWindowTests
{
    private static readonly long Second = Stopwatch.Frequency;

    [Fact]
    public void Recent_window_holds_only_the_last_seconds_while_cumulative_holds_all()
    {
        var h = new LatencyHistogram();
        var t0 = 1000 * Second;
        for (var i = 0; i < 100; i++) h.RecordMicros(50_000, t0); // 50 ms, 20 s ago
        for (var i = 0; i < 100; i++) h.RecordMicros(1_000, t0 + 20 * Second); // 1 ms, now
        var recent = new LatencyHistogram();
        recent.AddRecent(h, t0 + 20 * Second);
        Assert.Equal(100, recent.Count);
        Assert.InRange(recent.Quantile(0.99), 1_000, 1_125);
        Assert.Equal(200, h.Count);
        Assert.InRange(h.Quantile(0.99), 50_000, 56_250);
    }

    [Fact]
    public void Window_boundary_is_whole_seconds()
    {
        var h = new LatencyHistogram();
        var t0 = 5000 * Second;
        for (var s = 0; s < 15; s++) h.RecordMicros(100 * (s + 1), t0 + s * Second);
        var recent = new LatencyHistogram();
        recent.AddRecent(h, t0 + 14 * Second, TimeSpan.FromSeconds(10));
        Assert.Equal(10, recent.Count); // seconds 5..14
        var ring = new LatencyHistogram();
        ring.AddRecent(h, t0 + 40 * Second, TimeSpan.FromSeconds(10));
        Assert.Equal(0, ring.Count); // all older than the window
    }

    [Fact]
    public void Recycled_slot_forgets_the_second_it_held()
    {
        var h = new LatencyHistogram();
        var t0 = 7000 * Second;
        h.RecordMicros(10, t0);
        h.RecordMicros(10, t0 + LatencyHistogram.RingSeconds * Second); // same slot, 16 s later
        var recent = new LatencyHistogram();
        recent.AddRecent(h, t0 + LatencyHistogram.RingSeconds * Second);
        Assert.Equal(1, recent.Count);
    }
}
