namespace StreamLstm.Ingest.Replay;

/// <summary>One message to replay: Kafka key (entity id), original event time and the JSON value.</summary>
/// <param name="Key">Entity id (symbol, patient id, stream id).</param>
/// <param name="TimestampMs">Event time, epoch ms; replay pacing follows the gaps between these.</param>
/// <param name="Value">The event JSON (UTF-8).</param>
public readonly record struct ReplayRecord(string Key, long TimestampMs, byte[] Value)
{
    /// <summary>The value as a string (for logs and tests).</summary>
    public string ValueText => System.Text.Encoding.UTF8.GetString(Value);
}

/// <summary>The real data sets <c>replay</c> can play.</summary>
public enum ReplaySource
{
    /// <summary><c>market/daily_close_20_tickers.csv</c> as ticks, one per ticker per trading day.</summary>
    MarketDaily,

    /// <summary><c>market/spy_minute_bars_2011-01.csv</c> as ticks (symbol SPY, price = bar close, size = volume).</summary>
    SpyMinute,

    /// <summary><c>market/btc_usd_trades_bitstamp.csv</c> as ticks (symbol BTCUSD).</summary>
    BtcTicks,

    /// <summary><c>vitals/physionet2012_vitals_200_patients.csv</c> as vitals events.</summary>
    Vitals,

    /// <summary><c>audio/fsdd_recordings/*.wav</c> as MFCC audio frames.</summary>
    Audio,
}

/// <summary>Names and default topics of <see cref="ReplaySource"/>.</summary>
public static class ReplaySourceNames
{
    /// <summary>The command-line names, in <see cref="ReplaySource"/> order.</summary>
    public static readonly string[] All = ["market-daily", "spy-minute", "btc-ticks", "vitals", "audio"];

    /// <summary>Parses a command-line name.</summary>
    /// <param name="name">e.g. <c>spy-minute</c>.</param>
    /// <returns>The source.</returns>
    public static ReplaySource Parse(string name)
    {
        var i = Array.IndexOf(All, name.Trim().ToLowerInvariant());
        return i >= 0 ? (ReplaySource)i : throw new ArgumentException($"Unknown replay source '{name}'; use one of: {string.Join(", ", All)}.");
    }

    /// <summary>The command-line name.</summary>
    /// <param name="source">The source.</param>
    /// <returns>e.g. <c>btc-ticks</c>.</returns>
    public static string ToName(this ReplaySource source) => All[(int)source];

    /// <summary>The topic the source's events belong on by default.</summary>
    /// <param name="source">The source.</param>
    /// <returns><c>ticks</c>, <c>vitals</c> or <c>audio-features</c>.</returns>
    public static string DefaultTopic(this ReplaySource source) => source switch
    {
        ReplaySource.Vitals => "vitals",
        ReplaySource.Audio => "audio-features",
        _ => "ticks",
    };
}
