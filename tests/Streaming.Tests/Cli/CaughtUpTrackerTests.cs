using Microsoft.Extensions.Time.Testing;
using StreamLstm.Streaming.Hosting;

namespace StreamLstm.Streaming.Tests.Cli;

/// <summary>When <c>run --until-caught-up</c> may stop: an assignment, every partition known and at zero lag, for the window.</summary>
public class CaughtUpTrackerTests
{
    private static PartitionProgress P(int partition, long lag) => new("ticks", partition, lag);

    [Fact]
    public void NoAssignment_OrUnknownPartitions_NeverCount()
    {
        var time = new FakeTimeProvider();
        var tracker = new CaughtUpTracker(time, TimeSpan.FromSeconds(3));
        Assert.False(tracker.Observe(0, []));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(tracker.Observe(0, []));
        Assert.Contains("assignment", tracker.Status, StringComparison.Ordinal);
        // Two partitions assigned, the end offset of one not known yet: not caught up however long it lasts.
        Assert.False(tracker.Observe(2, [P(0, 0)]));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(tracker.Observe(2, [P(0, 0)]));
        Assert.False(tracker.Observe(2, null));
    }

    [Fact]
    public void ZeroLag_MustLastTheWholeWindow_AndAnyLagRestartsIt()
    {
        var time = new FakeTimeProvider();
        var tracker = new CaughtUpTracker(time, TimeSpan.FromSeconds(3));
        Assert.False(tracker.Observe(2, [P(0, 0), P(1, 0)]));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(tracker.Observe(2, [P(0, 0), P(1, 0)]));
        Assert.False(tracker.Observe(2, [P(0, 0), P(1, 5)])); // new input arrived: start again
        Assert.Contains("1 of 2 partitions behind, lag 5", tracker.Status, StringComparison.Ordinal);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(tracker.Observe(2, [P(0, 0), P(1, 0)]));
        time.Advance(TimeSpan.FromSeconds(2.9));
        Assert.False(tracker.Observe(2, [P(0, 0), P(1, 0)]));
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(tracker.Observe(2, [P(0, 0), P(1, 0)]));
    }

    [Fact]
    public void NoAssignmentEver_GivesUpAtTheAssignmentTimeout_ButOneAssignmentDisarmsIt()
    {
        var time = new FakeTimeProvider();
        var unreachable = new CaughtUpTracker(time, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30));
        var assigned = new CaughtUpTracker(time, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30));
        Assert.False(unreachable.Observe(0, null));
        Assert.False(assigned.Observe(2, [P(0, 7), P(1, 0)]));
        time.Advance(TimeSpan.FromSeconds(29.9));
        Assert.False(unreachable.Observe(0, null));
        Assert.False(unreachable.GaveUp);
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.False(unreachable.Observe(0, null));
        Assert.True(unreachable.GaveUp, "30 s without any assignment: the brokers or topics are not there");
        // Partitions held once and then revoked (another member took them) is a rebalance, not an unreachable cluster.
        Assert.False(assigned.Observe(0, null));
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.False(assigned.Observe(0, null));
        Assert.False(assigned.GaveUp);
        // Without a timeout it waits forever, as before.
        var forever = new CaughtUpTracker(time, TimeSpan.FromSeconds(3));
        time.Advance(TimeSpan.FromDays(1));
        forever.Observe(0, null);
        Assert.False(forever.GaveUp);
    }
}
