using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Kafka;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Kafka;

public class ForecastBinaryTests
{
    [Fact]
    public void WrittenRow_ReadsBackEveryField()
    {
        var batch = Batches.Make(SourceKind.Vitals, ["p1", "p2"], 2, 0, 1_700_000_000_000, horizons: 4);
        batch.Observed[1] = double.NaN;
        batch.Partitions[1] = 7;
        batch.Offsets[1] = 123_456_789_012;
        var version = "m-1"u8.ToArray();
        var value = new byte[ForecastBinary.Size(4, version.Length)];
        ForecastBinary.Write(batch, 1, version, value);

        Assert.True(ForecastBinary.TryRead(value, out var row));
        Assert.Equal(SourceKind.Vitals, row.Source);
        Assert.Equal(7, row.Partition);
        Assert.Equal(123_456_789_012, row.Offset);
        Assert.Equal(batch.TimestampsMs[1], row.TimestampMs);
        Assert.True(double.IsNaN(row.Observed));
        Assert.Equal(batch.MuOf(1).ToArray(), row.Mu);
        Assert.Equal(batch.SigmaOf(1).ToArray(), row.Sigma);
        Assert.Equal("m-1", row.ModelVersion);
        Assert.True(value.Length < KafkaForecastOutput.ToJson(batch, 1).Length / 2, "the binary row is not compact");
    }

    [Fact]
    public void TryRead_RefusesJsonAndTruncatedRows()
    {
        var batch = Batches.Make(SourceKind.Tick, ["a"], 1, 0, 1_700_000_000_000);
        var value = new byte[ForecastBinary.Size(3, 3)];
        ForecastBinary.Write(batch, 0, "m-1"u8, value);

        Assert.False(ForecastBinary.TryRead(KafkaForecastOutput.ToJson(batch, 0), out _));
        Assert.False(ForecastBinary.TryRead(value.AsSpan(0, value.Length - 1), out _));
    }

    [Fact]
    public void ValueSlab_GoesBackToThePool_OnlyWhenSealedAndEveryRowIsReleased()
    {
        var pool = new ValueSlabPool(slabBytes: 64, maxFree: 4);
        var a = pool.Append("0123456789"u8);
        var b = pool.Append("abcdefghij"u8);
        Assert.Same(a.Slab, b.Slab);
        Assert.True(b.Span.SequenceEqual("abcdefghij"u8));

        // Delivered before the writer moved on: the slab is still being written, so it stays out of the pool.
        a.Release();
        b.Release();
        Assert.Equal(0, pool.FreeCount);

        // Full: the next row seals it; every row of it is released, so it goes back to the pool and is reused at once.
        var c = pool.Append(new byte[60]);
        Assert.Same(a.Slab, c.Slab);
        Assert.Equal(0, pool.FreeCount);

        // Sealed with a row still in flight: it waits for that row, whose bytes stay readable until then.
        var d = pool.Append(new byte[10]);
        Assert.NotSame(c.Slab, d.Slab);
        Assert.Equal(0, pool.FreeCount);
        Assert.Equal(60, c.Span.Length);
        c.Release();
        Assert.Equal(1, pool.FreeCount);
        pool.SealCurrent();
        Assert.Equal(1, pool.FreeCount);
        d.Release();
        Assert.Equal(2, pool.FreeCount);

        // A row larger than a slab gets its own, never pooled.
        var big = pool.Append(new byte[100]);
        Assert.Equal(100, big.Span.Length);
        big.Release();
        Assert.Equal(2, pool.FreeCount);
    }

    [Fact]
    public void ValueSerializer_HandsTheClientTheRowsBytes_InOneReusedArrayPerLength()
    {
        var pool = new ValueSlabPool(slabBytes: 64);
        var a = pool.Append("first-row"u8);
        var b = pool.Append("other-row"u8);
        var context = new Confluent.Kafka.SerializationContext(Confluent.Kafka.MessageComponentType.Value, "t");

        var first = ForecastValueSerializer.Instance.Serialize(a, context);
        Assert.Equal("first-row"u8.ToArray(), first);
        var second = ForecastValueSerializer.Instance.Serialize(b, context);
        Assert.Same(first, second);
        Assert.Equal("other-row"u8.ToArray(), second);
        Assert.True(a.Span.SequenceEqual("first-row"u8));
    }
}
