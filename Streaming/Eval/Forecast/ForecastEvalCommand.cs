using System.CommandLine;
using System.Globalization;
using StreamLstm.Model.Training;

namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary><c>eval forecast</c>: the streaming forecast evaluation of one CSV series (ours vs baselines, one pass).</summary>
public static class ForecastEvalCommand
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var csv = new Option<FileInfo>("--csv") { Description = "Input CSV with a header row.", Required = true };
        var timeColumn = new Option<string>("--time-column") { Description = "Time column (dates, or plain numbers).", Required = true };
        var valueColumn = new Option<string>("--value-column") { Description = "Value column; a row with an empty or non-numeric value is not learned from and keeps its line in the predictions with empty cells.", Required = true };
        var horizons = new Option<int>("--horizons") { Description = "K: forecast 1..K rows ahead.", DefaultValueFactory = _ => 1 };
        var predictions = new Option<FileInfo>("--predictions") { Description = "Write timestamp,value,mu_h1..mu_hK,sigma_h1..sigma_hK here (one row per input row).", Required = true };
        var json = new Option<FileInfo>("--json") { Description = "Write the metrics report (ours and the baselines) here.", Required = true };
        var plot = new Option<FileInfo?>("--plot") { Description = "Write a PNG of actual vs forecast with the 95 % band." };
        var plotRows = new Option<int>("--plot-rows") { Description = "Plot only the last N rows (0: all).", DefaultValueFactory = _ => 0 };
        var keyColumn = new Option<string?>("--key-column") { Description = "Column naming the series each row belongs to, when the file interleaves several (per-key state and history, one shared model)." };
        var where = new Option<string[]>("--where") { Description = "Keep only rows where COLUMN=VALUE (repeatable).", AllowMultipleArgumentsPerToken = false };
        var calendar = new Option<string>("--calendar") { Description = "Calendar inputs: auto (time of day below daily spacing, day of week below weekly), on, off.", DefaultValueFactory = _ => "auto" };
        calendar.AcceptOnlyFromAmong("auto", "on", "off");
        var hidden = new Option<int>("--hidden") { Description = "LSTM hidden size.", DefaultValueFactory = _ => new OnlineLstmSettings().Hidden };
        var layers = new Option<int>("--layers") { Description = "LSTM layers (dropout between them).", DefaultValueFactory = _ => new OnlineLstmSettings().Layers };
        var retrain = new Option<int>("--retrain-every") { Description = "Fine-tune every N rows.", DefaultValueFactory = _ => new OnlineLstmSettings().RetrainEvery };
        var window = new Option<int>("--replay-window") { Description = "Rows of recent history each fine-tune uses.", DefaultValueFactory = _ => new OnlineLstmSettings().ReplayWindow };
        var seed = new Option<int>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 1 };
        var set = new Option<string[]>("--set") { Description = "Any other setting of the online LSTM as Name=Value (e.g. Epochs=4, LearningRate=0.003; repeatable)." };
        var device = new Option<TrainingDevice>("--device") { Description = "Trainer device: cpu, gpu or auto.", DefaultValueFactory = _ => TrainingDevice.Cpu };
        var command = new Command("forecast", "Streaming forecast evaluation: one pass in time order, forecast K rows ahead then learn online; ours vs last value, seasonal naive and online linear AR.");
        foreach (var o in new Option[] { csv, timeColumn, valueColumn, horizons, predictions, json, plot, plotRows, where, keyColumn, calendar, hidden, layers, retrain, window, seed, device, set }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var settings = new OnlineLstmSettings
            {
                Hidden = parse.GetValue(hidden), Layers = parse.GetValue(layers), RetrainEvery = parse.GetValue(retrain),
                ReplayWindow = parse.GetValue(window), Seed = parse.GetValue(seed), Device = parse.GetValue(device),
            };
            try
            {
                foreach (var kv in parse.GetValue(set) ?? []) Apply(settings, kv);
            }
            catch (FormatException e)
            {
                parse.InvocationConfiguration.Error.WriteLine($"eval forecast: {e.Message}");
                return 2;
            }

            return Run(new Request(parse.GetValue(csv)!.FullName, parse.GetValue(timeColumn)!, parse.GetValue(valueColumn)!, parse.GetValue(horizons),
                parse.GetValue(predictions)!.FullName, parse.GetValue(json)!.FullName, parse.GetValue(plot)?.FullName, parse.GetValue(plotRows),
                parse.GetValue(where) ?? [], parse.GetValue(calendar)!, settings) { KeyColumn = parse.GetValue(keyColumn) }, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return command;
    }

    /// <summary>What to evaluate and where to write it.</summary>
    internal sealed record Request(string Csv, string TimeColumn, string ValueColumn, int Horizons, string Predictions, string Json, string? Plot, int PlotRows,
        string[] Where, string Calendar, OnlineLstmSettings Settings)
    {
        /// <summary>Key column (null: one series).</summary>
        public string? KeyColumn { get; init; }
    }

    /// <summary>The action: 0 on success, 2 on unreadable input or bad settings.</summary>
    internal static int Run(Request q, TextWriter stdout, TextWriter stderr)
    {
        SeriesData series;
        try
        {
            if (q.Horizons < 1) throw new ArgumentException("--horizons must be >= 1.");
            q.Settings.Validate();
            series = SeriesCsv.Read(q.Csv, q.TimeColumn, q.ValueColumn, q.Where.Select(SeriesCsv.ParseFilter).ToArray(), q.KeyColumn);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException)
        {
            stderr.WriteLine($"eval forecast: {e.Message}");
            return 2;
        }

        if (Unusable(series, q.Horizons) is { } why)
        {
            stderr.WriteLine($"eval forecast: {q.Csv}: {why}");
            return 2;
        }

        // The output folders are made before the pass, so that an output that cannot be written ends the run before its minutes of work.
        if (Unwritable([q.Predictions, q.Json, q.Plot]) is { } cannot)
        {
            stderr.WriteLine($"eval forecast: {cannot}");
            return 2;
        }

        if (series.ReadAsLatin1) stdout.WriteLine("note: the file is not UTF-8; it was read as Latin-1 (ISO-8859-1)");
        if (series.SortedByTime) stdout.WriteLine("note: the rows were not in time order (e.g. newest first); they are read, forecast and written in time order");
        if (series.RowsWithoutTime > 0) stderr.WriteLine($"eval forecast: warning: {series.RowsWithoutTime} row(s) with an empty time cell kept as missing rows, not learned from (first at line {series.FirstRowWithoutTime})");
        ForecastEvalResult result;
        try
        {
            result = ForecastEvaluation.Run(series, q.Horizons, q.Settings, CalendarFor(series, q.Calendar));
        }
        catch (OutOfMemoryException)
        {
            // The estimate in Unusable is a floor; a run that still does not fit ends with a message, not a stack trace.
            stderr.WriteLine($"eval forecast: {q.Csv}: out of memory for {series.Count} rows × {q.Horizons} horizons; use fewer horizons or a shorter series.");
            return 2;
        }

        var ours = result.Models.Single(m => m.Name == ForecastOutputs.Ours);
        try
        {
            ForecastOutputs.WritePredictions(q.Predictions, series, q.Horizons, ours);
            ForecastOutputs.WriteJson(q.Json, result, Path.GetFileName(q.Csv), q.ValueColumn, q.Settings);
            if (q.Plot is not null) ForecastPlot.Write(q.Plot, result, $"{Path.GetFileName(q.Csv)} {q.ValueColumn}", q.PlotRows);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"eval forecast: cannot write the outputs: {e.Message}");
            return 2;
        }

        Print(result, stdout);
        stdout.WriteLine($"wrote {q.Predictions}, {q.Json}{(q.Plot is null ? "" : ", " + q.Plot)}");
        return 0;
    }

    /// <summary>Makes each output's folder; says why one cannot be written there (a folder by that name, a folder that cannot
    /// be made), or null.</summary>
    /// <param name="paths">Output paths (null: not asked for).</param>
    /// <returns>The reason, or null.</returns>
    internal static string? Unwritable(IEnumerable<string?> paths)
    {
        foreach (var path in paths.OfType<string>())
        {
            if (Directory.Exists(path)) return $"cannot write {path}: it is a folder.";
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return $"cannot write {path}: {e.Message}";
            }
        }

        return null;
    }

    /// <summary>Why a series cannot be evaluated at K horizons (null when it can): no forecast K rows ahead exists in a key of K
    /// rows or fewer, and the forecasts of every model must fit in memory.</summary>
    /// <param name="series">Input.</param>
    /// <param name="horizons">K.</param>
    /// <returns>The reason, or null.</returns>
    internal static string? Unusable(SeriesData series, int horizons)
    {
        var longest = series.Keys is null ? series.Count : series.Keys.GroupBy(k => k, StringComparer.Ordinal).Max(g => g.Count());
        var inv = CultureInfo.InvariantCulture;
        if (horizons >= longest)
        {
            var what = series.Keys is null ? $"{longest} row(s) with a value" : $"at most {longest} row(s) with a value per key";
            return string.Create(inv, $"--horizons {horizons} needs a series of more than {horizons} rows, it has {what}: no forecast {horizons} rows ahead could be scored.");
        }

        // Per model (five) a mean and a σ per row and horizon, plus each key's ring of the last K rows' K forecasts.
        var keys = series.Keys is null ? 1 : series.Keys.Distinct(StringComparer.Ordinal).Count();
        var bytes = 8.0 * 5 * 2 * (((double)series.Count * horizons) + ((double)keys * horizons * horizons));
        var available = (double)GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return bytes > available / 2
            ? string.Create(inv, $"--horizons {horizons} on {series.Count} rows needs about {bytes / (1 << 30):F1} GiB for the forecasts alone ({available / (1 << 30):F1} GiB available); use fewer horizons or a shorter series.")
            : null;
    }

    /// <summary>Calendar inputs for a series: <c>auto</c> takes time of day when rows are under a day apart and day of week when under a week.</summary>
    /// <param name="series">Input.</param>
    /// <param name="mode">auto, on or off.</param>
    /// <returns>The features.</returns>
    internal static CalendarFeatures CalendarFor(SeriesData series, string mode)
    {
        if (series.TimesMs is null || mode == "off") return CalendarFeatures.None;
        if (mode == "on") return CalendarFeatures.TimeOfDay | CalendarFeatures.DayOfWeek;
        var spacing = series.MedianSpacingMs();
        var f = CalendarFeatures.None;
        if (spacing < 86_400_000) f |= CalendarFeatures.TimeOfDay;
        if (spacing < 7 * 86_400_000.0) f |= CalendarFeatures.DayOfWeek;
        return f;
    }

    /// <summary>Sets one property of <paramref name="settings"/> from <c>Name=Value</c>.</summary>
    /// <param name="settings">Settings.</param>
    /// <param name="assignment">Name=Value.</param>
    internal static void Apply(OnlineLstmSettings settings, string assignment)
    {
        // Not ParseFilter: its message names --where.
        var eq = assignment.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0) throw new FormatException($"--set '{assignment}': expected Name=Value.");
        var (name, value) = (assignment[..eq], assignment[(eq + 1)..]);
        var prop = typeof(OnlineLstmSettings).GetProperty(name) ?? throw new FormatException($"--set {assignment}: no setting '{name}'.");
        try
        {
            object parsed = prop.PropertyType.IsEnum
                ? Enum.Parse(prop.PropertyType, value, ignoreCase: true)
                : Convert.ChangeType(value, prop.PropertyType, CultureInfo.InvariantCulture);
            prop.SetValue(settings, parsed);
        }
        catch (Exception e) when (e is InvalidCastException or OverflowException or ArgumentException or FormatException)
        {
            throw new FormatException($"--set {assignment}: '{value}' is not a {prop.PropertyType.Name}.");
        }
    }

    private static void Print(ForecastEvalResult r, TextWriter o)
    {
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(inv, $"{r.Series.Count} rows ({r.Series.SkippedRows} skipped), {r.KeyCount} key(s), K={r.Horizons}, period {(r.Periods.Count == 0 ? 0 : r.Periods[^1].Period)}, calendar {r.Calendar}, {r.Lstm.Fits} fine-tunes ({r.Lstm.Promotions} promoted), {r.Elapsed.TotalSeconds:F1} s"));
        o.WriteLine($"{"model",-16} {"h",3} {"n",7} {"NRMSE",8} {"MAE",10} {"MAPE%",8} {"NLL",8} {"cov80",6} {"cov95",6}");
        foreach (var m in r.Models)
        {
            for (var k = 0; k < r.Horizons; k++)
            {
                var h = m.Metrics[k];
                o.WriteLine(string.Create(inv, $"{m.Name,-16} {k + 1,3} {h.Count,7} {h.Nrmse,8:F4} {h.Mae,10:G4} {h.Mape,8:F2} {h.Nll,8:F3} {h.Coverage80,6:F3} {h.Coverage95,6:F3}"));
            }
        }

        foreach (var note in ForecastNotes.Of(r)) o.WriteLine($"note: {note}");
        var g = ForecastOutputs.Goals(r);
        o.WriteLine($"goals: beats every baseline in NRMSE at h=1 {(g.H1 ? "yes" : "no")}, at h={r.Horizons} {(g.HK ? "yes" : "no")}; 95 % coverage in 92-98 % {(g.Coverage ? "yes" : "no")}");
    }
}
