using StreamLstm.Streaming.Eval.Forecast;

namespace StreamLstm.Streaming.Tests.Eval.Forecast;

/// <summary>
/// Series split by key into many short, sparse keys (vital signs charted a few dozen times per stay): the learner still fits
/// and forecasts with default windows, and a key that repeats one value does not get a σ near zero.
/// </summary>
public class SparseKeysTests
{
    [Fact]
    public void KeysShorterThanTheConfiguredWindow_StillGetFits_AndForecasts()
    {
        // 60 keys × 40 rows, interleaved: no key ever holds WarmupSteps + WindowLength = 48 rows.
        var s = Interleaved(keys: 60, rows: 40, constantKeys: 0);
        var settings = new OnlineLstmSettings { Hidden = 8, MinRows = 128, BatchesPerEpoch = 2, FirstEpochs = 3, Epochs = 1 };
        Assert.True(settings.WarmupSteps + settings.WindowLength > 40);
        var r = ForecastEvaluation.Run(s, 2, settings, CalendarFeatures.None);

        Assert.True(r.Lstm.Fits >= 1, "no fine-tune ran");
        Assert.True(r.Lstm.ShortWindowFits >= 1, "the fits did not use the shortened windows");
        var ours = r.Models.Single(m => m.Name == ForecastOutputs.Ours);
        // Rows are scored once every model has a forecast and ten errors of its own for σ (with the configured windows, none).
        Assert.True(ours.Metrics[0].Count > s.Count / 5, $"only {ours.Metrics[0].Count} of {s.Count} rows scored");
    }

    [Fact]
    public void AKeyRepeatingOneValue_KeepsASigmaFlooredByTheOtherKeys()
    {
        // A third of the keys repeat one value for 30 rows, then jump; the rest move every row.
        var s = Interleaved(keys: 30, rows: 40, constantKeys: 10);
        var settings = new OnlineLstmSettings { Hidden = 8, MinRows = 128, BatchesPerEpoch = 2, FirstEpochs = 3, Epochs = 1, WindowLength = 16, WarmupSteps = 8, Holdout = 8, HoldoutContext = 8 };
        var r = ForecastEvaluation.Run(s, 1, settings, CalendarFeatures.None);

        foreach (var m in r.Models)
        {
            // Without the pooled floor the jumps after the flat runs cost NLLs of 1e8 and more (σ → 1e-6 of the value).
            Assert.True(m.Metrics[0].Nll < 100, $"{m.Name}: mean NLL {m.Metrics[0].Nll}");
            Assert.All(m.Sigma.Where(double.IsFinite), sigma => Assert.True(sigma > 0.01, $"{m.Name}: σ {sigma}"));
        }
    }

    // Round-robin rows of `keys` keys; each key a random walk around 80 with steps of about 2, or (the first constantKeys keys)
    // 88 repeated for 30 rows, then the random walk.
    private static SeriesData Interleaved(int keys, int rows, int constantKeys)
    {
        var rng = new Random(7);
        var level = Enumerable.Range(0, keys).Select(_ => 80.0).ToArray();
        var values = new List<double>();
        var names = new List<string>();
        var stamps = new List<string>();
        for (var t = 0; t < rows; t++)
        {
            for (var k = 0; k < keys; k++)
            {
                level[k] += 2 * ((rng.NextDouble() * 2) - 1);
                values.Add(k < constantKeys && t < 30 ? 88 : Math.Round(level[k]));
                names.Add("p" + k.ToString(System.Globalization.CultureInfo.InvariantCulture));
                stamps.Add(t.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return new SeriesData(stamps.ToArray(), null, values.ToArray(), 0) { Keys = names.ToArray() };
    }
}
