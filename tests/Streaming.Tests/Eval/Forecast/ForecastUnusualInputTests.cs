using System.Globalization;
using System.Text.Json;
using StreamLstm.Streaming.Cli;
using StreamLstm.Streaming.Eval.Forecast;

namespace StreamLstm.Streaming.Tests.Eval.Forecast;

/// <summary>
/// <c>eval forecast</c> on input no ordinary series has: too few rows for the horizons, a constant or all-zero series,
/// values of extreme magnitude. Each ends with a clear message and exit 2, or with valid JSON whose undefined metrics are
/// null and explained in <c>notes</c>.
/// </summary>
public sealed class ForecastUnusualInputTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("evalfc-odd-");

    public void Dispose() => _dir.Delete(true);

    [Theory]
    [InlineData(3, "3")]
    [InlineData(3, "2000000000")]
    [InlineData(10, "20000")]
    public void HorizonsNotBelowTheRows_EndWithExit2AndAMessage_NotAStackTrace(int rows, string horizons)
    {
        // K = 20000 on 10 rows ran out of memory and K = 2e9 overflowed, both with a stack trace.
        var csv = Write("t,v\n" + string.Concat(Enumerable.Range(0, rows).Select(i => $"{i},{i % 3}\n")));
        var (code, _, error) = Run(csv, horizons);
        Assert.Equal(2, code);
        Assert.Contains($"--horizons {horizons} needs a series of more than {horizons} rows, it has {rows} row(s)", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void AnAllZeroSeries_WritesValidJson_WithNrmseAndMapeNull_AndSaysWhy()
    {
        var csv = Write("t,v\n" + string.Concat(Enumerable.Range(0, 200).Select(i => $"{i},0\n")));
        var (code, output, error) = Run(csv, "2");
        Assert.True(code == 0, $"exit {code}: {error}");
        using var doc = JsonDocument.Parse(File.ReadAllText(Json));
        var h1 = doc.RootElement.GetProperty("models").GetProperty("last-value")[0];
        Assert.True(h1.GetProperty("n").GetInt32() > 0);
        Assert.Equal(JsonValueKind.Null, h1.GetProperty("nrmse").ValueKind);
        Assert.Equal(JsonValueKind.Null, h1.GetProperty("mape").ValueKind);
        Assert.Equal(0, h1.GetProperty("mae").GetDouble());
        var notes = doc.RootElement.GetProperty("notes").EnumerateArray().Select(n => n.GetString()!).ToArray();
        Assert.Contains(notes, n => n.StartsWith("nrmse is null: the series' standard deviation is 0", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.StartsWith("mape is null at horizons 1, 2: every scored value is 0", StringComparison.Ordinal));
        Assert.DoesNotContain(notes, n => n.StartsWith("every metric", StringComparison.Ordinal));
        Assert.Contains("note: nrmse is null", output, StringComparison.Ordinal);
    }

    [Fact]
    public void ASeriesTooShortForAnyForecast_WritesNullMetrics_AndOneRowPerInputRow()
    {
        var csv = Write("t,v\n" + string.Concat(Enumerable.Range(0, 12).Select(i => $"{i},{Math.Sin(i).ToString("R", CultureInfo.InvariantCulture)}\n")));
        var (code, _, error) = Run(csv, "3");
        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Equal(13, File.ReadAllLines(Predictions).Length);
        using var doc = JsonDocument.Parse(File.ReadAllText(Json));
        Assert.All(doc.RootElement.GetProperty("models").EnumerateObject(), m => Assert.Equal(JsonValueKind.Null, m.Value[0].GetProperty("nll").ValueKind));
        Assert.StartsWith("every metric is null at horizons 1-3: no row where every model has a forecast (12 rows;", doc.RootElement.GetProperty("notes")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TheModelsSeeValuesOfExtremeMagnitude_ScaledByAPowerOfTwo_SoTheForecastsAreTheSameUpToThatPower()
    {
        // Values near 1 (max < 2: seen as written) and the same values times 2^-120 (~1e-36): the second run must forecast
        // exactly 2^-120 times the first. Before, the models' absolute floors made such a series' forecasts 1e19 stds off.
        var s = ForecastTestData.Sine(300, 12, 0.5);
        var ones = s with { Values = s.Values.Select(v => v / 64).ToArray() };
        var tiny = ones with { Values = ones.Values.Select(v => Math.ScaleB(v, -120)).ToArray() };
        Assert.Equal(0, ForecastEvaluation.ScaleExponent(ones.Values));
        Assert.Equal(120, ForecastEvaluation.ScaleExponent(tiny.Values));
        Assert.Equal(0, ForecastEvaluation.ScaleExponent([1e-6, 0]));
        Assert.Equal(0, ForecastEvaluation.ScaleExponent([-1e15]));
        Assert.Equal(-1019, ForecastEvaluation.ScaleExponent([1e307]));

        var a = ForecastEvaluation.Run(ones, 2, ForecastTestData.Small(), CalendarFeatures.None);
        var b = ForecastEvaluation.Run(tiny, 2, ForecastTestData.Small(), CalendarFeatures.None);
        Assert.Equal(120, b.ValueScaleExponent);
        var oa = a.Models.Single(m => m.Name == ForecastOutputs.Ours);
        var ob = b.Models.Single(m => m.Name == ForecastOutputs.Ours);
        Assert.Equal(oa.Mu.Select(v => Math.ScaleB(v, -120)), ob.Mu);
        Assert.Equal(oa.Sigma.Select(v => Math.ScaleB(v, -120)), ob.Sigma);
        Assert.True(oa.Metrics[0].Count > 0);
        Assert.Equal(oa.Metrics[0].Nrmse, ob.Metrics[0].Nrmse);
        Assert.Equal(Math.ScaleB(oa.Metrics[0].Mae, -120), ob.Metrics[0].Mae);
        Assert.Equal(oa.Metrics[0].Nll - (120 * Math.Log(2)), ob.Metrics[0].Nll, 9);
    }

    [Fact]
    public void HugeValues_DoNotOverflowTheMetrics_AndTinyOnesAreNotRoundedToZeroInTheJson()
    {
        var rng = new Random(3);
        var csv = Write("t,v\n" + string.Concat(Enumerable.Range(0, 200).Select(i => string.Create(CultureInfo.InvariantCulture, $"{i},{1e307 * (1 + rng.NextDouble()):R}\n"))));
        var (code, _, error) = Run(csv, "1");
        Assert.True(code == 0, $"exit {code}: {error}");
        using var doc = JsonDocument.Parse(File.ReadAllText(Json));
        Assert.True(doc.RootElement.GetProperty("input").GetProperty("series_std").GetDouble() > 1e306);
        Assert.True(doc.RootElement.GetProperty("models").GetProperty("lstm-online")[0].GetProperty("nrmse").GetDouble() is > 0.1 and < 10);

        // Six decimals as before from 1e-3 up; six significant digits below (an MAE of 2.5e-31 was written as 0).
        Assert.Equal(2.54816e-31, ForecastOutputs.J(2.548161234e-31));
        Assert.Equal(0.123457, ForecastOutputs.J(0.1234567));
        Assert.Equal(17.086453, ForecastOutputs.J(17.0864531));
        Assert.Null(ForecastOutputs.J(double.NaN));
        Assert.Null(ForecastOutputs.J(double.PositiveInfinity));
    }

    [Fact]
    public void AnOutputThatCannotBeWritten_EndsWithExit2BeforeThePass()
    {
        // A --json that is a folder, or a --plot under a file, crashed with a stack trace after the whole pass.
        var csv = Write("t,v\n" + string.Concat(Enumerable.Range(0, 20).Select(i => $"{i},{i % 5}\n")));
        string[] args = ["eval", "forecast", "--csv", csv, "--time-column", "t", "--value-column", "v", "--predictions", Predictions, "--json", _dir.FullName];
        var error = new StringWriter();
        var output = new StringWriter();
        Assert.Equal(2, CommandLineApp.Build().Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error }));
        Assert.Equal($"eval forecast: cannot write {_dir.FullName}: it is a folder.", error.ToString().Trim());
        Assert.False(File.Exists(Predictions));
        Assert.Equal("", output.ToString());

        Assert.StartsWith($"cannot write {Path.Combine(csv, "x.png")}: ", ForecastEvalCommand.Unwritable([Predictions, null, Path.Combine(csv, "x.png")]), StringComparison.Ordinal);
        Assert.Null(ForecastEvalCommand.Unwritable([Path.Combine(_dir.FullName, "new", "p.csv"), null]));
        Assert.True(Directory.Exists(Path.Combine(_dir.FullName, "new")));
    }

    [Fact]
    public void ASetWithoutAValue_NamesSet_NotWhere()
    {
        var e = Assert.Throws<FormatException>(() => ForecastEvalCommand.Apply(new OnlineLstmSettings(), "Epochs"));
        Assert.Equal("--set 'Epochs': expected Name=Value.", e.Message);
        var s = new OnlineLstmSettings();
        ForecastEvalCommand.Apply(s, "Epochs=3");
        Assert.Equal(3, s.Epochs);
    }

    private string Predictions => Path.Combine(_dir.FullName, "p.csv");

    private string Json => Path.Combine(_dir.FullName, "e.json");

    private string Write(string text)
    {
        var path = Path.Combine(_dir.FullName, "in.csv");
        File.WriteAllText(path, text);
        return path;
    }

    private (int Code, string Output, string Error) Run(string csv, string horizons)
    {
        string[] args =
        [
            "eval", "forecast", "--csv", csv, "--time-column", "t", "--value-column", "v", "--horizons", horizons, "--predictions", Predictions, "--json", Json,
            "--hidden", "4", "--retrain-every", "32", "--set", "MinRows=64", "--set", "FirstEpochs=2", "--set", "BatchSize=4", "--set", "WindowLength=16", "--set", "WarmupSteps=4",
        ];
        var output = new StringWriter();
        var error = new StringWriter();
        var code = CommandLineApp.Build().Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
