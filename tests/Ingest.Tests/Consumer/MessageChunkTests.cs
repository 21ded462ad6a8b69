using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Consumer;

public class MessageChunkTests
{
    private static readonly PartitionState Ps = new("in", 0, SourceKind.Tick, 0);

    [Fact]
    public void PackedMessages_ReadBackTheirBytes_KeepingNullApartFromEmpty_AcrossBufferGrowth()
    {
        var chunk = new MessageChunk(8);
        var big = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
        chunk.AddPacked(Ps, "k0"u8, true, "v0"u8, true, 10, 1);
        chunk.AddPacked(Ps, default, false, default, false, 11, 2);
        chunk.AddPacked(Ps, default, true, default, true, 12, 3);
        // Past the first buffer: the earlier messages must survive the copy into the grown one.
        chunk.AddPacked(Ps, "k3"u8, true, big, true, 13, 4);
        chunk.Add(Ps, [9], null, 14, 5);

        Assert.Equal(5, chunk.Count);
        Assert.Equal("k0"u8.ToArray(), chunk.KeyArray(0));
        Assert.Equal("v0"u8.ToArray(), chunk.ValueOf(0).ToArray());
        Assert.Null(chunk.KeyArray(1));
        Assert.Null(chunk.ValueArray(1));
        Assert.True(chunk.ValueOf(1).IsEmpty);
        Assert.Equal(Array.Empty<byte>(), chunk.KeyArray(2));
        Assert.Equal(Array.Empty<byte>(), chunk.ValueArray(2));
        Assert.Equal(big, chunk.ValueArray(3));
        Assert.Equal("k3"u8.ToArray(), chunk.KeyOf(3).ToArray());
        Assert.Equal([9], chunk.KeyArray(4));
        Assert.Null(chunk.ValueArray(4));
        Assert.Equal([10L, 11, 12, 13, 14], chunk.Offsets[..5]);
        Assert.Equal([1L, 2, 3, 4, 5], chunk.ReceivedTicks[..5]);
    }

    [Fact]
    public void Append_CopiesPackedAndArrayMessages_IntoAnotherChunk()
    {
        var tail = new MessageChunk(8);
        tail.Add(Ps, [1], [2], 0, 0);
        var other = new MessageChunk(8);
        other.AddPacked(Ps, "a"u8, true, "b"u8, true, 1, 0);
        other.AddPacked(Ps, default, false, "c"u8, true, 2, 0);
        other.Add(Ps, null, [3], 3, 0);

        tail.Append(other);
        other.Release();
        // The source is released (and may be refilled): the appended bytes are the tail's own copy.
        other.AddPacked(Ps, "x"u8, true, "y"u8, true, 9, 0);

        Assert.Equal(4, tail.Count);
        Assert.Equal([1], tail.KeyArray(0));
        Assert.Equal("a"u8.ToArray(), tail.KeyArray(1));
        Assert.Equal("b"u8.ToArray(), tail.ValueArray(1));
        Assert.Null(tail.KeyArray(2));
        Assert.Equal("c"u8.ToArray(), tail.ValueArray(2));
        Assert.Null(tail.KeyArray(3));
        Assert.Equal([3], tail.ValueArray(3));
    }

    [Fact]
    public void ReleasedChunk_IsReusedFromItsPool_WithItsBufferAndNoOldMessages()
    {
        var pool = new MessageChunkPool(4);
        var chunk = pool.Rent();
        chunk.AddPacked(Ps, "key"u8, true, "value"u8, true, 0, 0);
        chunk.Release();
        var again = pool.Rent();

        Assert.Same(chunk, again);
        Assert.Equal(0, again.Count);
        again.AddPacked(Ps, "k"u8, true, "v"u8, true, 1, 0);
        Assert.Equal("k"u8.ToArray(), again.KeyArray(0));
        Assert.Equal("v"u8.ToArray(), again.ValueArray(0));
    }
}
