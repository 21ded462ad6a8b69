using System.Globalization;
using System.Text.Json;
using StreamLstm.Ingest.Replay;

namespace StreamLstm.Ingest.Tests.Replay;

/// <summary>Readers on the real data in ../shared/data (skipped when it is absent).</summary>
public class ReplayRealDataTests
{
    private static string Data()
    {
        Assert.SkipUnless(TestData.Directory is not null, "../shared/data not found");
        return TestData.Directory!;
    }

    private static JsonElement Json(ReplayRecord r) => JsonDocument.Parse(r.Value).RootElement.Clone();

    private static void AssertTimeOrdered(IReadOnlyList<ReplayRecord> records)
    {
        for (var i = 1; i < records.Count; i++)
        {
            Assert.True(records[i].TimestampMs >= records[i - 1].TimestampMs, $"record {i} goes back in time");
        }
    }

    [Fact]
    public void DailyCloses_OneTickPerNonEmptyCell_20Tickers()
    {
        var data = Data();
        var lines = File.ReadAllLines(Path.Combine(data, MarketReaders.DailyFile));
        var nonEmpty = lines.Skip(1).Sum(l => l.Split(',').Skip(1).Count(c => c.Length > 0));
        var records = MarketReaders.ReadDailyCloses(data).ToList();
        Assert.Equal(nonEmpty, records.Count);
        Assert.Equal(20, records.Select(r => r.Key).Distinct().Count());
        AssertTimeOrdered(records);
        var first = Json(records[0]);
        Assert.Equal("AAPL", first.GetProperty("symbol").GetString());
        Assert.Equal(0.117203, first.GetProperty("price").GetDouble());
        Assert.All(records, r => Assert.True(Json(r).GetProperty("price").GetDouble() > 0));
    }

    [Fact]
    public void SpyMinuteBars_14180Ticks_InOrder()
    {
        var records = MarketReaders.ReadSpyMinuteBars(Data()).ToList();
        Assert.Equal(14_180, records.Count);
        Assert.All(records, r => Assert.Equal("SPY", r.Key));
        AssertTimeOrdered(records);
        Assert.Equal(DateTimeOffset.Parse("2011-01-03T14:01:00Z", CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), records[0].TimestampMs);
        Assert.Equal(126.39, Json(records[0]).GetProperty("price").GetDouble());
        Assert.Equal(1579, Json(records[0]).GetProperty("size").GetDouble());
    }

    [Fact]
    public void BtcTrades_9999TicksWithIrregularGaps()
    {
        var records = MarketReaders.ReadBtcTrades(Data()).ToList();
        Assert.Equal(9_999, records.Count);
        AssertTimeOrdered(records);
        Assert.Equal(1_315_922_016_000, records[0].TimestampMs);
        var gaps = records.Zip(records.Skip(1)).Select(p => p.Second.TimestampMs - p.First.TimestampMs).Distinct().Count();
        Assert.True(gaps > 100, "tick data should have irregular arrival times");
    }

    [Fact]
    public void Vitals_OneEventPerRecordMinute_WithMappedFields()
    {
        var data = Data();
        var rows = File.ReadAllLines(Path.Combine(data, VitalsReader.File)).Skip(1).Select(l => l.Split(',')).ToList();
        var expected = rows.Select(r => (r[0], r[1])).Distinct().Count();
        var records = VitalsReader.Read(data);
        Assert.Equal(expected, records.Count); // every row's parameter is a mapped vital, so every minute yields an event
        AssertTimeOrdered(records);
        Assert.Equal(rows.Select(r => r[0]).Distinct().Count(), records.Select(r => r.Key).Distinct().Count());
        Assert.Equal(records.Count, records.Select(r => (r.Key, r.TimestampMs)).Distinct().Count());
        var fields = new HashSet<string>();
        foreach (var r in records)
        {
            foreach (var p in Json(r).EnumerateObject())
            {
                fields.Add(p.Name);
            }
        }

        Assert.Equal(["dbp", "hr", "map", "patient_id", "resp_rate", "sbp", "spo2", "temp", "ts"], fields.Order(StringComparer.Ordinal));
        // Spot check against the file: record 132548, minute 0 has HR 73.
        Assert.Equal(73, Json(records.First(r => r.Key == "p-132548")).GetProperty("hr").GetDouble());
        Assert.Equal(48 * 60 * 60_000L, records[^1].TimestampMs - VitalsReader.DefaultBaseUnixMs, 60 * 60_000.0);
    }

    [Fact]
    public void Fsdd_AllRecordingsBecomeMfccFrames_SixSpeakerStreams()
    {
        var data = Data();
        var files = Directory.GetFiles(Path.Combine(data, FsddReader.Folder), "*.wav");
        Assert.Equal(300, files.Length);
        var expectedFrames = files.Sum(f => Math.Max(0, 1 + ((int)((new FileInfo(f).Length - 44) / 2) - 200) / 80));
        var records = FsddReader.Read(data);
        Assert.InRange(records.Count, expectedFrames - 300, expectedFrames + 300); // header sizes vary slightly
        Assert.Equal(6, records.Select(r => r.Key).Distinct().Count());
        AssertTimeOrdered(records);
        foreach (var stream in records.GroupBy(r => r.Key))
        {
            var frames = stream.Select(r => Json(r).GetProperty("frame").GetInt64()).ToList();
            Assert.Equal(Enumerable.Range(0, frames.Count).Select(i => (long)i), frames);
        }

        var e = Json(records[100]);
        Assert.Equal(13, e.GetProperty("coeffs").GetArrayLength());
        Assert.True(double.IsFinite(e.GetProperty("energy").GetDouble()));
        Assert.Equal(300, FsddReader.Read(data, AudioStreamMode.PerRecording).Select(r => r.Key).Distinct().Count());
    }
}
