namespace StreamLstm.Ingest.Replay;

/// <summary>Settings that shape what a replay source yields.</summary>
public sealed class ReplayReadOptions
{
    /// <summary>Time of minute 0 (vitals) and of the first sample (audio), epoch ms.</summary>
    public long BaseUnixMs { get; set; } = VitalsReader.DefaultBaseUnixMs;

    /// <summary>Audio stream per speaker or per recording.</summary>
    public AudioStreamMode AudioStreams { get; set; } = AudioStreamMode.PerSpeaker;

    /// <summary>Where unreadable lines are recorded and skipped (null: the first one throws <see cref="InvalidDataException"/>).</summary>
    public ReplayBadLines? BadLines { get; set; }
}

/// <summary>One entry point over every reader.</summary>
public static class ReplaySources
{
    /// <summary>Reads a source's records in replay (time) order.</summary>
    /// <param name="source">Which data set.</param>
    /// <param name="dataDir">The data folder (see <see cref="DataDirectory"/>).</param>
    /// <param name="options">Optional settings.</param>
    /// <returns>The records, lazily where the format allows it.</returns>
    public static IEnumerable<ReplayRecord> Read(ReplaySource source, string dataDir, ReplayReadOptions? options = null)
    {
        options ??= new ReplayReadOptions();
        return source switch
        {
            ReplaySource.MarketDaily => MarketReaders.ReadDailyCloses(dataDir, options.BadLines),
            ReplaySource.SpyMinute => MarketReaders.ReadSpyMinuteBars(dataDir, options.BadLines),
            ReplaySource.BtcTicks => MarketReaders.ReadBtcTrades(dataDir, options.BadLines),
            ReplaySource.Vitals => VitalsReader.Read(dataDir, options.BaseUnixMs, options.BadLines),
            ReplaySource.Audio => FsddReader.Read(dataDir, options.AudioStreams, options.BaseUnixMs),
            _ => throw new ArgumentOutOfRangeException(nameof(source), source, null),
        };
    }
}
