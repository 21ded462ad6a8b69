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
    public void ExactLengthPool_HandsBackAReturnedArrayOnlyForItsLength_AndKeepsAtMostItsBound()
    {
        var pool = new ExactLengthPool(maxLength: 64, perLength: 1);
        var a = pool.Rent(10);
        var b = new byte[10];
        pool.Return(a);
        pool.Return(b);

        Assert.NotSame(a, pool.Rent(11));
        Assert.Same(a, pool.Rent(10));
        Assert.NotSame(b, pool.Rent(10));
        Assert.Equal(100, pool.Rent(100).Length);
    }
}
