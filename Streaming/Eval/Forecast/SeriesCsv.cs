using System.Globalization;

namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>A univariate series read from a CSV: the rows kept, in time order.</summary>
/// <param name="Timestamps">The time cell of each row as written in the file.</param>
/// <param name="TimesMs">Unix milliseconds per row when the time column holds dates (null when it holds plain numbers).</param>
/// <param name="Values">Value per row.</param>
/// <param name="SkippedRows">Data rows dropped: empty or non-numeric value, or not matching a filter.</param>
public sealed record SeriesData(string[] Timestamps, long[]? TimesMs, double[] Values, int SkippedRows)
{
    /// <summary>Key of each row when the file interleaves several series (null: one series).</summary>
    public string[]? Keys { get; init; }

    /// <summary>
    /// Rows of the series whose value was empty or not a number, kept apart so the predictions file still has one row per input
    /// row: each with the index of the kept row it came before (<see cref="Count"/> when after the last) and its time cell.
    /// Rows left out by a filter are not part of the series and are not listed.
    /// </summary>
    public IReadOnlyList<(int Before, string Timestamp)> Missing { get; init; } = [];

    /// <summary>Rows.</summary>
    public int Count => Values.Length;

    /// <summary>Median spacing of the rows in milliseconds (NaN without dates).</summary>
    /// <returns>The spacing.</returns>
    public double MedianSpacingMs()
    {
        if (TimesMs is null || TimesMs.Length < 2) return double.NaN;
        var d = new double[TimesMs.Length - 1];
        for (var i = 1; i < TimesMs.Length; i++) d[i - 1] = TimesMs[i] - TimesMs[i - 1];
        Array.Sort(d);
        return d[d.Length / 2];
    }
}

/// <summary>Reads one value column of a CSV with a header row, keyed by a time column, with optional <c>column=value</c> filters.</summary>
public static class SeriesCsv
{
    private static readonly string[] DateFormats =
    [
        "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-ddTHH:mm:ss.FFFFFFF", "yyyy-MM-ddTHH:mm:ssK",
        "yyyy-MM-ddTHH:mm:ss.FFFFFFFK", "yyyy-MM-dd HH:mm", "yyyy-MM-dd", "yyyyMMdd HHmmss",
    ];

    /// <summary>Reads the file. Rows whose value cell is empty or not a number are skipped and counted; an unreadable time is an error.</summary>
    /// <param name="path">CSV path.</param>
    /// <param name="timeColumn">Header of the time column (dates, or plain numbers such as minutes).</param>
    /// <param name="valueColumn">Header of the value column.</param>
    /// <param name="filters">Keep only rows whose named column equals the value (all must match).</param>
    /// <param name="keyColumn">Column naming the series each row belongs to (null: one series).</param>
    /// <returns>The series, in file order (which must be time order, within each key).</returns>
    public static SeriesData Read(string path, string timeColumn, string valueColumn, IReadOnlyList<(string Column, string Value)>? filters = null, string? keyColumn = null)
    {
        filters ??= [];
        using var reader = new StreamReader(path);
        var header = reader.ReadLine() ?? throw new FormatException($"{path}: empty file.");
        var names = Split(header);
        int ti = Index(names, timeColumn, path), vi = Index(names, valueColumn, path);
        var fi = filters.Select(f => (Index(names, f.Column, path), f.Value)).ToArray();
        var ki = keyColumn is null ? -1 : Index(names, keyColumn, path);
        var keys = new List<string>();
        var stamps = new List<string>();
        var values = new List<double>();
        var times = new List<long>();
        bool? dated = null;
        var skipped = 0;
        var missing = new List<(int, string)>();
        var lineNo = 1;
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNo++;
            if (line.Length == 0) continue;
            var cells = Split(line);
            if (fi.Any(f => f.Item1 >= cells.Length || cells[f.Item1] != f.Value)) { skipped++; continue; }
            if (vi >= cells.Length || !double.TryParse(cells[vi], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
            {
                skipped++;
                missing.Add((values.Count, ti < cells.Length ? cells[ti] : ""));
                continue;
            }

            var stamp = ti < cells.Length ? cells[ti] : "";
            dated ??= !double.TryParse(stamp, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
            if (dated.Value)
            {
                if (!DateTime.TryParseExact(stamp, DateFormats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t))
                {
                    throw new FormatException($"{path}:{lineNo}: time '{stamp}' is not a date (yyyy-MM-dd[ HH:mm:ss]).");
                }

                times.Add(new DateTimeOffset(t, TimeSpan.Zero).ToUnixTimeMilliseconds());
            }
            else if (!double.TryParse(stamp, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            {
                throw new FormatException($"{path}:{lineNo}: time '{stamp}' is not a number like the rows before it.");
            }

            stamps.Add(stamp);
            values.Add(v);
            if (ki >= 0) keys.Add(ki < cells.Length ? cells[ki] : "");
        }

        if (values.Count == 0) throw new FormatException($"{path}: no row has a numeric '{valueColumn}'.");
        return new SeriesData(stamps.ToArray(), dated == true ? times.ToArray() : null, values.ToArray(), skipped) { Keys = ki >= 0 ? keys.ToArray() : null, Missing = missing };
    }

    /// <summary>Parses <c>column=value</c>.</summary>
    /// <param name="text">Filter text.</param>
    /// <returns>The pair.</returns>
    public static (string Column, string Value) ParseFilter(string text)
    {
        var eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0) throw new FormatException($"--where '{text}': expected column=value.");
        return (text[..eq], text[(eq + 1)..]);
    }

    private static int Index(string[] names, string column, string path)
    {
        var i = Array.IndexOf(names, column);
        return i >= 0 ? i : throw new FormatException($"{path}: no column '{column}' (columns: {string.Join(", ", names)}).");
    }

    // Plain comma split; surrounding quotes and spaces are removed (the real-data files have no embedded commas).
    private static string[] Split(string line) => line.Split(',').Select(c => c.Trim().Trim('"')).ToArray();
}
