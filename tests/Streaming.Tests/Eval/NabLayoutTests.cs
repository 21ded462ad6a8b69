using System.Globalization;
using System.Text.Json;
using StreamLstm.Streaming.Eval;

namespace StreamLstm.Streaming.Tests.Eval;

/// <summary>Reading a whole NAB layout (every category folder), NAB's results layout, and the "never fire" threshold in JSON.</summary>
public sealed class NabLayoutTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("nablayout-");

    private string Nab => Path.Combine(_root.FullName, "nab");

    public void Dispose() => _root.Delete(true);

    // Writes <category>/<name> with `rows` five-minute rows from 2020-01-01 and a flat-then-step value.
    private void WriteFile(string category, string name, int rows)
    {
        Directory.CreateDirectory(Path.Combine(Nab, category));
        using var w = new StreamWriter(Path.Combine(Nab, category, name));
        w.Write("timestamp,value\n");
        var t0 = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        for (var i = 0; i < rows; i++) w.Write(string.Create(CultureInfo.InvariantCulture, $"{t0.AddMinutes(5 * i):yyyy-MM-dd HH:mm:ss},{(i % 7) + (i >= 300 ? 50 : 0)}\n"));
    }

    private void WriteLayout()
    {
        WriteFile("catA", "one.csv", 400);
        WriteFile("catA", "two.csv", 400);
        WriteFile("catB", "one.csv", 400);
        WriteFile("catB", "three.csv", 400);
        // Windows keyed as NAB keys them: <category>/<file>. catB/one.csv has its own window, at another time than catA/one.csv.
        File.WriteAllText(Path.Combine(Nab, "combined_windows.json"), """
            {
              "catA/one.csv": [["2020-01-01 01:40:00.000000", "2020-01-01 02:00:00.000000"]],
              "catA/two.csv": [],
              "catB/one.csv": [["2020-01-01 24:00:00.000000", "2020-01-02 00:50:00.000000"]],
              "catB/three.csv": [["2020-01-01 20:00:00", "2020-01-01 21:00:00"], ["2020-01-01 23:00:00", "2020-01-01 23:30:00"]]
            }
            """.Replace("2020-01-01 24:00:00.000000", "2020-01-02 00:00:00.000000", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(Nab, "profiles.json"), """
            {"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11}}}
            """);
    }

    [Fact]
    public void LoadAll_ReadsEveryCategoryFolder_WithWindowsKeyedByCategoryAndFile()
    {
        WriteLayout();
        var files = NabData.LoadAll(_root.FullName);
        Assert.Equal(["catA/one.csv", "catA/two.csv", "catB/one.csv", "catB/three.csv"], files.Select(f => f.Series.Name));
        Assert.Equal("catB", files[2].Category);
        Assert.Equal("one.csv", files[2].FileName);
        // catA/one.csv: 01:40..02:00 is rows 20..24; catB/one.csv: 00:00..00:50 of day 2 is rows 288..298.
        Assert.Equal([(20, 24)], files[0].Series.Windows);
        Assert.Empty(files[1].Series.Windows);
        Assert.Equal([(288, 298)], files[2].Series.Windows);
        Assert.Equal([(240, 252), (276, 282)], files[3].Series.Windows);
        Assert.Equal(NabSeries.ProbationOf(400), files[0].Series.Probation);
    }

    [Fact]
    public void LoadAll_ReadsTheNabFolderItself_AndNabsRepositoryLayout_AsTheSameFiles()
    {
        WriteLayout();
        var expected = NabData.LoadAll(_root.FullName).Select(f => (f.Series.Name, f.Series.Windows.Count, f.Values.Length)).ToArray();

        // --data-dir pointing at the nab/ folder itself.
        Assert.Equal(expected, NabData.LoadAll(Nab).Select(f => (f.Series.Name, f.Series.Windows.Count, f.Values.Length)));

        // A checkout of NAB's repository: data/<category>/, labels/combined_windows.json, config/profiles.json.
        var repo = Path.Combine(_root.FullName, "NAB");
        Directory.CreateDirectory(Path.Combine(repo, "labels"));
        Directory.CreateDirectory(Path.Combine(repo, "config"));
        Directory.Move(Nab, Path.Combine(repo, "data"));
        File.Move(Path.Combine(repo, "data", "combined_windows.json"), Path.Combine(repo, "labels", "combined_windows.json"));
        File.Move(Path.Combine(repo, "data", "profiles.json"), Path.Combine(repo, "config", "profiles.json"));
        var layout = NabLayout.Find(repo);
        Assert.NotNull(layout);
        Assert.Equal(Path.Combine(repo, "config", "profiles.json"), layout.ProfilesPath);
        Assert.Equal(expected, NabData.LoadAll(repo).Select(f => (f.Series.Name, f.Series.Windows.Count, f.Values.Length)));
    }

    [Fact]
    public void ARowThatIsNotTimestampValue_IsLeftOutAndCounted_TheFileIsStillRead()
    {
        WriteLayout();
        var path = Path.Combine(Nab, "catA", "two.csv");
        var lines = File.ReadAllLines(path).ToList();
        lines.Insert(5, "2020-01-01 00:20:00,");
        lines.Insert(9, "garbage");
        File.WriteAllLines(path, lines);
        var file = NabData.LoadAll(_root.FullName).Single(f => f.Series.Name == "catA/two.csv");
        Assert.Equal(400, file.Values.Length);
        Assert.Equal(2, file.SkippedRows);
        Assert.StartsWith("line 6:", file.FirstSkipped, StringComparison.Ordinal);
    }

    [Fact]
    public void AGivenFolderWithoutNab_FailsAndSaysWhatItLookedFor_InsteadOfReadingAnotherFolder()
    {
        // The default data folder may be looked for higher up; a folder the user named must not be swapped for another.
        var empty = Directory.CreateDirectory(Path.Combine(_root.FullName, "empty"));
        Assert.Equal(empty.FullName, NabEvalCommand.ResolveDataDir(empty.FullName, given: true));
        var error = new StringWriter();
        var code = NabEvalCommand.Run(empty, new FileInfo(Path.Combine(_root.FullName, "nab.json")), new NabLstmSettings(), null, new StringWriter(), error, dataDirGiven: true);
        Assert.Equal(2, code);
        Assert.Contains("no NAB corpus under", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("labels/combined_windows.json", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void WriteResults_WritesNabsLayout_WithScoresAndLabels()
    {
        WriteLayout();
        var files = NabData.LoadAll(_root.FullName);
        var scores = files.Select(f => Enumerable.Range(0, f.Values.Length).Select(i => i < 10 ? double.NaN : i / 1000.0).ToArray()).ToArray();
        var report = new NabEvalReport(files, []) { OursScores = scores };
        var dir = Path.Combine(_root.FullName, "results");
        NabEvalCommand.WriteResults(dir, "streamlstm", report);
        var path = Path.Combine(dir, "streamlstm", "catB", "streamlstm_one.csv");
        var lines = File.ReadAllLines(path);
        Assert.Equal("timestamp,value,anomaly_score,label", lines[0]);
        Assert.Equal(401, lines.Length);
        Assert.Equal("2020-01-01 00:00:00,0,0,0", lines[1]);
        Assert.Equal("2020-01-02 00:00:00,1,0.288,1", lines[1 + 288]);
        Assert.EndsWith(",0", lines[1 + 287], StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dir, "streamlstm", "catA", "streamlstm_two.csv")));
    }

    [Fact]
    public void NeverFiring_IsTheBestThreshold_AndTheReportWritesItAsNull()
    {
        // Only false positives to gain: the best threshold is +∞ (never fire), which JSON cannot hold.
        var series = new NabSeries("cat/x.csv", 100, 15, [(60, 69)]);
        var scores = new double[100];
        scores[30] = 1;
        var result = NabScorer.Optimise([series], [scores], NabProfile.Standard);
        Assert.True(double.IsPositiveInfinity(result.Threshold));
        Assert.Null(NabEvalCommand.JsonThreshold(result.Threshold));
        Assert.Equal(0.5, NabEvalCommand.JsonThreshold(0.5));
    }

    [Fact]
    public void EvalNab_OnALayoutWithTwoCategories_ScoresEveryFile_AndWritesJsonAndResults()
    {
        WriteLayout();
        var output = new StringWriter();
        var error = new StringWriter();
        var json = Path.Combine(_root.FullName, "out", "nab.json");
        var settings = new NabLstmSettings { Hidden = 8, Online = Forecast.ForecastTestData.Small() };
        var code = NabEvalCommand.Run(_root, new FileInfo(json), settings, null, output, error);
        Assert.True(code == 0, $"exit {code}: {error}");
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(4, doc.RootElement.GetProperty("files").GetArrayLength());
        var standard = doc.RootElement.GetProperty("totals").GetProperty("standard");
        Assert.Equal(JsonValueKind.Number, standard.GetProperty("ours").ValueKind);
        Assert.Equal(JsonValueKind.Number, standard.GetProperty("baseline").ValueKind);
        Assert.True(File.Exists(Path.Combine(_root.FullName, "out", "results", "streamlstm", "catB", "streamlstm_three.csv")));
    }
}
