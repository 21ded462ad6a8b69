using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Consumer;

public class DurabilityBarrierTests
{
    private static long Deadline(double seconds) => Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);

    [Fact]
    public void GivenUpDelivery_CapsItsPartition_OthersAdvance()
    {
        var failures = new DeliveryFailures();
        var barrier = new DurabilityBarrier(_ => Task.CompletedTask, failures, TimeSpan.Zero, NullLogger.Instance);
        var p0 = new PartitionState("ticks", 0, SourceKind.Tick, 0);
        var p1 = new PartitionState("ticks", 1, SourceKind.Tick, 0);
        p0.MarkCommittable(100);
        p1.MarkCommittable(100);
        failures.Record("test", SourceKind.Tick, 0, 40, "refused");

        Assert.True(barrier.FlushNow([p0, p1], Deadline(10)));
        Assert.Equal(40, p0.Durable);
        Assert.Equal(100, p1.Durable);

        // Later barriers never move the held partition past the undelivered row.
        p0.MarkCommittable(200);
        Assert.True(barrier.FlushNow([p0, p1], Deadline(10)));
        Assert.Equal(40, p0.Durable);

        // Once revoked, the hold is the next owner's: released here.
        failures.Release(SourceKind.Tick, 0);
        Assert.True(barrier.FlushNow([p0], Deadline(10)));
        Assert.Equal(200, p0.Durable);
        Assert.Equal(1, failures.Count);
    }

    [Fact]
    public void FailedOrLateFlush_PublishesNothing()
    {
        var p = new PartitionState("ticks", 0, SourceKind.Tick, 0);
        p.MarkCommittable(10);
        var failing = new DurabilityBarrier(_ => Task.FromException(new IOException("output down")), null, TimeSpan.Zero, NullLogger.Instance);
        Assert.False(failing.FlushNow([p], Deadline(10)));
        Assert.Equal(-1, p.Durable);
        Assert.Equal(1, failing.Failed);

        var never = new TaskCompletionSource();
        var wedged = new DurabilityBarrier(_ => never.Task, null, TimeSpan.Zero, NullLogger.Instance);
        var sw = Stopwatch.StartNew();
        Assert.False(wedged.FlushNow([p], Deadline(0.1)));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), "a wedged output held the barrier past its deadline");
        Assert.Equal(-1, p.Durable);
        never.SetResult();
    }
}
