using System.Globalization;

namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>
/// Why a metric of the report is null, and what was done to unusual input, in words: the <c>notes</c> of the JSON report and
/// the lines printed under the table. Empty for an ordinary series.
/// </summary>
public static class ForecastNotes
{
    /// <summary>The notes of one evaluation.</summary>
    /// <param name="r">Result.</param>
    /// <returns>One sentence per note.</returns>
    public static IReadOnlyList<string> Of(ForecastEvalResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var inv = CultureInfo.InvariantCulture;
        var notes = new List<string>();
        var ours = r.Models.Single(m => m.Name == ForecastOutputs.Ours).Metrics;
        var scored = Enumerable.Range(0, r.Horizons).Where(k => ours[k].Count > 0).ToArray();
        var unscored = Enumerable.Range(0, r.Horizons).Where(k => ours[k].Count == 0).ToArray();
        if (unscored.Length > 0)
        {
            var first = r.Lstm.FirstForecastRow >= 0 ? string.Create(inv, $"our model's first forecast came at row {r.Lstm.FirstForecastRow}") : "our model made no forecast (it needs more rows to fit)";
            notes.Add(string.Create(inv, $"every metric is null at {Horizons(unscored)}: no row where every model has a forecast ({r.Series.Count} rows; {first})."));
        }

        if (scored.Length > 0 && !(r.SeriesStd > 0 && double.IsFinite(r.SeriesStd)))
        {
            notes.Add(r.SeriesStd == 0
                ? "nrmse is null: the series' standard deviation is 0 (a constant series), so RMSE / std is undefined; rmse and mae are reported."
                : "nrmse is null: the series' standard deviation is not a finite number (values too large to square).");
        }

        var noPct = scored.Where(k => double.IsNaN(ours[k].Mape)).ToArray();
        if (noPct.Length > 0) notes.Add($"mape is null at {Horizons(noPct)}: every scored value is 0, so no percentage error is defined.");
        if (r.ValueScaleExponent != 0)
        {
            notes.Add(string.Create(inv, $"the values' magnitude is outside [1e-6, 1e15]: the models saw them times 2^{r.ValueScaleExponent} (exact), and the forecasts are scaled back."));
        }

        if (r.Series.RowsWithoutTime > 0)
        {
            notes.Add(string.Create(inv, $"{r.Series.RowsWithoutTime} row(s) have an empty time cell (first at line {r.Series.FirstRowWithoutTime}): kept as missing rows, not learned from."));
        }

        return notes;
    }

    /// <summary>Zero-based horizons as words, runs of three or more as ranges: <c>horizons 1, 2</c>, <c>horizons 1-60</c>.</summary>
    private static string Horizons(int[] ks)
    {
        var parts = new List<string>();
        for (var i = 0; i < ks.Length;)
        {
            var j = i;
            while (j + 1 < ks.Length && ks[j + 1] == ks[j] + 1) j++;
            parts.Add(j - i >= 2 ? string.Create(CultureInfo.InvariantCulture, $"{ks[i] + 1}-{ks[j] + 1}") : string.Join(", ", ks[i..(j + 1)].Select(k => (k + 1).ToString(CultureInfo.InvariantCulture))));
            i = j + 1;
        }

        return (ks.Length == 1 ? "horizon " : "horizons ") + string.Join(", ", parts);
    }
}
