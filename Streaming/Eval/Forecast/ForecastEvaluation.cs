using System.Diagnostics;

namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>What one model forecast, aligned by target row, and how well.</summary>
/// <param name="Name">Model name.</param>
/// <param name="Mu"><c>[N, K]</c>: element (t, k−1) is the forecast of row t made at row t−k (NaN where none exists).</param>
/// <param name="Sigma"><c>[N, K]</c>, aligned like <paramref name="Mu"/>.</param>
/// <param name="Metrics">Per horizon (index k−1), over the rows every model forecast.</param>
public sealed record ModelForecasts(string Name, double[] Mu, double[] Sigma, HorizonMetrics[] Metrics);

/// <summary>The outcome of <see cref="ForecastEvaluation.Run"/>.</summary>
/// <param name="Series">Input.</param>
/// <param name="Horizons">K.</param>
/// <param name="SeriesStd">Standard deviation of the values (NRMSE denominator).</param>
/// <param name="Models">Our model first, then the baselines.</param>
/// <param name="Periods">Every period detection (row, period).</param>
/// <param name="Lstm">Our model (fine-tunes, promotions, first forecast).</param>
/// <param name="Calendar">Calendar inputs used.</param>
/// <param name="Elapsed">Wall time of the pass.</param>
public sealed record ForecastEvalResult(SeriesData Series, int Horizons, double SeriesStd, IReadOnlyList<ModelForecasts> Models,
    IReadOnlyList<(int Row, int Period)> Periods, OnlineLstmForecaster Lstm, CalendarFeatures Calendar, TimeSpan Elapsed);

/// <summary>
/// The streaming evaluation: one pass over the rows in time order; at each row every model (ours and the baselines) takes
/// the row, forecasts the next K rows and learns. Forecasts are stored by the row they target, so row t, horizon k holds
/// the forecast made at row t−k. Each horizon is scored over the rows where every model has a forecast.
/// </summary>
public static class ForecastEvaluation
{
    /// <summary>Runs the pass with our model and the three baselines.</summary>
    /// <param name="series">Input rows.</param>
    /// <param name="horizons">K.</param>
    /// <param name="settings">Our model's settings.</param>
    /// <param name="calendar">Calendar inputs (ignored without dates).</param>
    /// <returns>Forecasts and metrics.</returns>
    public static ForecastEvalResult Run(SeriesData series, int horizons, OnlineLstmSettings settings, CalendarFeatures calendar)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.TimesMs is null) calendar = CalendarFeatures.None;
        var sw = Stopwatch.StartNew();
        var history = new SeriesHistory();
        using var lstm = new OnlineLstmForecaster(horizons, history, settings, calendar, series.Count);
        OnlineForecaster[] models = [lstm, new LastValueForecaster(horizons), new SeasonalNaiveForecaster(horizons, history), new LinearArForecaster(horizons, history)];
        var (mu, sigma) = Pass(series, horizons, history, models);
        sw.Stop();
        var std = ForecastMetrics.StandardDeviation(series.Values);
        var metrics = Score(series.Values, horizons, mu, sigma, std);
        var result = models.Select((m, i) => new ModelForecasts(m.Name, mu[i], sigma[i], metrics[i])).ToArray();
        return new ForecastEvalResult(series, horizons, std, result, history.Periods.ToArray(), lstm, calendar, sw.Elapsed);
    }

    /// <summary>Steps every model over every row; returns per model the forecasts aligned by target row.</summary>
    /// <param name="series">Input.</param>
    /// <param name="horizons">K.</param>
    /// <param name="history">History the models share (appended here, before the models step).</param>
    /// <param name="models">Models.</param>
    /// <returns>Per model <c>[N, K]</c> means and standard deviations.</returns>
    public static (double[][] Mu, double[][] Sigma) Pass(SeriesData series, int horizons, SeriesHistory history, IReadOnlyList<OnlineForecaster> models)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(models);
        var n = series.Count;
        var mu = models.Select(_ => Nans(n * horizons)).ToArray();
        var sigma = models.Select(_ => Nans(n * horizons)).ToArray();
        var m = new double[horizons];
        var s = new double[horizons];
        for (var t = 0; t < n; t++)
        {
            history.Append(series.Values[t]);
            long? time = series.TimesMs is null ? null : series.TimesMs[t];
            for (var i = 0; i < models.Count; i++)
            {
                models[i].Step(series.Values[t], time, m, s);
                for (var k = 1; k <= horizons && t + k < n; k++)
                {
                    mu[i][((t + k) * horizons) + k - 1] = m[k - 1];
                    sigma[i][((t + k) * horizons) + k - 1] = s[k - 1];
                }
            }
        }

        return (mu, sigma);
    }

    /// <summary>Per model and horizon, the metrics over the rows where every model has a finite forecast with σ &gt; 0.</summary>
    /// <param name="values">Actual values.</param>
    /// <param name="horizons">K.</param>
    /// <param name="mu">Per model <c>[N, K]</c> means.</param>
    /// <param name="sigma">Per model <c>[N, K]</c> standard deviations.</param>
    /// <param name="seriesStd">NRMSE denominator.</param>
    /// <returns>Per model, per horizon.</returns>
    public static HorizonMetrics[][] Score(ReadOnlySpan<double> values, int horizons, IReadOnlyList<double[]> mu, IReadOnlyList<double[]> sigma, double seriesStd)
    {
        ArgumentNullException.ThrowIfNull(mu);
        ArgumentNullException.ThrowIfNull(sigma);
        var acc = mu.Select(_ => Enumerable.Range(0, horizons).Select(_ => new ForecastMetrics()).ToArray()).ToArray();
        for (var t = 0; t < values.Length; t++)
        {
            for (var k = 0; k < horizons; k++)
            {
                var j = (t * horizons) + k;
                var all = true;
                for (var i = 0; i < mu.Count && all; i++) all = double.IsFinite(mu[i][j]) && sigma[i][j] > 0 && double.IsFinite(sigma[i][j]);
                if (!all) continue;
                for (var i = 0; i < mu.Count; i++) acc[i][k].Add(values[t], mu[i][j], sigma[i][j]);
            }
        }

        return acc.Select(a => a.Select(x => x.Result(seriesStd)).ToArray()).ToArray();
    }

    private static double[] Nans(int n)
    {
        var a = new double[n];
        a.AsSpan().Fill(double.NaN);
        return a;
    }
}
