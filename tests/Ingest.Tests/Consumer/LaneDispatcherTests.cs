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

    private static MessageChunk Chunk(MessageChunkPool pool, long first, int count)
    {
        var c = pool.Rent();
        var ps = new PartitionState("t", 0, default, 0);
        for (var i = 0; i < count; i++) c.Add(ps, null, [1], first + i, 0);
        return c;
    }

    /// <summary>Plays the worker: takes every chunk waiting, records its offsets and releases it (settling its load).</summary>
    private static void TakeAll(Channel<MessageChunk> lane, List<long> seen)
    {
        while (lane.Reader.TryRead(out var c))
        {
            for (var i = 0; i < c.Count; i++) seen.Add(c.Offsets[i]);
            c.Release();
        }
    }

    [Fact]
    public void FullLane_HoldsChunksInOrder_AndHandsThemOverWhenHalfEmpty_NeverDropping()
    {
        var lane = Channel.CreateBounded<MessageChunk>(2);
        var pool = new MessageChunkPool(4);
        var d = new LaneDispatcher([lane], 3);
        Assert.False(d.Dispatch(0, Chunk(pool, 0)));
        Assert.False(d.Dispatch(0, Chunk(pool, 1)));
        Assert.True(d.Dispatch(0, Chunk(pool, 2)), "the third message reaches the capacity: the lane must ask for a pause");
        Assert.False(d.Dispatch(0, Chunk(pool, 3)), "already paused");
        Assert.True(d.IsBlocked(0));
        Assert.False(d.TryUnblock(0), "the lane is still full");

        var seen = new List<long>();
        for (var round = 0; round < 4 && seen.Count < 4; round++)
        {
            TakeAll(lane, seen);
            d.TryUnblock(0);
        }

        Assert.Equal([0L, 1, 2, 3], seen);
        Assert.False(d.IsBlocked(0));
        Assert.Equal(0, d.InLane(0));
    }

    [Fact]
    public void SmallChunks_FillingTheChannel_AreCoalesced_AndNeverPauseBelowTheCapacityInMessages()
    {
        // Before: capacity counted chunks, so 2 one-message chunks filled this lane and paused its partitions although it
        // held 2 messages. Now a lane of 100 messages takes 60 one-message chunks without a pause.
        var lane = Channel.CreateBounded<MessageChunk>(2);
        var pool = new MessageChunkPool(64);
        var d = new LaneDispatcher([lane], 100);
        for (var i = 0; i < 60; i++)
        {
            Assert.False(d.Dispatch(0, Chunk(pool, i)), $"chunk {i}: paused with {d.InLane(0) + d.Held(0)} of 100 messages");
        }

        Assert.False(d.IsBlocked(0));
        Assert.Equal(2, d.InLane(0));
        Assert.Equal(58, d.Held(0));
        Assert.Equal(1, d.HeldChunks);

        var seen = new List<long>();
        for (var round = 0; round < 10 && seen.Count < 60; round++)
        {
            TakeAll(lane, seen);
            d.TryUnblock(0);
        }

        Assert.Equal(Enumerable.Range(0, 60).Select(i => (long)i), seen);
        Assert.Equal(0, d.HeldChunks);
    }

    [Fact]
    public void Pause_ComesAtTheCapacityInMessages_AndResumeAtHalf_OnlyOnceTheWorkerReleased()
    {
        var lane = Channel.CreateBounded<MessageChunk>(16);
        var pool = new MessageChunkPool(8);
        var d = new LaneDispatcher([lane], 20);
        Assert.False(d.Dispatch(0, Chunk(pool, 0, 8)));
        Assert.False(d.Dispatch(0, Chunk(pool, 8, 8)));
        Assert.True(d.Dispatch(0, Chunk(pool, 16, 8)), "24 of 20 messages: pause");
        Assert.Equal(24, d.InLane(0));

        // Read but not yet released: the worker still holds the messages, so the lane stays blocked.
        Assert.True(lane.Reader.TryRead(out var a));
        Assert.True(lane.Reader.TryRead(out var b));
        Assert.False(d.TryUnblock(0), "messages taken but not released still count");
        a!.Release();
        Assert.False(d.TryUnblock(0), "16 of 20 messages is above half");
        b!.Release();
        Assert.True(d.TryUnblock(0), "8 of 20 messages is below half: resume");
        Assert.Equal(8, d.InLane(0));
    }

    [Fact]
    public void PauseAndResume_UnderARandomWorker_KeepEveryOffsetOnceAndInOrder()
    {
        var rng = new Random(5);
        var lane = Channel.CreateBounded<MessageChunk>(4);
        var pool = new MessageChunkPool(32);
        var d = new LaneDispatcher([lane], 64);
        var seen = new List<long>();
        long next = 0;
        var pauses = 0;
        var paused = false;
        for (var round = 0; round < 2_000; round++)
        {
            // Consumer: a poll round of 0–40 messages in chunks of up to 32 (only while not paused).
            if (!paused)
            {
                var n = rng.Next(0, 41);
                while (n > 0)
                {
                    var k = Math.Min(n, rng.Next(1, 33));
                    if (d.Dispatch(0, Chunk(pool, next, k)))
                    {
                        paused = true;
                        pauses++;
                    }

                    next += k;
                    n -= k;
                }
            }

            // Worker: sometimes takes one chunk.
            if (rng.Next(3) == 0 && lane.Reader.TryRead(out var c))
            {
                for (var i = 0; i < c.Count; i++) seen.Add(c.Offsets[i]);
                c.Release();
            }

            if (d.TryUnblock(0)) paused = false;
            Assert.True(d.InLane(0) + d.Held(0) < 64 + 40, $"round {round}: the lane holds {d.InLane(0) + d.Held(0)} messages, over capacity plus one poll round");
        }

        for (var round = 0; round < 10_000 && seen.Count < next; round++)
        {
            TakeAll(lane, seen);
            d.TryUnblock(0);
        }

        Assert.True(pauses > 0, "the slow worker never caused a pause: the test does not cover pause/resume");
        Assert.Equal(Enumerable.Range(0, (int)next).Select(i => (long)i), seen);
    }

    [Fact]
    public void ClosedLane_KeepsItsChunks_AndWriteAllFailsAtOnce()
    {
        // Before: a blocking write gave up after 60 s and dropped the chunk, so later chunks of the partition committed
        // past the gap. Now a closed (failed) lane refuses at once and the chunk is kept, uncommitted.
        var lane = Channel.CreateBounded<MessageChunk>(1);
        var pool = new MessageChunkPool(4);
        var d = new LaneDispatcher([lane], 2);
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
        var d = new LaneDispatcher([lane], 2);
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

    [Fact]
    public async Task AWorkerReleasingAChunkBeforeTheWriteReturns_StillSettlesTheHeldCount()
    {
        // Synchronous continuations: a read waiting on the empty channel completes inside the dispatcher's write, so the
        // chunk is released (and cleared) before the write returns. The dispatcher must count its messages before handing
        // it over; counting them after (as it once did) read 0 and left the lane holding phantom messages: blocked, its
        // partitions paused for good.
        var lane = Channel.CreateBounded<MessageChunk>(new BoundedChannelOptions(1) { AllowSynchronousContinuations = true });
        var pool = new MessageChunkPool(4);
        var d = new LaneDispatcher([lane], 8);
        d.Dispatch(0, Chunk(pool, 0, 4));
        d.Dispatch(0, Chunk(pool, 4, 4));
        Assert.Equal(4, d.Held(0));

        var seen = new List<long>();
        TakeAll(lane, seen);
        var released = lane.Reader.ReadAsync(TestContext.Current.CancellationToken).AsTask().ContinueWith(
            t =>
            {
                for (var i = 0; i < t.Result.Count; i++) seen.Add(t.Result.Offsets[i]);
                t.Result.Release();
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        Assert.False(released.IsCompleted, "the read must be waiting when the held chunk is handed over");

        Assert.True(d.TryUnblock(0));
        Assert.True(released.IsCompleted, "the write ran the waiting read inline");
        await released;
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i), seen);
        Assert.Equal(0, d.Held(0));
        Assert.Equal(0, d.HeldChunks);
        Assert.Equal(0, d.InLane(0));
        Assert.False(d.IsBlocked(0));
    }
}
