using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace StreamLstm.Streaming.Eval;

/// <summary>Everything one NAB evaluation run measured.</summary>
/// <param name="Files">The files, in order.</param>
/// <param name="Profiles">Profile name → (ours, baseline) results.</param>
public sealed record NabEvalReport(IReadOnlyList<NabFile> Files, IReadOnlyList<(string Profile, NabResult Ours, NabResult Baseline)> Profiles);

/// <summary><c>eval</c>: evaluations of the anomaly scoring on real labelled data.</summary>
public static class NabEvalCommand
{
    /// <summary>Builds the <c>eval</c> command with its <c>nab</c> subcommand.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("eval", "Evaluate the anomaly scoring on real labelled data.");
        command.Subcommands.Add(CreateNab());
        command.Subcommands.Add(Forecast.ForecastEvalCommand.Create());
        return command;
    }

    private static Command CreateNab()
    {
        var dataDir = new Option<DirectoryInfo>("--data-dir") { Description = "Shared data folder holding nab/.", DefaultValueFactory = _ => new DirectoryInfo("../shared/data") };
        var output = new Option<FileInfo>("--out") { Description = "Write the JSON report here.", DefaultValueFactory = _ => new FileInfo("artifacts/eval/nab.json") };
        var hidden = new Option<int>("--hidden") { Description = "LSTM hidden size.", DefaultValueFactory = _ => 24 };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs on each file's probation rows.", DefaultValueFactory = _ => 8 };
        var seed = new Option<int>("--seed") { Description = "Seed for initialisation and window sampling.", DefaultValueFactory = _ => 1 };
        var only = new Option<string?>("--file") { Description = "Evaluate only the realKnownCause file with this name." };
        var nab = new Command("nab", "NAB realKnownCause: our LSTM + Sink anomaly scoring vs NAB's windowed Gaussian, NAB-normalised scores; prints a table, writes JSON.");
        nab.Options.Add(dataDir);
        nab.Options.Add(output);
        nab.Options.Add(hidden);
        nab.Options.Add(epochs);
        nab.Options.Add(seed);
        nab.Options.Add(only);
        nab.SetAction(parse => Run(parse.GetValue(dataDir)!, parse.GetValue(output)!, new NabLstmSettings
        {
            Hidden = parse.GetValue(hidden), Epochs = parse.GetValue(epochs), Seed = parse.GetValue(seed),
        }, parse.GetValue(only), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return nab;
    }

    /// <summary>Scores both detectors on the files under every profile in <c>profiles.json</c> (standard first).</summary>
    /// <param name="dataDir">Shared data folder.</param>
    /// <param name="settings">LSTM settings.</param>
    /// <param name="only">Single file name, or null for all.</param>
    /// <returns>The report.</returns>
    public static NabEvalReport Evaluate(string dataDir, NabLstmSettings settings, string? only = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var files = NabData.LoadRealKnownCause(dataDir).Where(f => only is null || f.Series.Name == only).ToArray();
        if (files.Length == 0) throw new FileNotFoundException($"No realKnownCause file named '{only}'.");
        var ours = files.Select(f => NabDetectors.Lstm(f, settings)).ToArray();
        var baseline = files.Select(f => NabDetectors.WindowedGaussian(f.Values)).ToArray();
        var series = files.Select(f => f.Series).ToArray();
        var profiles = ReadProfiles(Path.Combine(NabData.NabDir(dataDir), "profiles.json"));
        return new NabEvalReport(files, profiles.Select(p => (p.Name, NabScorer.Optimise(series, ours, p.Profile), NabScorer.Optimise(series, baseline, p.Profile))).ToArray());
    }

    /// <summary>The <c>eval nab</c> action: 0 on success, 2 when the data cannot be read.</summary>
    internal static int Run(DirectoryInfo dataDir, FileInfo output, NabLstmSettings settings, string? only, TextWriter stdout, TextWriter stderr)
    {
        NabEvalReport report;
        var sw = Stopwatch.StartNew();
        try
        {
            report = Evaluate(ResolveDataDir(dataDir.FullName), settings, only);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or JsonException)
        {
            stderr.WriteLine($"eval nab: {e.Message}");
            return 2;
        }

        var inv = CultureInfo.InvariantCulture;
        var std = report.Profiles[0];
        stdout.WriteLine($"NAB realKnownCause, profile {std.Profile}: normalised score (100 = perfect, 0 = null detector); LSTM H={settings.Hidden}, {settings.Epochs} epochs, seed {settings.Seed}");
        stdout.WriteLine($"{"file",-42} {"rows",6} {"windows",7} {"ours",8} {"win.gauss",9}");
        for (var i = 0; i < report.Files.Count; i++)
        {
            var s = report.Files[i].Series;
            stdout.WriteLine(string.Create(inv, $"{s.Name,-42} {s.Rows,6} {s.Windows.Count,7} {std.Ours.Normalised(i),8:F1} {std.Baseline.Normalised(i),9:F1}"));
        }

        foreach (var (name, o, b) in report.Profiles)
        {
            stdout.WriteLine(string.Create(inv, $"{"TOTAL " + name,-57} {o.Total,8:F1} {b.Total,9:F1}   (thresholds {o.Threshold:G4} / {b.Threshold:G4})"));
        }

        stdout.WriteLine(string.Create(inv, $"elapsed {sw.Elapsed.TotalSeconds:F1} s"));
        var doc = new
        {
            dataset = "NAB v1.1 realKnownCause (Ahmad, Lavin, Purdy, Agha 2017, doi:10.1016/j.neucom.2017.04.070)",
            detector = new { kind = "lstm+sink-anomaly", hidden = settings.Hidden, epochs = settings.Epochs, seed = settings.Seed, score_window = settings.ScoreWindow },
            baseline = new { kind = "windowed-gaussian", window = 6400 },
            files = report.Files.Select((f, i) => new
            {
                name = f.Series.Name,
                rows = f.Series.Rows,
                probation = f.Series.Probation,
                windows = f.Series.Windows.Count,
                scores = report.Profiles.ToDictionary(p => p.Profile, p => new
                {
                    ours = p.Ours.Normalised(i),
                    baseline = p.Baseline.Normalised(i),
                    ours_raw = p.Ours.Raw[i],
                    baseline_raw = p.Baseline.Raw[i],
                    null_raw = p.Ours.Null[i],
                    perfect_raw = p.Ours.Perfect[i],
                }),
            }),
            totals = report.Profiles.ToDictionary(p => p.Profile, p => new
            {
                ours = p.Ours.Total,
                baseline = p.Baseline.Total,
                ours_threshold = p.Ours.Threshold,
                baseline_threshold = p.Baseline.Threshold,
            }),
        };
        var outPath = output.FullName;
        Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
        stdout.WriteLine($"wrote {outPath}");
        return 0;
    }

    /// <summary>The data folder if it holds <c>nab/</c>; otherwise the first <c>shared/data</c> with <c>nab/</c> found walking up
    /// from the current directory (so the default <c>../shared/data</c> also works from a nested worktree).</summary>
    /// <param name="dataDir">Requested folder.</param>
    /// <returns>The folder to read.</returns>
    internal static string ResolveDataDir(string dataDir)
    {
        if (Directory.Exists(NabData.NabDir(dataDir))) return dataDir;
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data");
            if (Directory.Exists(NabData.NabDir(candidate))) return candidate;
        }

        return dataDir;
    }

    private static List<(string Name, NabProfile Profile)> ReadProfiles(string path)
    {
        var list = new List<(string, NabProfile)>();
        if (File.Exists(path))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var m = p.Value.GetProperty("CostMatrix");
                list.Add((p.Name, new NabProfile(m.GetProperty("tpWeight").GetDouble(), m.GetProperty("fnWeight").GetDouble(), m.GetProperty("fpWeight").GetDouble())));
            }
        }

        if (list.Count == 0) list.Add(("standard", NabProfile.Standard));

        // Standard first: it is the headline figure.
        return list.OrderBy(p => p.Item1 == "standard" ? 0 : 1).ThenBy(p => p.Item1, StringComparer.Ordinal).ToList();
    }
}
