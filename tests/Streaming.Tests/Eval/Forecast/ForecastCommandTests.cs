using System.Text.Json;
using StreamLstm.Streaming.Cli;

namespace StreamLstm.Streaming.Tests.Eval.Forecast;

/// <summary>The <c>eval forecast</c> command end to end on a small generated CSV: its output contract and the online model learning.</summary>
public class ForecastCommandTests
{
    [Fact]
    public void EvalForecast_WritesTheContract_AndOurModelLearnsTheSeason()
    {
        var dir = Directory.CreateTempSubdirectory("evalfc-");
        try
        {
            var csv = Path.Combine(dir.FullName, "series.csv");
            ForecastTestData.WriteCsv(csv, ForecastTestData.Sine(700, 24, 1.0));
            string pred = Path.Combine(dir.FullName, "out", "pred.csv"), json = Path.Combine(dir.FullName, "out", "eval.json"), png = Path.Combine(dir.FullName, "out", "plot.png");
            var output = new StringWriter();
            var error = new StringWriter();
            string[] args =
            [
                "eval", "forecast", "--csv", csv, "--time-column", "timestamp", "--value-column", "value", "--horizons", "2",
                "--predictions", pred, "--json", json, "--plot", png, "--hidden", "8", "--retrain-every", "32",
                "--set", "MinRows=64", "--set", "FirstEpochs=6", "--set", "BatchSize=8", "--set", "WindowLength=16", "--set", "WarmupSteps=4",
            ];
            var code = CommandLineApp.Build().Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
            Assert.True(code == 0, $"exit {code}: {error}");

            var lines = File.ReadAllLines(pred);
            Assert.Equal("timestamp,value,mu_h1,mu_h2,sigma_h1,sigma_h2", lines[0]);
            Assert.Equal(701, lines.Length);
            // Ours forecasts once its first fit is done (at row 64 + K), and every row after.
            Assert.All(lines.Skip(1 + 100), l => Assert.DoesNotContain(",,", l, StringComparison.Ordinal));

            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            var models = doc.RootElement.GetProperty("models");
            foreach (var name in new[] { "lstm-online", "last-value", "seasonal-naive", "linear-ar" })
            {
                var h = models.GetProperty(name);
                Assert.Equal(2, h.GetArrayLength());
                foreach (var p in new[] { "nrmse", "mae", "mape", "nll", "coverage80", "coverage95" }) Assert.Equal(JsonValueKind.Number, h[0].GetProperty(p).ValueKind);
            }

            Assert.Equal(24, doc.RootElement.GetProperty("period").GetProperty("final").GetInt32());
            Assert.True(doc.RootElement.GetProperty("ours").GetProperty("promotions").GetInt32() >= 1);
            // A learned model beats forecasting no change on a sine: it has learned something.
            Assert.True(models.GetProperty("lstm-online")[1].GetProperty("nrmse").GetDouble() < models.GetProperty("last-value")[1].GetProperty("nrmse").GetDouble());

            var bytes = File.ReadAllBytes(png);
            Assert.True(bytes.Length > 1000 && bytes[0] == 0x89 && bytes[1] == (byte)'P' && bytes[2] == (byte)'N' && bytes[3] == (byte)'G', "the plot is a PNG");
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void EvalForecast_MissingColumn_ExitsWith2AndNamesIt()
    {
        var dir = Directory.CreateTempSubdirectory("evalfc-");
        try
        {
            var csv = Path.Combine(dir.FullName, "series.csv");
            ForecastTestData.WriteCsv(csv, ForecastTestData.Sine(50, 12, 1.0));
            var error = new StringWriter();
            string[] args = ["eval", "forecast", "--csv", csv, "--time-column", "timestamp", "--value-column", "price", "--predictions", Path.Combine(dir.FullName, "p.csv"), "--json", Path.Combine(dir.FullName, "e.json")];
            var code = CommandLineApp.Build().Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = new StringWriter(), Error = error });
            Assert.Equal(2, code);
            Assert.Contains("no column 'price'", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void EvalForecast_RowsWithMissingValues_KeepTheirLine_WithEmptyCells()
    {
        var dir = Directory.CreateTempSubdirectory("evalfc-");
        try
        {
            var csv = Path.Combine(dir.FullName, "series.csv");
            var rows = new List<string> { "timestamp,value" };
            for (var i = 0; i < 120; i++)
            {
                var v = i % 17 == 5 ? "" : i % 29 == 3 ? "n/a" : (100 + Math.Sin(i / 5.0)).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                rows.Add($"{1_700_000_000 + (i * 60)},{v}");
            }

            File.WriteAllLines(csv, rows);
            var pred = Path.Combine(dir.FullName, "p.csv");
            string[] args = ["eval", "forecast", "--csv", csv, "--time-column", "timestamp", "--value-column", "value", "--horizons", "2", "--predictions", pred, "--json", Path.Combine(dir.FullName, "e.json"), "--hidden", "4"];
            var error = new StringWriter();
            var code = CommandLineApp.Build().Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = new StringWriter(), Error = error });
            Assert.True(code == 0, $"exit {code}: {error}");

            // One output row per input row, in input order; a row whose value was missing has its time and nothing else.
            var lines = File.ReadAllLines(pred);
            Assert.Equal(rows.Count, lines.Length);
            for (var i = 1; i < rows.Count; i++)
            {
                var input = rows[i].Split(',');
                var output = lines[i].Split(',');
                Assert.Equal(input[0], output[0]);
                Assert.Equal(6, output.Length);
                if (!double.TryParse(input[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _))
                {
                    Assert.All(output.Skip(1), c => Assert.Equal("", c));
                }
                else
                {
                    Assert.Equal(double.Parse(input[1], System.Globalization.CultureInfo.InvariantCulture), double.Parse(output[1], System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
