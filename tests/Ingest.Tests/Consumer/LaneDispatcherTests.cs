using System.Diagnostics;
using System.Threading.Channels;
using StreamLstm.Ingest.Consumer;

namespace StreamLstm.Ingest.Tests.Consumer;

public class LaneDispatcherTests
{
    private static MessageChunk Chunk(MessageChunkPool pool, long offset)
    {
        var c = pool.Rent();
        c.Add(new PartitionState("t", 0, default, 0), null, [1], offset, 0);
        return c;
    }

    [Fact]
    public void FullLane_HoldsChunksInOrder_AndHandsThemOverWhenHalfEmpty_NeverDropping()
    {
        var lane = Channel.CreateBounded<MessageChunk>(2);
        var pool = new MessageChunkPool(4);
        var d = new LaneDispatcher([lane], 2);
        Assert.False(d.Dispatch(0, Chunk(pool, 0)));
        Assert.False(d.Dispatch(0, Chunk(pool, 1)));
        Assert.True(d.Dispatch(0, Chunk(pool, 2)), "the first held chunk must ask for a pause");
        Assert.False(d.Dispatch(0, Chunk(pool, 3)), "already paused");
        Assert.True(d.IsBlocked(0));
        Assert.False(d.TryUnblock(0), "the lane is still full");

        var seen = new List<long>();
        while (seen.Count < 4)
        {
            Assert.True(lane.Reader.TryRead(out var c), $"chunk {seen.Count} was dropped");
            seen.Add(c!.Offsets[0]);
            d.TryUnblock(0);
        }

        Assert.Equal([0L, 1, 2, 3], seen);
        Assert.False(d.IsBlocked(0));
    }

    [Fact]
    public void ClosedLane_KeepsItsChunks_AndWriteAllFailsAtOnce()
    {
        // Before: a blocking write gave up after 60 s and dropped the chunk, so later chunks of the partition committed
        // past the gap. Now a closed (failed) lane refuses at once and the chunk is kept, uncommitted.
        var lane = Channel.CreateBounded<MessageChunk>(1);
        var pool = new MessageChunkPool(4);
        var d = new LaneDispatcher([lane], 1);
        Assert.False(d.Dispatch(0, Chunk(pool, 0)));
        Assert.True(d.Dispatch(0, Chunk(pool, 1)));
        lane.Writer.TryComplete(new InvalidOperationException("worker failed"));
        var sw = Stopwatch.StartNew();
        Assert.False(d.WriteAll(0, Chunk(pool, 2), Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"a closed lane made the hand-over wait {sw.Elapsed}");
        Assert.Equal(1, d.HeldChunks);
        Assert.Equal(1, Assert.Single(d.Abandon(0)).Offsets[0]);
    }

    [Fact]
    public async Task WriteAll_StopsAtTheDeadline_WithoutDropping()
    {
        var lane = Channel.CreateBounded<MessageChunk>(1);
        var pool = new MessageChunkPool(4);
        var d = new LaneDispatcher([lane], 1);
        d.Dispatch(0, Chunk(pool, 0));
        d.Dispatch(0, Chunk(pool, 1));
        Assert.False(d.WriteAll(0, Chunk(pool, 2), Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20));
        Assert.Equal(1, d.HeldChunks);

        // A reader appears: everything goes through in order.
        Assert.True(lane.Reader.TryRead(out var first));
        var reader = Task.Run(async () =>
        {
            var offsets = new List<long> { first!.Offsets[0] };
            while (offsets.Count < 3) offsets.Add((await lane.Reader.ReadAsync()).Offsets[0]);
            return offsets;
        }, TestContext.Current.CancellationToken);
        Assert.True(d.WriteAll(0, Chunk(pool, 2), Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60));
        Assert.Equal([0L, 1, 2], await reader.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
    }
}
