using StreamLstm.Streaming.Eval.Forecast;

namespace StreamLstm.Streaming.Tests.Eval.Forecast;

/// <summary>Row alignment of the evaluation: row t, horizon k holds the forecast of row t made k rows earlier (of the same key).</summary>
public class ForecastAlignmentTests
{
    [Fact]
    public void MuOnRowT_IsTheForecastMadeAtRowTMinusK_CheckedWithLastValue()
    {
        var s = ForecastTestData.Sine(60, 12, 1.0);
        const int k = 3;
        var (mu, sigma, names, _) = ForecastEvaluation.Pass(s, k, _ => [new LastValueForecaster(k)]);
        Assert.Equal(["last-value"], names);
        for (var t = 0; t < s.Count; t++)
        {
            for (var h = 1; h <= k; h++)
            {
                var cell = mu[0][(t * k) + h - 1];
                // Last value made at row t−h forecasts row t as y[t−h]; nothing exists for the first h rows.
                if (t < h) Assert.True(double.IsNaN(cell), $"row {t} h{h} should be empty, was {cell}");
                else Assert.Equal(s.Values[t - h], cell);
            }
        }

        // σ appears once enough realised errors exist, and is then the RMS of the earlier errors (positive).
        Assert.True(double.IsNaN(sigma[0][(5 * k) + 0]));
        Assert.True(sigma[0][(50 * k) + 0] > 0);
    }

    [Fact]
    public void SeasonalNaive_ForecastsTheValueOneSeasonBefore_OnceThePeriodIsDetected()
    {
        var s = ForecastTestData.Sine(600, 24, 0.5);
        const int k = 2;
        var (mu, _, _, histories) = ForecastEvaluation.Pass(s, k, h => [new SeasonalNaiveForecaster(k, h)]);
        Assert.Equal(24, histories[0].Period);
        // Detection ran at row 255 (256 rows seen); from then on row t's h-step forecast, made at row t−h, is y[t−24].
        for (var t = 300; t < s.Count; t++)
        {
            for (var h = 1; h <= k; h++) Assert.Equal(s.Values[t - 24], mu[0][(t * k) + h - 1]);
        }
    }

    [Fact]
    public void WithKeys_EachKeyIsAlignedWithinItself()
    {
        // Two keys interleaved irregularly; last value of the same key, k rows earlier within that key.
        string[] keys = ["a", "b", "a", "a", "b", "a", "b", "b", "a", "a", "b", "a"];
        var values = keys.Select((key, i) => (key == "a" ? 100.0 : 0.0) + i).ToArray();
        var s = new SeriesData(keys.Select((_, i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(), null, values, 0) { Keys = keys };
        const int k = 2;
        var (mu, _, _, histories) = ForecastEvaluation.Pass(s, k, _ => [new LastValueForecaster(k)]);
        Assert.Equal(2, histories.Count);
        for (var t = 0; t < keys.Length; t++)
        {
            var same = Enumerable.Range(0, t).Where(i => keys[i] == keys[t]).ToArray();
            for (var h = 1; h <= k; h++)
            {
                var cell = mu[0][(t * k) + h - 1];
                if (same.Length < h) Assert.True(double.IsNaN(cell), $"row {t} h{h}");
                else Assert.Equal(values[same[^h]], cell);
            }
        }
    }

    [Fact]
    public void PredictionsCsv_HasTheContractHeader_OneRowPerInputRow_AndTheAlignedCells()
    {
        var s = ForecastTestData.Sine(40, 12, 1.0);
        const int k = 2;
        var (mu, sigma, _, _) = ForecastEvaluation.Pass(s, k, _ => [new LastValueForecaster(k)]);
        var path = Path.Combine(Path.GetTempPath(), $"pred-{Guid.NewGuid():N}.csv");
        try
        {
            ForecastOutputs.WritePredictions(path, s, k, new ModelForecasts("last-value", mu[0], sigma[0], []));
            var lines = File.ReadAllLines(path);
            Assert.Equal("timestamp,value,mu_h1,mu_h2,sigma_h1,sigma_h2", lines[0]);
            Assert.Equal(s.Count + 1, lines.Length);
            Assert.Equal($"{s.Timestamps[0]},{s.Values[0]:R},,,,", lines[1]);
            var row30 = lines[31].Split(',');
            Assert.Equal(s.Timestamps[30], row30[0]);
            Assert.Equal(s.Values[29], double.Parse(row30[2], System.Globalization.CultureInfo.InvariantCulture), 6);
            Assert.Equal(s.Values[28], double.Parse(row30[3], System.Globalization.CultureInfo.InvariantCulture), 6);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
