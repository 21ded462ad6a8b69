using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using StreamLstm.Streaming.Cli;
using StreamLstm.Streaming.Eval.Forecast;

namespace StreamLstm.Streaming.Eval;

/// <summary>Everything one NAB evaluation run measured.</summary>
/// <param name="Files">The files, in order.</param>
/// <param name="Profiles">Profile name → (ours, baseline) results.</param>
public sealed record NabEvalReport(IReadOnlyList<NabFile> Files, IReadOnlyList<(string Profile, NabResult Ours, NabResult Baseline)> Profiles)
{
    /// <summary>Our detector's per-row scores, per file (NaN: no score).</summary>
    public IReadOnlyList<double[]> OursScores { get; init; } = [];

    /// <summary>Per profile (as <see cref="Profiles"/>): our detector left one out (each file scored at the threshold chosen on
    /// the others, <see cref="NabScorer.LeaveOneOut"/>), or null with fewer than two files.</summary>
    public IReadOnlyList<(NabResult Result, double[] Thresholds)?> OursLeaveOneOut { get; init; } = [];

    /// <summary>Entries of the windows file naming a file that is not there, in a category that is (for the warning).</summary>
    public IReadOnlyList<string> WindowsWithoutFile { get; init; } = [];
}

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
        command.Subcommands.Add(Alerts.AlertEvalCommand.Create());
        return command;
    }

    private static Command CreateNab()
    {
        var dataDir = new Option<DirectoryInfo>("--data-dir") { Description = "Folder holding nab/ (category folders beside combined_windows.json and profiles.json), that folder itself, or a checkout of NAB's repository.", DefaultValueFactory = _ => new DirectoryInfo("../shared/data") };
        var output = new Option<FileInfo>("--out") { Description = "Write the JSON report here.", DefaultValueFactory = _ => new FileInfo("artifacts/eval/nab.json") };
        var hidden = new Option<int>("--hidden") { Description = "LSTM hidden size.", DefaultValueFactory = _ => 24 };
        hidden.Check(v => v is < 1 or > 4096 ? "--hidden must be 1..4096." : null);
        var epochs = new Option<int>("--epochs") { Description = "Training epochs on each file's probation rows (--mode probation).", DefaultValueFactory = _ => 8 };
        epochs.Check(v => v < 0 ? "--epochs must be 0 or more." : null);
        var seed = new Option<int>("--seed") { Description = "Seed for initialisation and window sampling.", DefaultValueFactory = _ => 1 };
        var only = new Option<string?>("--file") { Description = "Evaluate only the file with this name (or <category>/<name>)." };
        var mode = new Option<NabMode>("--mode") { Description = "online: one pass, learned while scoring, rolling likelihood; probation: trained on the probation rows, then frozen.", DefaultValueFactory = _ => NabMode.Online };
        var retrain = new Option<int>("--retrain-every") { Description = "Online mode: fine-tune every N rows.", DefaultValueFactory = _ => new OnlineLstmSettings().RetrainEvery };
        retrain.Check(v => v < 1 ? "--retrain-every must be 1 or more." : null);
        var components = new Option<string>("--components") { Description = "Online mode: raw scores fused, comma-separated from lstm, value, spatial, context, art (all: the first four).", DefaultValueFactory = _ => "all" };
        components.Validators.Add(r =>
        {
            if (!TryParseComponents(r.GetValue(components), out _)) r.AddError("--components: a comma-separated list of lstm, value, spatial, context, art, or all.");
        });
        var refractory = new Option<int>("--refractory") { Description = "Online mode: rows after a detection in which no new detection is raised (0: off).", DefaultValueFactory = _ => NabDetectors.DefaultRefractory };
        refractory.Check(v => v < 0 ? "--refractory must be 0 or more." : null);
        var results = new Option<DirectoryInfo?>("--results") { Description = "Write NAB's results layout <detector>/<category>/<detector>_<file>.csv here (default: results/ beside --out)." };
        var nab = new Command("nab", "NAB: every category folder under nab/, our LSTM (learned online by default) vs NAB's windowed Gaussian, NAB-normalised scores; prints a table, writes JSON and NAB's results layout.");
        foreach (var o in new Option[] { dataDir, output, hidden, epochs, seed, only, mode, retrain, components, refractory, results }) nab.Options.Add(o);
        nab.SetAction(parse => Run(parse.GetValue(dataDir)!, parse.GetValue(output)!, new NabLstmSettings
        {
            Hidden = parse.GetValue(hidden), Epochs = parse.GetValue(epochs), Seed = parse.GetValue(seed), Mode = parse.GetValue(mode),
            Online = new OnlineLstmSettings { RetrainEvery = parse.GetValue(retrain) },
            Components = TryParseComponents(parse.GetValue(components), out var c) ? c : NabComponents.All, Refractory = parse.GetValue(refractory),
        }, parse.GetValue(only), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(results), parse.GetResult(dataDir) is { Implicit: false }));
        return nab;
    }

    /// <summary>Scores both detectors on the files under every profile in <c>profiles.json</c> (standard first).</summary>
    /// <param name="dataDir">Shared data folder.</param>
    /// <param name="settings">LSTM settings.</param>
    /// <param name="only">Single file name (or <c>category/name</c>), or null for all.</param>
    /// <returns>The report.</returns>
    public static NabEvalReport Evaluate(string dataDir, NabLstmSettings settings, string? only = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var layout = NabLayout.Find(dataDir) ?? throw new DirectoryNotFoundException(NabLayout.NotFound(dataDir));
        var all = NabData.LoadAll(layout);
        var files = all.Where(f => only is null || f.Series.Name == only || f.FileName == only).ToArray();
        if (files.Length == 0) throw new FileNotFoundException($"No NAB file named '{only}'.");
        var ours = new double[files.Length][];
        // Files are independent (each learned from scratch), so they run in parallel; each result is deterministic.
        Parallel.For(0, files.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            ours[i] = settings.Mode == NabMode.Online ? NabDetectors.Online(files[i], Clone(settings)) : NabDetectors.Lstm(files[i], settings);
        });
        var baseline = files.Select(f => NabDetectors.WindowedGaussian(f.Values)).ToArray();
        var series = files.Select(f => f.Series).ToArray();
        var profiles = ReadProfiles(layout.ProfilesPath);
        return new NabEvalReport(files, profiles.Select(p => (p.Name, NabScorer.Optimise(series, ours, p.Profile), NabScorer.Optimise(series, baseline, p.Profile))).ToArray())
        {
            OursScores = ours,
            OursLeaveOneOut = profiles.Select(p => series.Length < 2 ? ((NabResult, double[])?)null : NabScorer.LeaveOneOut(series, ours, p.Profile)).ToArray(),
            WindowsWithoutFile = WindowsWithoutFile(layout, all),
        };
    }

    /// <summary>Writes NAB's results layout for our detector: <c>&lt;dir&gt;/&lt;detector&gt;/&lt;category&gt;/&lt;detector&gt;_&lt;file&gt;.csv</c>
    /// with <c>timestamp,value,anomaly_score,label</c> (label 1 inside an anomaly window; a missing score is written as 0).</summary>
    /// <param name="dir">Results folder.</param>
    /// <param name="detector">Detector name.</param>
    /// <param name="report">Report with <see cref="NabEvalReport.OursScores"/>.</param>
    public static void WriteResults(string dir, string detector, NabEvalReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var inv = CultureInfo.InvariantCulture;
        for (var i = 0; i < report.Files.Count; i++)
        {
            var f = report.Files[i];
            var folder = Path.Combine(dir, detector, f.Category);
            Directory.CreateDirectory(folder);
            using var w = new StreamWriter(Path.Combine(folder, $"{detector}_{f.FileName}"));
            w.Write("timestamp,value,anomaly_score,label\n");
            var scores = report.OursScores[i];
            for (var t = 0; t < f.Values.Length; t++)
            {
                var label = f.Series.Windows.Any(x => t >= x.Start && t <= x.End) ? 1 : 0;
                var score = double.IsFinite(scores[t]) ? scores[t] : 0;
                var time = DateTimeOffset.FromUnixTimeMilliseconds(f.TimestampsMs[t]).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", inv);
                w.Write(string.Create(inv, $"{time},{f.Values[t]:R},{score:R},{label}\n"));
            }
        }
    }

    /// <summary>A threshold as JSON: null when it is +∞ (the best choice was never to fire), which JSON cannot hold.</summary>
    /// <param name="threshold">Threshold.</param>
    /// <returns>The value or null.</returns>
    public static double? JsonThreshold(double threshold) => double.IsFinite(threshold) ? threshold : null;

    private static NabLstmSettings Clone(NabLstmSettings s) => new()
    {
        Hidden = s.Hidden, Epochs = s.Epochs, Seed = s.Seed, ScoreWindow = s.ScoreWindow, Mode = s.Mode, Components = s.Components, Refractory = s.Refractory,
        Online = new OnlineLstmSettings
        {
            Hidden = s.Hidden, Layers = s.Online.Layers, Dropout = s.Online.Dropout, RetrainEvery = s.Online.RetrainEvery, MinRows = s.Online.MinRows,
            ReplayWindow = s.Online.ReplayWindow, Holdout = s.Online.Holdout, HoldoutContext = s.Online.HoldoutContext, RewarmSteps = s.Online.RewarmSteps,
            Epochs = s.Online.Epochs, FirstEpochs = s.Online.FirstEpochs, BatchesPerEpoch = s.Online.BatchesPerEpoch, BatchSize = s.Online.BatchSize,
            WindowLength = s.Online.WindowLength, WarmupSteps = s.Online.WarmupSteps, LearningRate = s.Online.LearningRate, Patience = s.Online.Patience,
            GateMargin = s.Online.GateMargin, Seed = s.Seed, Device = s.Online.Device,
        },
    };

    /// <summary>The <c>eval nab</c> action: 0 on success, 2 when the data cannot be read.</summary>
    internal static int Run(DirectoryInfo dataDir, FileInfo output, NabLstmSettings settings, string? only, TextWriter stdout, TextWriter stderr, DirectoryInfo? results = null, bool dataDirGiven = false)
    {
        NabEvalReport report;
        var sw = Stopwatch.StartNew();
        if (ForecastEvalCommand.Unwritable([output.FullName]) is { } cannot)
        {
            stderr.WriteLine($"eval nab: {cannot}");
            return 2;
        }

        try
        {
            report = Evaluate(ResolveDataDir(dataDir.FullName, dataDirGiven), settings, only);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or JsonException)
        {
            stderr.WriteLine($"eval nab: {e.Message}");
            return 2;
        }

        foreach (var f in report.Files.Where(f => f.SkippedRows > 0))
        {
            stderr.WriteLine($"eval nab: warning: {f.Series.Name}: {f.SkippedRows} row(s) left out, not 'timestamp,value' (first at {f.FirstSkipped})");
        }

        foreach (var f in report.Files.Where(f => !f.HasWindowsEntry))
        {
            stderr.WriteLine($"eval nab: warning: {f.Series.Name}: no entry in the windows file; scored as a file without anomalies");
        }

        foreach (var f in report.Files.Where(f => f.Sorted))
        {
            stderr.WriteLine($"eval nab: warning: {f.Series.Name}: rows were not in time order; scored in time order (stable sort)");
        }

        foreach (var f in report.Files.Where(f => f.WindowsOutside > 0))
        {
            stderr.WriteLine($"eval nab: warning: {f.Series.Name}: {f.WindowsOutside} window(s) hold none of its rows (outside its times); left out");
        }

        if (report.WindowsWithoutFile.Count > 0)
        {
            stderr.WriteLine($"eval nab: warning: the windows file names {report.WindowsWithoutFile.Count} file(s) not found in their category folder: {string.Join(", ", report.WindowsWithoutFile.Take(5))}{(report.WindowsWithoutFile.Count > 5 ? ", …" : "")}");
        }

        foreach (var f in report.Files.Where(f => f.Series.Rows < TinyFileRows))
        {
            stderr.WriteLine($"eval nab: warning: {f.Series.Name}: only {f.Series.Rows} row(s) (probation {f.Series.Probation}); its score says little");
        }

        var inv = CultureInfo.InvariantCulture;
        var std = report.Profiles[0];
        var how = settings.Mode == NabMode.Online
            ? $"learned online, fine-tune every {settings.Online.RetrainEvery} rows; fused {DescribeComponents(settings.Components)}, refractory {settings.Refractory} rows"
            : $"{settings.Epochs} epochs on probation";
        stdout.WriteLine($"NAB ({report.Files.Count} files), profile {std.Profile}: normalised score (100 = perfect, 0 = null detector); LSTM H={settings.Hidden}, {how}, seed {settings.Seed}");
        var looStd = report.OursLeaveOneOut.Count > 0 ? report.OursLeaveOneOut[0] : null;
        stdout.WriteLine($"{"file",-57} {"rows",6} {"windows",7} {"ours",8} {"win.gauss",9} {"ours LOO",9}");
        for (var i = 0; i < report.Files.Count; i++)
        {
            var s = report.Files[i].Series;
            var loo = looStd is { } l ? l.Result.Normalised(i).ToString("F1", inv) : "-";
            stdout.WriteLine(string.Create(inv, $"{s.Name,-57} {s.Rows,6} {s.Windows.Count,7} {std.Ours.Normalised(i),8:F1} {std.Baseline.Normalised(i),9:F1} {loo,9}"));
        }

        for (var p = 0; p < report.Profiles.Count; p++)
        {
            var (name, o, b) = report.Profiles[p];
            var loo = p < report.OursLeaveOneOut.Count && report.OursLeaveOneOut[p] is { } l ? l.Result.Total.ToString("F1", inv) : "-";
            stdout.WriteLine(string.Create(inv, $"{"TOTAL " + name,-72} {o.Total,8:F1} {b.Total,9:F1} {loo,9}   (thresholds {Describe(o.Threshold)} / {Describe(b.Threshold)})"));
        }

        stdout.WriteLine("ours LOO: each file scored at the threshold chosen on the other files (leave one out).");

        stdout.WriteLine(string.Create(inv, $"elapsed {sw.Elapsed.TotalSeconds:F1} s"));
        var doc = new
        {
            dataset = $"NAB v1.1, {string.Join(", ", report.Files.Select(f => f.Category).Distinct())} (Ahmad, Lavin, Purdy, Agha 2017, doi:10.1016/j.neucom.2017.04.070)",
            detector = settings.Mode == NabMode.Online
                ? (object)new
                {
                    kind = "lstm-online+likelihood-fusion", hidden = settings.Hidden, seed = settings.Seed, retrain_every = settings.Online.RetrainEvery,
                    replay_window = settings.Online.ReplayWindow, likelihood_short_window = AnomalyLikelihood.ShortWindow, lstm_likelihood_short_window = NabDetectors.LstmShortWindow, art_likelihood_short_window = NabDetectors.ArtShortWindow, likelihood_long_window = AnomalyLikelihood.LongWindow,
                    components = DescribeComponents(settings.Components), value_window = NabDetectors.ValueWindow, refractory = settings.Refractory,
                    alert_level = NabDetectors.AlertLevel, demoted_level = NabDetectors.DemotedLevel,
                }
                : new { kind = "lstm+sink-anomaly", hidden = settings.Hidden, epochs = settings.Epochs, seed = settings.Seed, score_window = settings.ScoreWindow },
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
                    ours_leave_one_out = LeaveOneOutOf(report, p.Profile) is { } l ? l.Result.Normalised(i) : (double?)null,
                    ours_leave_one_out_threshold = LeaveOneOutOf(report, p.Profile) is { } t ? JsonThreshold(t.Thresholds[i]) : null,
                }),
            }),
            totals = report.Profiles.ToDictionary(p => p.Profile, p => new
            {
                ours = p.Ours.Total,
                baseline = p.Baseline.Total,
                ours_threshold = JsonThreshold(p.Ours.Threshold),
                baseline_threshold = JsonThreshold(p.Baseline.Threshold),
                ours_leave_one_out = LeaveOneOutOf(report, p.Profile) is { } l ? l.Result.Total : (double?)null,
            }),
        };
        var outPath = output.FullName;
        try
        {
            File.WriteAllText(outPath, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
            stdout.WriteLine($"wrote {outPath}");
            if (report.OursScores.Count > 0)
            {
                var dir = results?.FullName ?? Path.Combine(Path.GetDirectoryName(outPath)!, "results");
                WriteResults(dir, Detector, report);
                stdout.WriteLine($"wrote NAB results layout under {dir}");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"eval nab: cannot write the outputs: {e.Message}");
            return 2;
        }
        return 0;
    }

    /// <summary>The data folder when it holds a NAB layout (<see cref="NabLayout.Find"/>). Only when the folder was not given
    /// (the default <c>../shared/data</c>) and holds none, the first <c>shared/data</c> with one found walking up from the
    /// current directory (so the default also works from a nested worktree); a folder given on the command line is never
    /// replaced by another.</summary>
    /// <param name="dataDir">Requested folder.</param>
    /// <param name="given">Whether the folder was given on the command line.</param>
    /// <returns>The folder to read.</returns>
    internal static string ResolveDataDir(string dataDir, bool given = false)
    {
        if (given || NabLayout.Find(dataDir) is not null) return dataDir;
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data");
            if (NabLayout.Find(candidate) is not null) return candidate;
        }

        return dataDir;
    }

    /// <summary>Detector name in NAB's results layout.</summary>
    public const string Detector = "streamlstm";

    /// <summary>Parses <c>--components</c>: a comma-separated list of <c>lstm</c>, <c>value</c>, <c>spatial</c>, <c>context</c>, or <c>all</c>.</summary>
    /// <param name="text">Text.</param>
    /// <param name="components">The components (at least one).</param>
    /// <returns>False when the text names something else or nothing.</returns>
    public static bool TryParseComponents(string? text, out NabComponents components)
    {
        components = NabComponents.None;
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            switch (part.ToLowerInvariant())
            {
                case "lstm": components |= NabComponents.Lstm; break;
                case "value": components |= NabComponents.Value; break;
                case "spatial": components |= NabComponents.Spatial; break;
                case "context": components |= NabComponents.Context; break;
                case "art": components |= NabComponents.Art; break;
                case "all": components |= NabComponents.All; break;
                default: return false;
            }
        }

        return components != NabComponents.None;
    }

    /// <summary>The components as <c>--components</c> writes them.</summary>
    /// <param name="components">Components.</param>
    /// <returns>E.g. <c>lstm,value,spatial,context</c>.</returns>
    public static string DescribeComponents(NabComponents components) => string.Join(",",
        new[] { (NabComponents.Lstm, "lstm"), (NabComponents.Value, "value"), (NabComponents.Spatial, "spatial"), (NabComponents.Context, "context"), (NabComponents.Art, "art") }.Where(c => components.HasFlag(c.Item1)).Select(c => c.Item2));

    /// <summary>One profile's <c>CostMatrix</c> weights (tpWeight, fnWeight, fpWeight), or an error naming the profile.</summary>
    private static NabProfile ReadProfile(string path, JsonProperty p)
    {
        double Weight(string name) =>
            p.Value.ValueKind == JsonValueKind.Object && p.Value.TryGetProperty("CostMatrix", out var m) && m.ValueKind == JsonValueKind.Object
            && m.TryGetProperty(name, out var w) && w.ValueKind == JsonValueKind.Number && double.IsFinite(w.GetDouble())
                ? w.GetDouble()
                : throw new FormatException($"{path}: profile \"{p.Name}\": expected \"CostMatrix\": {{ \"tpWeight\", \"fnWeight\", \"fpWeight\" }} numbers ({name} missing or not a number).");
        return new NabProfile(Weight("tpWeight"), Weight("fnWeight"), Weight("fpWeight"));
    }

    private static (NabResult Result, double[] Thresholds)? LeaveOneOutOf(NabEvalReport report, string profile)
    {
        for (var p = 0; p < report.Profiles.Count && p < report.OursLeaveOneOut.Count; p++)
        {
            if (report.Profiles[p].Profile == profile) return report.OursLeaveOneOut[p];
        }

        return null;
    }

    private static string Describe(double threshold) => double.IsFinite(threshold) ? threshold.ToString("G4", CultureInfo.InvariantCulture) : "never fires";

    /// <summary>Rows under which a file's score is flagged as saying little (a 5-row file with one window scores 100).</summary>
    private const int TinyFileRows = 100;

    /// <summary>Entries of the windows file whose category was loaded but whose file is not there.</summary>
    private static string[] WindowsWithoutFile(NabLayout layout, IReadOnlyList<NabFile> loaded)
    {
        var names = loaded.Select(f => f.Series.Name).ToHashSet(StringComparer.Ordinal);
        var categories = loaded.Select(f => f.Category).ToHashSet(StringComparer.Ordinal);
        return NabData.ReadWindows(layout.WindowsPath).Keys
            .Where(k => !names.Contains(k) && k.Contains('/', StringComparison.Ordinal) && categories.Contains(k[..k.IndexOf('/', StringComparison.Ordinal)]))
            .Order(StringComparer.Ordinal).ToArray();
    }

    private static List<(string Name, NabProfile Profile)> ReadProfiles(string path)
    {
        var list = new List<(string, NabProfile)>();
        if (File.Exists(path))
        {
            using var doc = NabData.ParseJson(path);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new FormatException($"{path}: expected an object of profiles, each with a CostMatrix.");
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                list.Add((p.Name, ReadProfile(path, p)));
            }
        }

        if (list.Count == 0) list.Add(("standard", NabProfile.Standard));

        // Standard first: it is the headline figure.
        return list.OrderBy(p => p.Item1 == "standard" ? 0 : 1).ThenBy(p => p.Item1, StringComparer.Ordinal).ToList();
    }
}
