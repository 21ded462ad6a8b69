using System.Globalization;

namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>How a file's time column is written, decided from its first readable cell.</summary>
public enum TimeKind
{
    /// <summary>Dates and times (ISO 8601 and the common export forms, and eight-digit days such as 20240131).</summary>
    Date,

    /// <summary>Unix seconds (a number from 1e9 to 1e10: 2001–2286).</summary>
    UnixSeconds,

    /// <summary>Unix milliseconds (a number from 1e12 to 1e13).</summary>
    UnixMilliseconds,

    /// <summary>Unix microseconds (a number from 1e15 to 1e16), as tick and trace exports write them.</summary>
    UnixMicroseconds,

    /// <summary>Unix nanoseconds (a number from 1e18 to 1e19).</summary>
    UnixNanoseconds,

    /// <summary>Plain numbers with no calendar meaning (row numbers, minutes since admission).</summary>
    Number,
}

/// <summary>Parses time cells: dates in ISO and common export forms (UTC unless an offset is written), Unix epochs, or plain numbers.</summary>
public static class TimeCells
{
    // Month-first for slashes (the invariant culture's order, as US exports write them); day-first with dots.
    private static readonly string[] DateFormats =
    [
        "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-ddTHH:mm:ss.FFFFFFF", "yyyy-MM-ddTHH:mm:ssK",
        "yyyy-MM-ddTHH:mm:ss.FFFFFFFK", "yyyy-MM-dd HH:mm:ssK", "yyyy-MM-dd HH:mm:ss.FFFFFFFK", "yyyy-MM-dd HH:mm", "yyyy-MM-ddTHH:mm",
        "yyyy-MM-ddTHH:mmK", "yyyy-MM-dd", "yyyyMMdd HHmmss", "yyyyMMdd", "yyyy/MM/dd HH:mm:ss", "yyyy/MM/dd HH:mm", "yyyy/MM/dd",
        "M/d/yyyy H:mm:ss", "M/d/yyyy H:mm", "M/d/yyyy h:mm:ss tt", "M/d/yyyy h:mm tt", "M/d/yyyy", "d.M.yyyy HH:mm:ss", "d.M.yyyy HH:mm", "d.M.yyyy",
    ];

    /// <summary>What kind of time a cell holds.</summary>
    /// <param name="cell">The first row's time cell.</param>
    /// <returns>The kind, or null when the cell is neither a number nor a date.</returns>
    public static TimeKind? Classify(string cell)
    {
        // Eight digits that make a calendar date (20240131) are a date, as some exports write days.
        if (cell.Length == 8 && cell.All(char.IsAsciiDigit) && cell[0] is '1' or '2' && TryParseDate(cell, out _)) return TimeKind.Date;
        if (double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x))
        {
            return x switch
            {
                >= 1e9 and < 1e10 => TimeKind.UnixSeconds,
                >= 1e12 and < 1e13 => TimeKind.UnixMilliseconds,
                >= 1e15 and < 1e16 => TimeKind.UnixMicroseconds,
                >= 1e18 and < 1e19 => TimeKind.UnixNanoseconds,
                _ => TimeKind.Number,
            };
        }

        return TryParseDate(cell, out _) ? TimeKind.Date : null;
    }

    /// <summary>Reads a cell of a known kind.</summary>
    /// <param name="cell">The cell.</param>
    /// <param name="kind">The column's kind.</param>
    /// <param name="unixMs">Unix milliseconds (dates and epochs), or the plain number for <see cref="TimeKind.Number"/>.</param>
    /// <returns>Whether the cell is of that kind.</returns>
    public static bool TryRead(string cell, TimeKind kind, out double unixMs)
    {
        unixMs = 0;
        switch (kind)
        {
            case TimeKind.Date:
                if (!TryParseDate(cell, out var ms)) return false;
                unixMs = ms;
                return true;
            case TimeKind.UnixSeconds:
            case TimeKind.UnixMilliseconds:
            case TimeKind.UnixMicroseconds:
            case TimeKind.UnixNanoseconds:
            case TimeKind.Number:
                if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) || !double.IsFinite(x)) return false;
                unixMs = kind switch
                {
                    TimeKind.UnixSeconds => Math.Round(x * 1000),
                    TimeKind.UnixMicroseconds => Math.Round(x / 1e3),
                    TimeKind.UnixNanoseconds => Math.Round(x / 1e6),
                    _ => x,
                };
                return true;
            default:
                return false;
        }
    }

    /// <summary>Parses a date: the listed forms first, then the invariant culture's general parser. Without an offset it is UTC.</summary>
    /// <param name="cell">The cell.</param>
    /// <param name="unixMs">Unix milliseconds.</param>
    /// <returns>Whether it is a date.</returns>
    public static bool TryParseDate(string cell, out long unixMs)
    {
        const DateTimeStyles Utc = DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal;
        if (DateTime.TryParseExact(cell, DateFormats, CultureInfo.InvariantCulture, Utc, out var t)
            || (cell.Length >= 6 && cell.Any(char.IsAsciiDigit) && DateTime.TryParse(cell, CultureInfo.InvariantCulture, Utc, out t)))
        {
            unixMs = new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc), TimeSpan.Zero).ToUnixTimeMilliseconds();
            return true;
        }

        unixMs = 0;
        return false;
    }
}
