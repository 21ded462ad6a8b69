using StreamLstm.Ingest.Replay;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Demo;

/// <summary><c>demo --replay</c>: which kind each data set feeds and the default pace that makes it watchable.</summary>
public static class DemoReplay
{
    /// <summary>The source kind a data set's events are.</summary>
    /// <param name="source">Data set.</param>
    /// <returns>Its kind.</returns>
    public static SourceKind KindOf(ReplaySource source) => source switch
    {
        ReplaySource.Vitals => SourceKind.Vitals,
        ReplaySource.Audio => SourceKind.Audio,
        _ => SourceKind.Tick,
    };

    /// <summary>
    /// Default time scale: vitals (48 h per patient) play in about 5 minutes, a month of SPY minute bars in about 12, BTC
    /// trades at 10×, daily closes at 5 trading days a second, audio in real time.
    /// </summary>
    /// <param name="source">Data set.</param>
    /// <returns>Speed (1 = original timing).</returns>
    public static double DefaultSpeed(ReplaySource source) => source switch
    {
        ReplaySource.Vitals => 600,
        ReplaySource.SpyMinute => 3600,
        ReplaySource.BtcTicks => 10,
        ReplaySource.MarketDaily => 432_000,
        _ => 1,
    };
}
