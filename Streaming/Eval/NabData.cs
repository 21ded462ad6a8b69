using System.Globalization;
using System.Text.Json;

namespace StreamLstm.Streaming.Eval;

/// <summary>One NAB data file: timestamps, values and its labelled windows as row ranges.</summary>
/// <param name="Series">Scoring view (rows, probation, windows); its name is NAB's key <c>&lt;category&gt;/&lt;file&gt;.csv</c>.</param>
/// <param name="TimestampsMs">Unix milliseconds per row.</param>
/// <param name="Values">Value per row.</param>
public sealed record NabFile(NabSeries Series, long[] TimestampsMs, double[] Values)
{
    /// <summary>Data rows left out because they did not read as <c>timestamp,value</c>.</summary>
    public int SkippedRows { get; init; }

    /// <summary>The first such row (line number and text), for the warning; null when none.</summary>
    public string? FirstSkipped { get; init; }

    /// <summary>Whether the windows file has an entry for this file (false: scored as a file without anomalies).</summary>
    public bool HasWindowsEntry { get; init; } = true;

    /// <summary>Windows of this file's entry that hold none of its rows (left out).</summary>
    public int WindowsOutside { get; init; }

    /// <summary>Whether the rows were not in time order and were put in it (stably) before scoring.</summary>
    public bool Sorted { get; init; }

    /// <summary>The category folder (<c>realKnownCause</c>, …).</summary>
    public string Category => Series.Name.Contains('/', StringComparison.Ordinal) ? Series.Name[..Series.Name.IndexOf('/', StringComparison.Ordinal)] : "";

    /// <summary>The file name.</summary>
    public string FileName => Series.Name[(Series.Name.IndexOf('/', StringComparison.Ordinal) + 1)..];
}

/// <summary>Reads a NAB layout: every category folder of CSVs under <c>nab/</c>, with <c>combined_windows.json</c> beside them.</summary>
public static class NabData
{
    /// <summary>The NAB corpus folder under a data directory.</summary>
    /// <param name="dataDir">Data directory (e.g. <c>../shared/data</c>).</param>
    /// <returns>The <c>nab</c> folder.</returns>
    public static string NabDir(string dataDir) => Path.Combine(dataDir, "nab");

    /// <summary>Loads every <c>&lt;category&gt;/*.csv</c> of the NAB layout found at <paramref name="dataDir"/> (see <see cref="NabLayout.Find"/>).</summary>
    /// <param name="dataDir">Data directory.</param>
    /// <returns>The files.</returns>
    public static IReadOnlyList<NabFile> LoadAll(string dataDir) =>
        LoadAll(NabLayout.Find(dataDir) ?? throw new DirectoryNotFoundException(NabLayout.NotFound(dataDir)));

    /// <summary>Loads every <c>&lt;category&gt;/*.csv</c> under the layout's data folder, categories and files sorted by name.</summary>
    /// <param name="layout">Where the parts are.</param>
    /// <returns>The files.</returns>
    public static IReadOnlyList<NabFile> LoadAll(NabLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var windows = ReadWindows(layout.WindowsPath);
        var files = new List<NabFile>();
        foreach (var dir in Directory.GetDirectories(layout.DataRoot).Order(StringComparer.Ordinal))
        {
            var category = Path.GetFileName(dir);
            foreach (var f in Directory.GetFiles(dir, "*.csv").Order(StringComparer.Ordinal)) files.Add(Load(f, category, windows));
        }

        if (files.Count == 0) throw new FileNotFoundException($"No <category>/*.csv under {layout.DataRoot}.");
        return files;
    }

    /// <summary>Loads every <c>realKnownCause/*.csv</c>, sorted by name.</summary>
    /// <param name="dataDir">Data directory.</param>
    /// <returns>The files.</returns>
    public static IReadOnlyList<NabFile> LoadRealKnownCause(string dataDir) => LoadAll(dataDir).Where(f => f.Category == "realKnownCause").ToArray();

    /// <summary>Loads one NAB CSV and maps its windows (looked up as <c>&lt;category&gt;/&lt;name&gt;</c>) to row ranges.</summary>
    /// <param name="csvPath">CSV path.</param>
    /// <param name="category">Category folder name.</param>
    /// <param name="windows">Windows by NAB relative path.</param>
    /// <returns>The file.</returns>
    public static NabFile Load(string csvPath, string category, IReadOnlyDictionary<string, List<(long Start, long End)>> windows)
    {
        ArgumentNullException.ThrowIfNull(windows);
        var ts = new List<long>();
        var values = new List<double>();
        var lineNo = 0;
        var skipped = 0;
        string? firstBad = null;
        foreach (var line in File.ReadLines(csvPath))
        {
            lineNo++;
            if (line.Trim().Length == 0) continue;
            var cells = Forecast.CsvCells.Split(line, ',');
            // The first line is NAB's header, unless the file has none and it is already a data row.
            if (lineNo == 1 && (cells.Length < 2 || !Forecast.TimeCells.TryParseDate(cells[0], out _))) continue;
            if (cells.Length < 2
                || !Forecast.TimeCells.TryParseDate(cells[0], out var ms)
                || !Forecast.CsvCells.TryParseNumber(cells[1], out var v))
            {
                // A row that is not `timestamp,value` is left out and counted, not a reason to score no file at all.
                skipped++;
                firstBad ??= $"line {lineNo}: '{(line.Length > 60 ? line[..60] + "…" : line)}'";
                continue;
            }

            ts.Add(ms);
            values.Add(v);
        }

        if (ts.Count == 0) throw new FormatException($"{csvPath}: no row reads as 'timestamp,value' (yyyy-MM-dd HH:mm:ss,number).");

        // Scoring and the windows assume time order: rows out of order are put in it (stably: equal times keep their order).
        var sorted = false;
        for (var i = 1; i < ts.Count && !sorted; i++) sorted = ts[i] < ts[i - 1];
        if (sorted)
        {
            var order = Enumerable.Range(0, ts.Count).OrderBy(i => ts[i]).ToArray();
            var (t0, v0) = (ts.ToArray(), values.ToArray());
            for (var i = 0; i < order.Length; i++) (ts[i], values[i]) = (t0[order[i]], v0[order[i]]);
        }

        var key = category + "/" + Path.GetFileName(csvPath);
        var rows = new List<(int, int)>();
        var outside = 0;
        var listed = windows.TryGetValue(key, out var list);
        foreach (var (s, e) in list ?? [])
        {
            // Window bounds are timestamps; the window holds every row whose time lies within them.
            var start = ts.FindIndex(x => x >= s);
            var end = ts.FindLastIndex(x => x <= e);
            if (start >= 0 && end >= start) rows.Add((start, end));
            else outside++;
        }

        var series = new NabSeries(key, ts.Count, NabSeries.ProbationOf(ts.Count), rows);
        return new NabFile(series, ts.ToArray(), values.ToArray()) { SkippedRows = skipped, FirstSkipped = firstBad, HasWindowsEntry = listed, WindowsOutside = outside, Sorted = sorted };
    }

    /// <summary>Reads <c>combined_windows.json</c>: file → list of [start, end] timestamps.</summary>
    /// <param name="path">JSON path.</param>
    /// <returns>Windows as Unix milliseconds, by NAB relative path.</returns>
    /// <exception cref="FormatException">The file is not JSON, or not an object of lists of [start, end] timestamp pairs (the message names the entry).</exception>
    public static Dictionary<string, List<(long Start, long End)>> ReadWindows(string path)
    {
        using var doc = ParseJson(path);
        var result = new Dictionary<string, List<(long, long)>>(StringComparer.Ordinal);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new FormatException($"{path}: expected an object of \"<category>/<file>.csv\": [[start, end], ...].");
        foreach (var file in doc.RootElement.EnumerateObject())
        {
            var list = new List<(long, long)>();
            var shape = $"{path}: \"{file.Name}\": expected a list of [\"yyyy-MM-dd HH:mm:ss[.ffffff]\", \"...\"] pairs";
            if (file.Value.ValueKind != JsonValueKind.Array) throw new FormatException(shape + ".");
            foreach (var w in file.Value.EnumerateArray())
            {
                if (w.ValueKind != JsonValueKind.Array || w.GetArrayLength() != 2 || w[0].ValueKind != JsonValueKind.String || w[1].ValueKind != JsonValueKind.String)
                {
                    throw new FormatException($"{shape}, found {w.GetRawText()}.");
                }

                list.Add((ParseTime(w[0].GetString()!, path, file.Name), ParseTime(w[1].GetString()!, path, file.Name)));
            }

            result[file.Name] = list;
        }

        return result;
    }

    /// <summary>Parses a JSON file, naming the file when it is not JSON.</summary>
    /// <param name="path">JSON path.</param>
    /// <returns>The document.</returns>
    /// <exception cref="FormatException">Not JSON.</exception>
    internal static JsonDocument ParseJson(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}: not valid JSON ({e.Message})", e);
        }
    }

    private static long ParseTime(string s, string path, string entry) =>
        DateTime.TryParseExact(s, ["yyyy-MM-dd HH:mm:ss.ffffff", "yyyy-MM-dd HH:mm:ss"], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t)
            ? new DateTimeOffset(t, TimeSpan.Zero).ToUnixTimeMilliseconds()
            : throw new FormatException($"{path}: \"{entry}\": window time '{s}' is not yyyy-MM-dd HH:mm:ss[.ffffff].");
}

/// <summary>Where the parts of a NAB corpus are: the folder of category folders, the windows file and the profiles file.</summary>
/// <param name="DataRoot">Folder holding <c>&lt;category&gt;/*.csv</c>.</param>
/// <param name="WindowsPath"><c>combined_windows.json</c>.</param>
/// <param name="ProfilesPath"><c>profiles.json</c> (NAB's standard profile is used when it is absent).</param>
public sealed record NabLayout(string DataRoot, string WindowsPath, string ProfilesPath)
{
    /// <summary>
    /// Finds a NAB corpus at <paramref name="dir"/>, in one of three layouts: <c>dir/nab/</c> with <c>combined_windows.json</c>
    /// and <c>profiles.json</c> beside the category folders (this project's <c>../shared/data</c>); <c>dir</c> itself being
    /// that folder; or a checkout of NAB's own repository (<c>data/&lt;category&gt;/</c>, <c>labels/combined_windows.json</c>,
    /// <c>config/profiles.json</c>).
    /// </summary>
    /// <param name="dir">Folder to look in.</param>
    /// <returns>The layout, or null when none is there.</returns>
    public static NabLayout? Find(string dir)
    {
        var nab = Path.Combine(dir, "nab");
        if (Directory.Exists(nab)) return new NabLayout(nab, Path.Combine(nab, "combined_windows.json"), Path.Combine(nab, "profiles.json"));
        if (File.Exists(Path.Combine(dir, "combined_windows.json"))) return new NabLayout(dir, Path.Combine(dir, "combined_windows.json"), Path.Combine(dir, "profiles.json"));
        var labels = Path.Combine(dir, "labels", "combined_windows.json");
        if (File.Exists(labels) && Directory.Exists(Path.Combine(dir, "data"))) return new NabLayout(Path.Combine(dir, "data"), labels, Path.Combine(dir, "config", "profiles.json"));
        return null;
    }

    /// <summary>The error text for a folder without a NAB layout.</summary>
    /// <param name="dir">The folder.</param>
    /// <returns>What was looked for.</returns>
    public static string NotFound(string dir) =>
        $"no NAB corpus under {dir}: looked for nab/ (category folders with combined_windows.json beside them), combined_windows.json in the folder itself, and NAB's repository layout (data/, labels/combined_windows.json).";
}
