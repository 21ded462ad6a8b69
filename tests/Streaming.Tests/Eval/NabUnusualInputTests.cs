using System.Globalization;
using System.Text.Json;
using StreamLstm.Streaming.Eval;

namespace StreamLstm.Streaming.Tests.Eval;

/// <summary>
/// <c>eval nab</c> on corpora not shaped like NAB's: malformed windows or profiles end with exit 2 and a message naming the
/// file and entry (three of them crashed with a stack trace), and windows that do not match the files are warned about.
/// </summary>
public sealed class NabUnusualInputTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("nabodd-");

    private string Nab => Path.Combine(_root.FullName, "nab");

    public void Dispose() => _root.Delete(true);

    [Theory]
    [InlineData("""{"cat/a.csv": "x"}""", "\"cat/a.csv\": expected a list of")]
    [InlineData("""{"cat/a.csv": [["2020-01-01 00:00:00"]]}""", "found [\"2020-01-01 00:00:00\"]")]
    [InlineData("""{"cat/a.csv": [[1, 2]]}""", "found [1, 2]")]
    [InlineData("""{"cat/a.csv": [["yesterday", "today"]]}""", "window time 'yesterday' is not yyyy-MM-dd HH:mm:ss")]
    [InlineData("""[1, 2]""", "expected an object")]
    [InlineData("""{not json""", "not valid JSON")]
    public void AMalformedWindowsFile_EndsWithExit2_NamingTheFileAndEntry(string windows, string expected)
    {
        WriteFile("a.csv", 200);
        File.WriteAllText(Path.Combine(Nab, "combined_windows.json"), windows);
        var (code, error) = Run();
        Assert.Equal(2, code);
        Assert.Contains("combined_windows.json: ", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"standard": {"x": 1}}""", "profile \"standard\": expected \"CostMatrix\"")]
    [InlineData("""{"standard": {"CostMatrix": {"tpWeight": 1, "fnWeight": "a", "fpWeight": 0.1}}}""", "fnWeight missing or not a number")]
    [InlineData("""[1,""", "profiles.json: not valid JSON")]
    public void AMalformedProfilesFile_EndsWithExit2_NamingTheProfile(string profiles, string expected)
    {
        WriteFile("a.csv", 200);
        File.WriteAllText(Path.Combine(Nab, "combined_windows.json"), """{"cat/a.csv": []}""");
        File.WriteAllText(Path.Combine(Nab, "profiles.json"), profiles);
        var (code, error) = Run();
        Assert.Equal(2, code);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void WindowsThatDoNotMatchTheFiles_AreWarnedAbout_AndTheRunStillScores()
    {
        // b.csv has no entry; the entry of c.csv names a file not there; a.csv's only window lies after its last row;
        // tiny.csv has 5 rows. Before, all four passed in silence.
        WriteFile("a.csv", 200);
        WriteFile("b.csv", 200);
        WriteFile("tiny.csv", 5);
        File.WriteAllText(Path.Combine(Nab, "combined_windows.json"), """
            {"cat/a.csv": [["2021-01-01 00:00:00", "2021-01-02 00:00:00"]], "cat/c.csv": [], "cat/tiny.csv": [], "other/d.csv": []}
            """);
        var (code, error) = Run();
        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Contains("warning: cat/b.csv: no entry in the windows file; scored as a file without anomalies", error, StringComparison.Ordinal);
        Assert.Contains("warning: cat/a.csv: 1 window(s) hold none of its rows", error, StringComparison.Ordinal);
        // A category that is not there (other/) is not this corpus' concern.
        Assert.Contains("warning: the windows file names 1 file(s) not found in their category folder: cat/c.csv\n", error.Replace("\r", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("warning: cat/tiny.csv: only 5 row(s)", error, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_root.FullName, "out", "nab.json")));
        Assert.Equal(3, doc.RootElement.GetProperty("files").GetArrayLength());
    }

    [Fact]
    public void AnOutputUnderAFile_EndsWithExit2BeforeScoring()
    {
        WriteFile("a.csv", 200);
        File.WriteAllText(Path.Combine(Nab, "combined_windows.json"), """{"cat/a.csv": []}""");
        var file = Path.Combine(Nab, "cat", "a.csv");
        var error = new StringWriter();
        var output = new StringWriter();
        var code = NabEvalCommand.Run(_root, new FileInfo(Path.Combine(file, "nab.json")), new NabLstmSettings(), null, output, error, dataDirGiven: true);
        Assert.Equal(2, code);
        Assert.StartsWith($"eval nab: cannot write {Path.Combine(file, "nab.json")}: ", error.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString());
    }

    // Writes cat/<name> with `rows` five-minute rows from 2020-01-01, a flat-then-step value.
    [Fact]
    public void AFileWithoutAHeader_KeepsItsFirstRow()
    {
        var path = Path.Combine(_root.FullName, "headerless.csv");
        File.WriteAllText(path, "2020-01-01 00:00:00,1\n2020-01-01 00:05:00,2\n2020-01-01 00:10:00,3\n");
        var file = NabData.Load(path, "cat", new Dictionary<string, List<(long Start, long End)>>());
        Assert.Equal([1.0, 2.0, 3.0], file.Values);
        Assert.Equal(0, file.SkippedRows);
    }

    [Fact]
    public void RowsOutOfTimeOrder_AreScoredInTimeOrder_WithTheirWindowsFound_AndWarnedAbout()
    {
        // Newest first: the window (the 10th..12th five-minute rows) must still name rows 10..12 of the sorted series.
        var t0 = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var lines = Enumerable.Range(0, 200).Select(i => string.Create(CultureInfo.InvariantCulture, $"{t0.AddMinutes(5 * i):yyyy-MM-dd HH:mm:ss},{i}")).Reverse();
        Directory.CreateDirectory(Path.Combine(Nab, "cat"));
        File.WriteAllText(Path.Combine(Nab, "cat", "a.csv"), "timestamp,value\n" + string.Join("\n", lines) + "\n");
        var start = new DateTimeOffset(t0.AddMinutes(50)).ToUnixTimeMilliseconds();
        var end = new DateTimeOffset(t0.AddMinutes(60)).ToUnixTimeMilliseconds();
        var file = NabData.Load(Path.Combine(Nab, "cat", "a.csv"), "cat", new Dictionary<string, List<(long Start, long End)>> { ["cat/a.csv"] = [(start, end)] });
        Assert.True(file.Sorted);
        Assert.Equal(Enumerable.Range(0, 200).Select(i => (double)i), file.Values);
        Assert.Equal([(10, 12)], file.Series.Windows);

        File.WriteAllText(Path.Combine(Nab, "combined_windows.json"), """{"cat/a.csv": []}""");
        var (code, error) = Run();
        Assert.Equal(0, code);
        Assert.Contains("cat/a.csv: rows were not in time order", error, StringComparison.Ordinal);
    }

    private void WriteFile(string name, int rows)
    {
        Directory.CreateDirectory(Path.Combine(Nab, "cat"));
        using var w = new StreamWriter(Path.Combine(Nab, "cat", name));
        w.Write("timestamp,value\n");
        var t0 = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        for (var i = 0; i < rows; i++) w.Write(string.Create(CultureInfo.InvariantCulture, $"{t0.AddMinutes(5 * i):yyyy-MM-dd HH:mm:ss},{(i % 7) + (i >= 150 ? 50 : 0)}\n"));
    }

    private (int Code, string Error) Run()
    {
        var error = new StringWriter();
        var settings = new NabLstmSettings { Hidden = 4, Online = Forecast.ForecastTestData.Small() };
        var code = NabEvalCommand.Run(_root, new FileInfo(Path.Combine(_root.FullName, "out", "nab.json")), settings, null, new StringWriter(), error, dataDirGiven: true);
        return (code, error.ToString());
    }
}
