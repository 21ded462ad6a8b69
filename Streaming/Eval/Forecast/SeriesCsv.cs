using System.Globalization;

namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>A univariate series read from a CSV: the rows kept, in time order.</summary>
/// <param name="Timestamps">The time cell of each row as written in the file.</param>
/// <param name="TimesMs">Unix milliseconds per row when the time column holds dates or Unix epochs (null when it holds plain numbers).</param>
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

    /// <summary>Whether the file was not in time order and its rows were sorted by time (within each key).</summary>
    public bool SortedByTime { get; init; }

    /// <summary>Rows whose time cell was empty: kept as missing rows (in <see cref="Missing"/>, counted in <see cref="SkippedRows"/>).</summary>
    public int RowsWithoutTime { get; init; }

    /// <summary>Whether the file was not UTF-8 (and had no byte-order mark) and was read as Latin-1 (ISO-8859-1).</summary>
    public bool ReadAsLatin1 { get; init; }

    /// <summary>Line number of the first row without a time (0: none), for the warning.</summary>
    public int FirstRowWithoutTime { get; init; }

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

/// <summary>
/// Reads one value column of a delimited text file keyed by a time column, with optional <c>column=value</c> filters.
/// Comma, semicolon, tab or bar delimited (guessed from the first line), RFC 4180 quotes, prices written <c>"$1,234.50"</c>;
/// columns by header name (exact, else the one name equal ignoring case) or, when the names are whole numbers that no header
/// has, by 1-based position (a first line whose time and value cells read as data is then data, not a header). Times are
/// dates (ISO 8601 and common export forms, UTC unless an offset is written), Unix seconds or milliseconds, or plain numbers.
/// Rows out of time order (a file written newest first) are put in time order, per key, before anything reads them.
/// </summary>
public static class SeriesCsv
{
    /// <summary>Reads the file. Rows whose value cell is empty or not a number, or whose time cell is empty, are kept apart and counted; a time in another form than the first row's is an error.</summary>
    /// <param name="path">CSV path.</param>
    /// <param name="timeColumn">Header (or 1-based position) of the time column.</param>
    /// <param name="valueColumn">Header (or 1-based position) of the value column.</param>
    /// <param name="filters">Keep only rows whose named column equals the value (all must match).</param>
    /// <param name="keyColumn">Column naming the series each row belongs to (null: one series).</param>
    /// <returns>The series, in time order (within each key; file order among equal times).</returns>
    public static SeriesData Read(string path, string timeColumn, string valueColumn, IReadOnlyList<(string Column, string Value)>? filters = null, string? keyColumn = null)
    {
        filters ??= [];
        // Spreadsheet exports in Western Europe are often Latin-1/Windows-1252 ("température"): read as UTF-8 they would
        // not match the header a user types. Files with a byte-order mark keep it; valid UTF-8 (and ASCII) is unchanged.
        var latin1 = !IsUtf8(path);
        using var reader = latin1 ? new StreamReader(path, System.Text.Encoding.Latin1) : new StreamReader(path);
        string? first;
        var lineNo = 0;
        do
        {
            first = reader.ReadLine();
            lineNo++;
        }
        while (first is not null && first.Trim().Length == 0);
        if (first is null) throw new FormatException($"{path}: empty file.");
        var delimiter = CsvCells.DetectDelimiter(first);
        var names = CsvCells.Split(first, delimiter);
        var requested = new List<string> { timeColumn, valueColumn };
        requested.AddRange(filters.Select(f => f.Column));
        if (keyColumn is not null) requested.Add(keyColumn);
        var (columns, headerless) = ResolveColumns(names, requested, path, delimiter);
        int ti = columns[0], vi = columns[1];
        var fi = filters.Select((f, i) => (columns[2 + i], f.Value)).ToArray();
        var ki = keyColumn is null ? -1 : columns[^1];

        var rows = new List<Row>();
        TimeKind? kind = null;
        var skipped = 0;
        var filteredOut = 0;
        var withoutTime = 0;
        var firstWithoutTime = 0;
        // Outside comma-delimited files a comma in a number is a decimal mark (European exports: `0,156`).
        var decimalComma = delimiter != ',';
        var firstDataLine = headerless ? lineNo : lineNo + 1;
        var lines = headerless ? new[] { first }.Concat(ReadLines(reader)) : ReadLines(reader);
        lineNo = firstDataLine - 1;
        foreach (var line in lines)
        {
            lineNo++;
            if (line.Trim().Length == 0) continue;
            var cells = CsvCells.Split(line, delimiter);
            if (fi.Any(f => f.Item1 >= cells.Length || cells[f.Item1] != f.Value))
            {
                skipped++;
                filteredOut++;
                continue;
            }

            var stamp = ti < cells.Length ? cells[ti] : "";
            var key = ki >= 0 ? (ki < cells.Length ? cells[ki] : "") : "";
            if (stamp.Length == 0)
            {
                // A row without a time cannot be placed in time: it keeps its line (after the row before it) as a missing row.
                skipped++;
                withoutTime++;
                if (firstWithoutTime == 0) firstWithoutTime = lineNo;
                rows.Add(new Row(stamp, double.NaN, double.NaN, key));
                continue;
            }

            if (vi >= cells.Length || !CsvCells.TryParseNumber(cells[vi], decimalComma, out var v))
            {
                // A row without a value keeps its place (and its time, when readable) for the predictions file.
                skipped++;
                var known = kind is { } k && TimeCells.TryRead(stamp, k, out var tm) ? tm : double.NaN;
                rows.Add(new Row(stamp, known, double.NaN, key));
                continue;
            }

            kind ??= TimeCells.Classify(stamp) ?? throw new FormatException($"{path}:{lineNo}: time '{stamp}' is neither a date (yyyy-MM-dd[ HH:mm:ss], ISO 8601, M/d/yyyy) nor a number.");
            if (!TimeCells.TryRead(stamp, kind.Value, out var t))
            {
                throw new FormatException(kind == TimeKind.Date
                    ? $"{path}:{lineNo}: time '{stamp}' is not a date like the rows before it."
                    : $"{path}:{lineNo}: time '{stamp}' is not a number like the rows before it.");
            }

            rows.Add(new Row(stamp, t, v, key));
        }

        if (filters.Count > 0 && rows.Count == 0 && filteredOut > 0)
        {
            throw new FormatException($"{path}: no row matches {string.Join(" and ", filters.Select(f => $"--where {f.Column}={f.Value}"))} ({filteredOut} data rows read).");
        }

        if (!rows.Any(r => !double.IsNaN(r.Value)))
        {
            var why = rows.Count == 0 ? "the file has no data rows" : $"{rows.Count} data row(s), {withoutTime} without a time and the others' values empty or not numbers";
            throw new FormatException($"{path}: no row has a numeric '{valueColumn}' ({why}).");
        }

        var order = TimeOrder(rows, out var sorted);
        return Build(rows, order, kind!.Value, skipped, ki >= 0, sorted) with { RowsWithoutTime = withoutTime, FirstRowWithoutTime = firstWithoutTime, ReadAsLatin1 = latin1 };
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

    /// <summary>Whether the file starts with a byte-order mark or its bytes are valid UTF-8 throughout.</summary>
    /// <param name="path">The file.</param>
    /// <returns>False for a file with bytes that are not UTF-8 and no byte-order mark.</returns>
    internal static bool IsUtf8(string path)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[1 << 16];
        var read = stream.Read(buffer, 0, buffer.Length);
        if (read >= 2 && ((buffer[0] == 0xFF && buffer[1] == 0xFE) || (buffer[0] == 0xFE && buffer[1] == 0xFF))) return true;
        var decoder = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetDecoder();
        var chars = new char[buffer.Length + 2];
        try
        {
            // GetChars (unlike GetCharCount) keeps a character split across two reads for the next one.
            for (; read > 0; read = stream.Read(buffer, 0, buffer.Length)) decoder.GetChars(buffer, 0, read, chars, 0, flush: false);
            decoder.GetChars([], 0, 0, chars, 0, flush: true);
            return true;
        }
        catch (System.Text.DecoderFallbackException)
        {
            return false;
        }
    }

    private static IEnumerable<string> ReadLines(StreamReader reader)
    {
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine()) yield return line;
    }

    /// <summary>Column indices by name (exact, else unique ignoring case), or by 1-based position when every name is a number no header has.</summary>
    private static (int[] Columns, bool Headerless) ResolveColumns(string[] names, List<string> requested, string path, char delimiter)
    {
        var byName = requested.Select(r => IndexOf(names, r)).ToArray();
        if (byName.All(i => i >= 0)) return (byName, false);
        if (requested.All(r => int.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1 && n <= names.Length))
        {
            var positions = requested.Select(r => int.Parse(r, CultureInfo.InvariantCulture) - 1).ToArray();
            var looksLikeData = TimeCells.Classify(names[positions[0]]) is not null && CsvCells.TryParseNumber(names[positions[1]], delimiter != ',', out _);
            return (positions, looksLikeData);
        }

        // Every column given by position (and no header has those names), one of them outside the row: name that one.
        if (requested.All(r => int.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            var beyond = requested.First(r => int.Parse(r, CultureInfo.InvariantCulture) is var n && (n < 1 || n > names.Length));
            throw new FormatException($"{path}: no column {beyond}: the first line has {names.Length} column(s) ({string.Join(", ", names)}){Delimited(delimiter)}.");
        }

        var missing = requested.First(r => IndexOf(names, r) < 0);
        throw new FormatException($"{path}: no column '{missing}' (columns: {string.Join(", ", names)}){Delimited(delimiter)}; name a column by its header or, in a file without one, by its 1-based position.");
    }

    private static string Delimited(char delimiter) => delimiter == ',' ? "" : $" (delimiter '{(delimiter == '\t' ? "\\t" : delimiter.ToString())}')";

    private static int IndexOf(string[] names, string column)
    {
        var exact = Array.IndexOf(names, column);
        if (exact >= 0) return exact;
        var folded = names.Select((n, i) => (n, i)).Where(p => string.Equals(p.n, column.Trim(), StringComparison.OrdinalIgnoreCase)).ToArray();
        return folded.Length == 1 ? folded[0].i : -1;
    }

    /// <summary>
    /// The rows' order: file order when each key's times never go back; otherwise each key's rows are stably sorted by time
    /// into the places that key holds in the file (so several keys stay interleaved as they were). A row without a readable
    /// time takes the time of the row before it (of its key).
    /// </summary>
    private static int[] TimeOrder(List<Row> rows, out bool sorted)
    {
        var order = Enumerable.Range(0, rows.Count).ToArray();
        sorted = false;
        foreach (var group in order.GroupBy(i => rows[i].Key, StringComparer.Ordinal))
        {
            var places = group.ToArray();
            var times = new double[places.Length];
            var last = double.NegativeInfinity;
            var inOrder = true;
            for (var j = 0; j < places.Length; j++)
            {
                var t = rows[places[j]].Time;
                times[j] = double.IsNaN(t) ? last : t;
                if (times[j] < last) inOrder = false;
                last = times[j];
            }

            if (inOrder) continue;
            sorted = true;
            var byTime = Enumerable.Range(0, places.Length).OrderBy(j => times[j]).Select(j => places[j]).ToArray();
            for (var j = 0; j < places.Length; j++) order[places[j]] = byTime[j];
        }

        return order;
    }

    private static SeriesData Build(List<Row> rows, int[] order, TimeKind kind, int skipped, bool keyed, bool sorted)
    {
        var stamps = new List<string>();
        var values = new List<double>();
        var times = new List<long>();
        var keys = new List<string>();
        var missing = new List<(int, string)>();
        foreach (var i in order)
        {
            var r = rows[i];
            if (double.IsNaN(r.Value))
            {
                missing.Add((values.Count, r.Stamp));
                continue;
            }

            stamps.Add(r.Stamp);
            values.Add(r.Value);
            times.Add((long)r.Time);
            keys.Add(r.Key);
        }

        var dated = kind != TimeKind.Number;
        return new SeriesData(stamps.ToArray(), dated ? times.ToArray() : null, values.ToArray(), skipped)
        {
            Keys = keyed ? keys.ToArray() : null,
            Missing = missing,
            SortedByTime = sorted,
        };
    }

    /// <summary>One data row as read: its time cell, the time it reads as (NaN when unreadable), its value (NaN: missing) and key.</summary>
    private readonly record struct Row(string Stamp, double Time, double Value, string Key);
}
