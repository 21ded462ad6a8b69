namespace StreamLstm.Sink.LineProtocol;

/// <summary>Timestamp precision of line-protocol points.</summary>
public enum WritePrecision
{
    /// <summary>Nanoseconds.</summary>
    Nanoseconds = 0,

    /// <summary>Microseconds.</summary>
    Microseconds = 1,

    /// <summary>Milliseconds (the default: events carry millisecond times).</summary>
    Milliseconds = 2,

    /// <summary>Seconds.</summary>
    Seconds = 3,
}

/// <summary>Conversions and wire names for <see cref="WritePrecision"/>.</summary>
public static class WritePrecisionExtensions
{
    /// <summary>The InfluxDB 1.x <c>precision=</c> value: <c>ns</c>, <c>u</c>, <c>ms</c>, <c>s</c>.</summary>
    /// <param name="precision">The precision.</param>
    /// <returns>The query value.</returns>
    public static string ToV1Query(this WritePrecision precision) => precision switch
    {
        WritePrecision.Nanoseconds => "ns",
        WritePrecision.Microseconds => "u",
        WritePrecision.Milliseconds => "ms",
        WritePrecision.Seconds => "s",
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, null),
    };

    /// <summary>The InfluxDB 2.x <c>precision=</c> value: <c>ns</c>, <c>us</c>, <c>ms</c>, <c>s</c>.</summary>
    /// <param name="precision">The precision.</param>
    /// <returns>The query value.</returns>
    public static string ToV2Query(this WritePrecision precision) => precision switch
    {
        WritePrecision.Nanoseconds => "ns",
        WritePrecision.Microseconds => "us",
        WritePrecision.Milliseconds => "ms",
        WritePrecision.Seconds => "s",
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, null),
    };

    /// <summary>Converts Unix milliseconds to a timestamp in <paramref name="precision"/> (seconds truncate toward negative infinity).</summary>
    /// <param name="precision">Target precision.</param>
    /// <param name="unixMs">Unix epoch milliseconds.</param>
    /// <returns>The timestamp value to write.</returns>
    public static long FromUnixMs(this WritePrecision precision, long unixMs) => precision switch
    {
        WritePrecision.Nanoseconds => checked(unixMs * 1_000_000L),
        WritePrecision.Microseconds => checked(unixMs * 1_000L),
        WritePrecision.Milliseconds => unixMs,
        WritePrecision.Seconds => Math.DivRem(unixMs, 1000L) is var (q, r) && r < 0 ? q - 1 : q,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, null),
    };
}
