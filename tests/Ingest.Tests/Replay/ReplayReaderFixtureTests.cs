using System.Text.Json;
using StreamLstm.Ingest.Replay;
using StreamLstm.Ingest.Tests.Audio;

namespace StreamLstm.Ingest.Tests.Replay;

/// <summary>Reader behaviour on small hand-written files in the real layout (runs without ../shared).</summary>
public class ReplayReaderFixtureTests
{
    private static JsonElement Json(ReplayRecord r) => JsonDocument.Parse(r.Value).RootElement.Clone();

    [Fact]
    public void DailyCloses_SkipEmptyCells_StampTheNewYorkClose()
    {
        using var d = new TestData.Fixture();
        d.Write(MarketReaders.DailyFile, "date,AAA,BBB\n2000-01-03,,1.5\n2000-01-04,10.25,1.75\n");
        var records = MarketReaders.ReadDailyCloses(d.Root).ToList();
        Assert.Equal(["BBB", "AAA", "BBB"], records.Select(r => r.Key));
        var first = Json(records[0]);
        Assert.Equal("BBB", first.GetProperty("symbol").GetString());
        Assert.Equal(1.5, first.GetProperty("price").GetDouble());
        Assert.Equal(1, first.GetProperty("size").GetDouble());
        Assert.Equal(DateTimeOffset.Parse("2000-01-03T21:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), first.GetProperty("ts").GetInt64());
        Assert.False(first.TryGetProperty("bid", out _));
    }

    [Fact]
    public void SpyBars_UseCloseAndVolume_InEasternTime()
    {
        using var d = new TestData.Fixture();
        d.Write(MarketReaders.SpyFile, "20110103 090100;126.35;126.39;126.35;126.39;1579\n20110103 090200;126.45;126.45;126.45;126.44;300\n");
        var records = MarketReaders.ReadSpyMinuteBars(d.Root).ToList();
        Assert.Equal(2, records.Count);
        var e = Json(records[1]);
        Assert.Equal(126.44, e.GetProperty("price").GetDouble());
        Assert.Equal(300, e.GetProperty("size").GetDouble());
        Assert.Equal(DateTimeOffset.Parse("2011-01-03T14:02:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), records[1].TimestampMs);
    }

    [Fact]
    public void BtcTrades_KeepFractionalSizes()
    {
        using var d = new TestData.Fixture();
        d.Write(MarketReaders.BtcFile, "1315922016,5.800000000000,1.000000000000\n1315922024,5.830000000000,0.012500000000\n");
        var records = MarketReaders.ReadBtcTrades(d.Root).ToList();
        Assert.Equal("{\"symbol\":\"BTCUSD\",\"ts\":1315922024000,\"price\":5.83,\"size\":0.0125}", records[1].ValueText);
    }

    [Fact]
    public void MalformedRow_NamesFileAndLine()
    {
        using var d = new TestData.Fixture();
        d.Write(MarketReaders.BtcFile, "1315922016,5.8,1\n1315922024,abc,1\n");
        var ex = Assert.Throws<InvalidDataException>(() => MarketReaders.ReadBtcTrades(d.Root).ToList());
        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedRows_WithACollector_AreSkippedAndCounted_TheRestIsRead()
    {
        using var d = new TestData.Fixture();
        d.Write(MarketReaders.BtcFile, "1315922016,5.8,1\n1315922024,abc,1\nnot a trade\n1315922030,5.9,2\n");
        var bad = new ReplayBadLines();
        var records = MarketReaders.ReadBtcTrades(d.Root, bad).ToList();
        Assert.Equal([1315922016000L, 1315922030000L], records.Select(r => r.TimestampMs));
        Assert.Equal(2, bad.Count);
        Assert.Contains("line 2", bad.First[0], StringComparison.Ordinal);
        Assert.Contains("line 3", bad.First[1], StringComparison.Ordinal);

        d.Write(MarketReaders.SpyFile, "20110103 093000;1;2;0.5;126.75;1000\n20110103 0931;1;2;0.5;126.9;900\n20110103 093200;1;2;0.5;x;900\n");
        var spyBad = new ReplayBadLines();
        Assert.Single(ReplaySources.Read(ReplaySource.SpyMinute, d.Root, new ReplayReadOptions { BadLines = spyBad }));
        Assert.Equal(2, spyBad.Count);

        d.Write(VitalsReader.File, "record_id,minutes_since_icu_admission,parameter,value\n7,0,HR,73\n7,x,HR,74\n7,5,HR,\n7,5,Temp,36.4\n");
        var vitalsBad = new ReplayBadLines();
        Assert.Equal(2, VitalsReader.Read(d.Root, bad: vitalsBad).Count);
        Assert.Equal(2, vitalsBad.Count);
        Assert.StartsWith("2 line(s) skipped", vitalsBad.Summary(), StringComparison.Ordinal);
    }

    [Fact]
    public void Vitals_GroupRowsPerMinute_MapParameters_PreferInvasivePressure()
    {
        using var d = new TestData.Fixture();
        d.Write(VitalsReader.File, string.Join('\n',
            "record_id,minutes_since_icu_admission,parameter,value",
            "7,0,HR,73", "7,0,NISysABP,120", "7,0,SysABP,131", "7,0,NIDiasABP,70", "7,0,NIMAP,86.7", "7,0,Temp,36.4",
            "7,5,SaO2,97", "7,5,RespRate,18",
            "3,5,HR,90", "3,5,DiasABP,60", "3,5,NIDiasABP,65", "3,5,MAP,80",
            "3,9,GCS,15") + "\n");
        var records = VitalsReader.Read(d.Root, baseUnixMs: 1_000_000);
        Assert.Equal(["p-7", "p-3", "p-7"], records.Select(r => r.Key)); // minute 0, then minute 5 by record id
        Assert.Equal("{\"patient_id\":\"p-7\",\"ts\":1000000,\"hr\":73,\"sbp\":131,\"dbp\":70,\"map\":86.7,\"temp\":36.4}", records[0].ValueText);
        Assert.Equal("{\"patient_id\":\"p-3\",\"ts\":1300000,\"hr\":90,\"dbp\":60,\"map\":80}", records[1].ValueText);
        Assert.Equal("{\"patient_id\":\"p-7\",\"ts\":1300000,\"spo2\":97,\"resp_rate\":18}", records[2].ValueText);
    }

    [Fact]
    public void Fsdd_FramesPerRecording_StreamsPerSpeakerOrPerRecording()
    {
        using var d = new TestData.Fixture();
        var rng = new Random(5);
        short[] Noise(int n) => [.. Enumerable.Range(0, n).Select(_ => (short)rng.Next(-3000, 3000))];
        d.WriteBytes("audio/fsdd_recordings/0_amy_0.wav", WavReaderTests.Pcm16Wav(Noise(1000), 8000)); // 11 frames
        d.WriteBytes("audio/fsdd_recordings/1_amy_0.wav", WavReaderTests.Pcm16Wav(Noise(440), 8000));  // 4 frames
        d.WriteBytes("audio/fsdd_recordings/0_bob_0.wav", WavReaderTests.Pcm16Wav(Noise(200), 8000));  // 1 frame

        var perSpeaker = FsddReader.Read(d.Root, AudioStreamMode.PerSpeaker, baseUnixMs: 0);
        Assert.Equal(16, perSpeaker.Count);
        var amy = perSpeaker.Where(r => r.Key == "fsdd-amy").Select(Json).ToList();
        Assert.Equal(Enumerable.Range(0, 15).Select(i => (long)i), amy.Select(e => e.GetProperty("frame").GetInt64()));
        // Amy's second recording starts when her first ends (1000 samples = 125 ms).
        Assert.Equal([0L, 10, 20], amy.Take(3).Select(e => e.GetProperty("ts").GetInt64()));
        Assert.Equal(125, amy[11].GetProperty("ts").GetInt64());
        Assert.All(amy, e => Assert.Equal(13, e.GetProperty("coeffs").GetArrayLength()));
        Assert.True(perSpeaker.Zip(perSpeaker.Skip(1)).All(p => p.First.TimestampMs <= p.Second.TimestampMs));

        var perRecording = FsddReader.Read(d.Root, AudioStreamMode.PerRecording, baseUnixMs: 0);
        Assert.Equal(["fsdd-0_amy_0", "fsdd-0_bob_0", "fsdd-1_amy_0"], perRecording.Select(r => r.Key).Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(0, Json(perRecording.First(r => r.Key == "fsdd-1_amy_0")).GetProperty("frame").GetInt64());
    }

    [Fact]
    public void DataDirectory_ExplicitMissingPath_SaysSo()
    {
        var ex = Assert.Throws<DirectoryNotFoundException>(() => DataDirectory.Resolve("/nonexistent/streamlstm-data"));
        Assert.Contains("/nonexistent/streamlstm-data", ex.Message, StringComparison.Ordinal);
        Assert.Equal(ReplaySource.BtcTicks, ReplaySourceNames.Parse("btc-ticks"));
        Assert.Throws<ArgumentException>(() => ReplaySourceNames.Parse("nasdaq"));
    }
}
