using StreamLstm.Ingest.Decoding;

namespace StreamLstm.Ingest.Tests.Decoding;

public class TimestampWindowTests
{
    [Fact]
    public void Default_IsTheEpochToOneDayAhead()
    {
        Assert.Equal(DateTimeOffset.UnixEpoch, TimestampWindow.Default.Earliest);
        Assert.Equal(TimeSpan.FromDays(1), TimestampWindow.Default.MaxAhead);
        Assert.Empty(TimestampWindow.Problems(DateTimeOffset.UnixEpoch, TimeSpan.FromDays(1), "a", "b"));
    }

    [Fact]
    public void Problems_NameTheSettingAndWhatToSet()
    {
        var tooEarly = TimestampWindow.Problems(new DateTimeOffset(1500, 1, 1, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromDays(1), "Pipeline:MinEventTime", "Pipeline:MaxEventTimeAhead");
        Assert.Contains("Pipeline:MinEventTime", Assert.Single(tooEarly));
        var tooLate = TimestampWindow.Problems(new DateTimeOffset(2262, 6, 1, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromDays(1), "Pipeline:MinEventTime", "x");
        Assert.Contains("Pipeline:MinEventTime", Assert.Single(tooLate));
        var negative = TimestampWindow.Problems(DateTimeOffset.UnixEpoch, TimeSpan.FromSeconds(-1), "a", "Pipeline:MaxEventTimeAhead");
        Assert.Contains("Pipeline:MaxEventTimeAhead", Assert.Single(negative));
        Assert.Single(TimestampWindow.Problems(DateTimeOffset.UnixEpoch, TimestampWindow.MaxAheadLimit + TimeSpan.FromTicks(1), "a", "b"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TimestampWindow(DateTimeOffset.UnixEpoch, TimeSpan.FromDays(-1)));
    }

    [Fact]
    public void LatestMs_IsClockPlusAhead_CappedAtTheSupportedEnd()
    {
        var now = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var w = new TimestampWindow(DateTimeOffset.UnixEpoch, TimeSpan.FromHours(2));
        Assert.Equal(now.AddHours(2).ToUnixTimeMilliseconds(), w.LatestMs(now));
        Assert.True(w.Contains(now.AddHours(2).ToUnixTimeMilliseconds(), now));
        Assert.False(w.Contains(now.AddHours(2).ToUnixTimeMilliseconds() + 1, now));
        Assert.False(w.Contains(-1, now));
        var wide = new TimestampWindow(DateTimeOffset.UnixEpoch, TimestampWindow.MaxAheadLimit);
        Assert.Equal(TimestampWindow.LatestSupportedMs, wide.LatestMs(new DateTimeOffset(2200, 1, 1, 0, 0, 0, TimeSpan.Zero)));
    }
}
