using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Storage;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>The record's format version: format 2 carries the scoring section, format 1 records (no scoring state) still load.</summary>
public class KeyStateRecordFormatTests
{
    private static byte[] Record(ReadOnlySpan<byte> scoring)
    {
        var version = KeyStateRecord.VersionBytes("m1");
        float[] row = [1, 2, 3, 4];
        byte[] features = [9, 8, 7];
        var bytes = new byte[KeyStateRecord.Size(row.Length, features.Length, version, scoring.Length)];
        KeyStateRecord.Write(bytes, SourceKind.Vitals, 1, 2, version, row, features, scoring);
        return bytes;
    }

    [Fact]
    public void Format2_RoundTripsTheScoringSection()
    {
        var record = Record([5, 6, 7, 8]);
        Assert.Equal(2, record[0]);
        Assert.True(KeyStateRecord.TryRead(record, out var view, out var error), error);
        Assert.Equal([5, 6, 7, 8], view.Scoring.ToArray());
        Assert.Equal([9, 8, 7], view.Features.ToArray());
    }

    [Fact]
    public void Format3_CarriesTheRewarmHistory_AndARecordWithoutHistoryStaysFormat2()
    {
        var version = KeyStateRecord.VersionBytes("m1");
        float[] row = [1, 2, 3, 4];
        byte[] features = [9, 8, 7];
        float[] history = [0.5f, -1.5f, 2.25f, 3f, 4f, 5f];
        var bytes = new byte[KeyStateRecord.Size(row.Length, features.Length, version, 2, history.Length)];
        KeyStateRecord.Write(bytes, SourceKind.Vitals, 1, 2, version, row, features, [5, 6], history);
        Assert.Equal(3, bytes[0]);
        Assert.True(KeyStateRecord.TryRead(bytes, out var view, out var error), error);
        Assert.Equal(history, view.History.ToArray());
        Assert.Equal([5, 6], view.Scoring.ToArray());
        Assert.False(KeyStateRecord.TryRead(bytes.AsSpan(0, bytes.Length - 4), out _, out error));
        Assert.True(Record([5]) is [2, ..], "a record without history must stay format 2");
        Assert.True(KeyStateRecord.TryRead(Record([5]), out view, out _) && view.History.IsEmpty);
    }

    [Fact]
    public void Format1Record_StillLoads_WithAnEmptyScoringSection_ButNotWithScoringBytes()
    {
        var old = Record([]);
        old[0] = 1;
        Assert.True(KeyStateRecord.TryRead(old, out var view, out var error), error);
        Assert.True(view.Scoring.IsEmpty);
        Assert.Equal([1f, 2, 3, 4], view.Row.ToArray());

        var bad = Record([1]);
        bad[0] = 1;
        Assert.False(KeyStateRecord.TryRead(bad, out _, out error));
        Assert.Contains("format 1", error);

        var future = Record([]);
        future[0] = 4;
        Assert.False(KeyStateRecord.TryRead(future, out _, out error));
        Assert.Contains("not supported", error);
    }
}
