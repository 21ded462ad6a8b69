using System.Globalization;
using System.Text;
using System.Text.Json;

namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>Writes the predictions CSV and the JSON report of a forecast evaluation.</summary>
public static class ForecastOutputs
{
    /// <summary>Name of the model whose forecasts go to the predictions CSV and the plot.</summary>
    public const string Ours = "lstm-online";

    /// <summary>Name of the online LSTM on its own (a component of <see cref="Ours"/>, reported, not a baseline).</summary>
    public const string LstmAlone = "lstm-alone";

    /// <summary>
    /// <c>timestamp,value,mu_h1..mu_hK,sigma_h1..sigma_hK</c>, one row per input row: <c>mu_hk</c> on row t is the forecast of
    /// row t's value made k rows earlier (empty where none exists).
    /// </summary>
    /// <param name="path">Output path.</param>
    /// <param name="series">Input rows.</param>
    /// <param name="horizons">K.</param>
    /// <param name="model">The model written.</param>
    public static void WritePredictions(string path, SeriesData series, int horizons, ModelForecasts model)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(model);
        var inv = CultureInfo.InvariantCulture;
        using var w = new StreamWriter(path, false, new UTF8Encoding(false));
        var header = new StringBuilder("timestamp,value");
        for (var k = 1; k <= horizons; k++) header.Append(inv, $",mu_h{k}");
        for (var k = 1; k <= horizons; k++) header.Append(inv, $",sigma_h{k}");
        w.Write(header.Append('\n').ToString());
        var line = new StringBuilder();
        var missing = 0;
        // A row whose value was missing gets its line too (empty value, no forecast): one output row per input row.
        void WriteMissingBefore(int t)
        {
            for (; missing < series.Missing.Count && series.Missing[missing].Before <= t; missing++)
            {
                line.Clear().Append(Quote(series.Missing[missing].Timestamp)).Append(',');
                line.Append(',', 2 * horizons);
                w.Write(line.Append('\n').ToString());
            }
        }

        for (var t = 0; t < series.Count; t++)
        {
            WriteMissingBefore(t);
            line.Clear().Append(Quote(series.Timestamps[t])).Append(',').Append(series.Values[t].ToString("R", inv));
            for (var k = 0; k < horizons; k++) Cell(line, model.Mu[(t * horizons) + k]);
            for (var k = 0; k < horizons; k++) Cell(line, model.Sigma[(t * horizons) + k]);
            w.Write(line.Append('\n').ToString());
        }

        WriteMissingBefore(series.Count);
    }

    /// <summary>The JSON report: input, period, our model's fine-tuning, metrics per model and horizon, and whether the goals are met.</summary>
    /// <param name="path">Output path.</param>
    /// <param name="r">Result.</param>
    /// <param name="input">Input file name.</param>
    /// <param name="valueColumn">Value column.</param>
    /// <param name="settings">Our model's settings.</param>
    public static void WriteJson(string path, ForecastEvalResult r, string input, string valueColumn, OnlineLstmSettings settings)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(settings);
        var goals = Goals(r);
        (bool H1, bool HK, bool Coverage) alone = r.Models.Any(m => m.Name == LstmAlone) ? Goals(r, LstmAlone) : (false, false, false);
        var doc = new
        {
            input = new { file = input, value_column = valueColumn, rows = r.Series.Count, skipped_rows = r.Series.SkippedRows, keys = r.KeyCount, series_std = J(r.SeriesStd), sorted_by_time = r.Series.SortedByTime },
            horizons = r.Horizons,
            calendar = r.Calendar.ToString(),
            period = new { final = r.Periods.Count == 0 ? 0 : r.Periods[^1].Period, detections = r.Periods.Select(p => new { row = p.Row, period = p.Period }) },
            ours = new
            {
                name = Ours,
                device = r.Lstm.Device,
                hidden = settings.Hidden,
                layers = settings.Layers,
                dropout = settings.Layers > 1 ? settings.Dropout : 0,
                inputs = r.Lstm.InputSize,
                retrain_every = settings.RetrainEvery,
                replay_window = settings.ReplayWindow,
                holdout = settings.Holdout,
                learning_rate = settings.LearningRate,
                seed = settings.Seed,
                fine_tunes = r.Lstm.Fits,
                short_window_fine_tunes = r.Lstm.ShortWindowFits,
                promotions = r.Lstm.Promotions,
                optimizer_steps = r.Lstm.OptimizerSteps,
                first_forecast_row = r.Lstm.FirstForecastRow,
            },
            scoring = "each horizon over the rows where every model has a forecast; NRMSE = RMSE / std of the whole series; NLL in natural log, series units",
            models = r.Models.ToDictionary(m => m.Name, m => m.Metrics.Select((h, k) => new
            {
                horizon = k + 1,
                n = h.Count,
                nrmse = J(h.Nrmse),
                rmse = J(h.Rmse),
                mae = J(h.Mae),
                mape = J(h.Mape),
                nll = J(h.Nll),
                coverage80 = J(h.Coverage80),
                coverage95 = J(h.Coverage95),
            }).ToArray()),
            goals = new { beats_every_baseline_nrmse_h1 = goals.H1, beats_every_baseline_nrmse_hk = goals.HK, coverage95_in_92_98 = goals.Coverage },
            // The same verdicts for the LSTM alone: the combination is an evaluation-side forecast the service does not serve yet.
            goals_lstm_alone = new { beats_every_baseline_nrmse_h1 = alone.H1, beats_every_baseline_nrmse_hk = alone.HK, coverage95_in_92_98 = alone.Coverage },
            elapsed_s = Math.Round(r.Elapsed.TotalSeconds, 2),
            // Why a metric is null, and what was done to unusual input (empty for an ordinary series).
            notes = ForecastNotes.Of(r),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The issue's goals: ours beats every baseline in NRMSE at h=1 and h=K; our 95 % coverage lies in 92–98 % at every horizon.</summary>
    /// <param name="r">Result.</param>
    /// <returns>The three verdicts.</returns>
    /// <param name="model">The model judged (default <see cref="Ours"/>).</param>
    public static (bool H1, bool HK, bool Coverage) Goals(ForecastEvalResult r, string model = Ours)
    {
        ArgumentNullException.ThrowIfNull(r);
        var ours = r.Models.Single(m => m.Name == model);
        var baselines = r.Models.Where(m => m.Name is not (Ours or LstmAlone)).ToArray();
        bool Beats(int k) => baselines.All(b => ours.Metrics[k].Nrmse < b.Metrics[k].Nrmse);
        return (Beats(0), Beats(r.Horizons - 1), ours.Metrics.All(h => h.Coverage95 is >= 0.92 and <= 0.98));
    }

    /// <summary>A metric as JSON: null when not finite (JSON has no NaN), else rounded to 6 decimals, or to 6 significant
    /// digits below 1e-3 (a series of tiny values would otherwise report an error of 0).</summary>
    /// <param name="v">Value.</param>
    /// <returns>The JSON number or null.</returns>
    internal static double? J(double v)
    {
        if (!double.IsFinite(v)) return null;
        if (v == 0 || Math.Abs(v) >= 1e-3) return Math.Round(v, 6);
        return double.Parse(v.ToString("G6", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    private static void Cell(StringBuilder b, double v)
    {
        b.Append(',');
        if (double.IsFinite(v)) b.Append(v.ToString("G9", CultureInfo.InvariantCulture));
    }

    private static string Quote(string s) => s.Contains(',', StringComparison.Ordinal) || s.Contains('"', StringComparison.Ordinal) ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
}
