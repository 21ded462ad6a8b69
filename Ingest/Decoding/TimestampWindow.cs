namespace StreamLstm.Ingest.Decoding;

/// <summary>
/// Event times a decoder accepts: from <see cref="Earliest"/> to <see cref="MaxAhead"/> past the wall clock (read from
/// the decoder's <see cref="TimeProvider"/>), never outside [<see cref="EarliestSupported"/>, <see cref="LatestSupported"/>].
/// Those hard ends are where the sink's conversion of Unix milliseconds to nanoseconds (plus a sub-millisecond part)
/// still fits a <see cref="long"/>, and InfluxDB's own time range. Others go to the DLQ as
/// <see cref="DeadLetterReason.TimestampOutOfRange"/>. The default, Unix epoch to one day ahead, admits historical
/// replays (market closes from 1989) and rejects clock or unit mistakes such as <c>"ts":99999999999999999</c>.
/// </summary>
public sealed class TimestampWindow
{
    /// <summary>The earliest time any window may start at (1678-01-01Z; InfluxDB starts at 1677-09-21).</summary>
    public static readonly DateTimeOffset EarliestSupported = new(1678, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The latest time any window reaches (2262-01-01Z; nanoseconds since the epoch overflow a long on 2262-04-11).</summary>
    public static readonly DateTimeOffset LatestSupported = new(2262, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The longest <see cref="MaxAhead"/> allowed (100 years; the window still ends at <see cref="LatestSupported"/>).</summary>
    public static readonly TimeSpan MaxAheadLimit = TimeSpan.FromDays(36_525);

    /// <summary><see cref="EarliestSupported"/> in Unix milliseconds.</summary>
    public static readonly long EarliestSupportedMs = EarliestSupported.ToUnixTimeMilliseconds();

    /// <summary><see cref="LatestSupported"/> in Unix milliseconds.</summary>
    public static readonly long LatestSupportedMs = LatestSupported.ToUnixTimeMilliseconds();

    private readonly long _maxAheadMs;

    /// <summary>Creates a window.</summary>
    /// <param name="earliest">Earliest accepted event time.</param>
    /// <param name="maxAhead">How far past the wall clock an event time may lie.</param>
    /// <exception cref="ArgumentOutOfRangeException">The window breaks a rule of <see cref="Problems"/>.</exception>
    public TimestampWindow(DateTimeOffset earliest, TimeSpan maxAhead)
    {
        var problems = Problems(earliest, maxAhead, nameof(earliest), nameof(maxAhead));
        if (problems.Count > 0) throw new ArgumentOutOfRangeException(nameof(earliest), string.Join(" ", problems));
        Earliest = earliest;
        MaxAhead = maxAhead;
        EarliestMs = earliest.ToUnixTimeMilliseconds();
        _maxAheadMs = (long)maxAhead.TotalMilliseconds;
    }

    /// <summary>Unix epoch to one day ahead of the wall clock.</summary>
    public static TimestampWindow Default { get; } = new(DateTimeOffset.UnixEpoch, TimeSpan.FromDays(1));

    /// <summary>Earliest accepted event time.</summary>
    public DateTimeOffset Earliest { get; }

    /// <summary>How far past the wall clock an event time may lie.</summary>
    public TimeSpan MaxAhead { get; }

    /// <summary><see cref="Earliest"/> in Unix milliseconds.</summary>
    public long EarliestMs { get; }

    /// <summary>The latest accepted event time, in Unix milliseconds, when the wall clock reads <paramref name="now"/>.</summary>
    /// <param name="now">The wall clock.</param>
    /// <returns>min(now + <see cref="MaxAhead"/>, <see cref="LatestSupported"/>).</returns>
    public long LatestMs(DateTimeOffset now) => Math.Min(LatestSupportedMs, now.ToUnixTimeMilliseconds() + _maxAheadMs);

    /// <summary>Whether <paramref name="unixMs"/> is accepted when the wall clock reads <paramref name="now"/>.</summary>
    /// <param name="unixMs">Event time.</param>
    /// <param name="now">The wall clock.</param>
    /// <returns>True when inside the window.</returns>
    public bool Contains(long unixMs, DateTimeOffset now) => unixMs >= EarliestMs && unixMs <= LatestMs(now);

    /// <summary>What is wrong with a window (empty when nothing), each problem naming the setting and what to set.</summary>
    /// <param name="earliest">Earliest accepted event time.</param>
    /// <param name="maxAhead">How far past the wall clock an event time may lie.</param>
    /// <param name="earliestName">The setting that holds <paramref name="earliest"/>, for the messages.</param>
    /// <param name="maxAheadName">The setting that holds <paramref name="maxAhead"/>.</param>
    /// <returns>Problems.</returns>
    public static IReadOnlyList<string> Problems(DateTimeOffset earliest, TimeSpan maxAhead, string earliestName, string maxAheadName)
    {
        var problems = new List<string>();
        if (earliest < EarliestSupported || earliest >= LatestSupported)
        {
            problems.Add($"{earliestName} must be from {EarliestSupported:yyyy-MM-dd} to before {LatestSupported:yyyy-MM-dd} (was {earliest:O}), e.g. 1970-01-01T00:00:00Z.");
        }

        if (maxAhead < TimeSpan.Zero || maxAhead > MaxAheadLimit)
        {
            problems.Add($"{maxAheadName} must be between 00:00:00 and {MaxAheadLimit.Days}.00:00:00 (was {maxAhead}), e.g. 1.00:00:00 for one day.");
        }

        return problems;
    }
}
