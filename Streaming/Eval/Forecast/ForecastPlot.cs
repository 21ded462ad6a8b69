using ScottPlot;

namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>Actual vs forecast with the 95 % interval band, one panel per plotted horizon (h=1 and h=K), as a PNG (ScottPlot, headless).</summary>
public static class ForecastPlot
{
    /// <summary>Renders the plot.</summary>
    /// <param name="path">PNG path.</param>
    /// <param name="r">Result.</param>
    /// <param name="title">Title.</param>
    /// <param name="lastRows">Plot only the last this many rows (0: all), so that a long series stays readable.</param>
    public static void Write(string path, ForecastEvalResult r, string title, int lastRows = 0)
    {
        ArgumentNullException.ThrowIfNull(r);
        var ours = r.Models.Single(m => m.Name == ForecastOutputs.Ours);
        var n = r.Series.Count;
        var from = lastRows > 0 ? Math.Max(0, n - lastRows) : 0;
        int[] horizons = r.Horizons == 1 ? [1] : [1, r.Horizons];
        var dated = r.Series.TimesMs is not null;
        var xs = Enumerable.Range(from, n - from).Select(t => dated ? DateTimeOffset.FromUnixTimeMilliseconds(r.Series.TimesMs![t]).UtcDateTime.ToOADate() : t).ToArray();
        var multi = new Multiplot();
        multi.AddPlots(horizons.Length);
        for (var p = 0; p < horizons.Length; p++)
        {
            var k = horizons[p];
            var plot = multi.GetPlot(p);
            // The band and the forecast only where a forecast exists.
            var rows = Enumerable.Range(from, n - from).Where(t => double.IsFinite(ours.Mu[(t * r.Horizons) + k - 1]) && double.IsFinite(ours.Sigma[(t * r.Horizons) + k - 1])).ToArray();
            var fx = rows.Select(t => xs[t - from]).ToArray();
            var mu = rows.Select(t => ours.Mu[(t * r.Horizons) + k - 1]).ToArray();
            var half = rows.Select(t => ForecastMetrics.Z95 * ours.Sigma[(t * r.Horizons) + k - 1]).ToArray();
            if (rows.Length > 0)
            {
                var band = plot.Add.FillY(fx, mu.Select((m, i) => m - half[i]).ToArray(), mu.Select((m, i) => m + half[i]).ToArray());
                band.FillColor = Colors.Orange.WithAlpha(0.3);
                band.LineWidth = 0;
                band.LegendText = "95 % interval";
            }

            var actual = plot.Add.ScatterLine(xs, r.Series.Values.AsSpan(from).ToArray());
            actual.Color = Colors.Black;
            actual.LineWidth = 1;
            actual.LegendText = "actual";
            if (rows.Length > 0)
            {
                var fc = plot.Add.ScatterLine(fx, mu);
                fc.Color = Colors.OrangeRed;
                fc.LineWidth = 1;
                fc.LegendText = $"forecast h={k}";
            }

            if (dated) plot.Axes.DateTimeTicksBottom();
            plot.Title(p == 0 ? $"{title}: h={k}" : $"h={k}");
            plot.ShowLegend(Alignment.UpperLeft);
        }

        multi.SavePng(path, 1400, 420 * horizons.Length);
    }
}
