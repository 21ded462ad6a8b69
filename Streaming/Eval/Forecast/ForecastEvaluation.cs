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
/// <param name="Periods">Every period detection (row, period) of the longest key.</param>
/// <param name="KeyCount">Series (keys) in the input.</param>
/// <param name="Lstm">Our model (fine-tunes, promotions, first forecast).</param>
/// <param name="Elapsed">Wall time of the pass.</param>
public sealed record ForecastEvalResult(SeriesData Series, int Horizons, double SeriesStd, IReadOnlyList<ModelForecasts> Models,
    IReadOnlyList<(int Row, int Period)> Periods, int KeyCount, OnlineLstmLearner Lstm, TimeSpan Elapsed)
{
    /// <summary>Calendar inputs used.</summary>
    public CalendarFeatures Calendar => Lstm.Calendar;

    /// <summary>The models saw the values times 2^this (0: as written); see <see cref="ForecastEvaluation.ScaleExponent"/>.</summary>
    public int ValueScaleExponent { get; init; }
}

/// <summary>
/// The streaming evaluation: one pass over the rows in time order; at each row every model (ours and the baselines) takes
/// the row, forecasts the next K rows of the same key and learns. Forecasts are stored by the row they target, so row t,
/// horizon k holds the forecast made k rows earlier (of row t's key). Each horizon is scored over the rows where every
/// model has a forecast. With keys, each key has its own history, baselines and LSTM state; the LSTM's weights are shared.
/// </summary>
public static class ForecastEvaluation
{
    /// <summary>Builds the models of one key.</summary>
    /// <param name="history">The key's history.</param>
    /// <returns>Models, ours first.</returns>
    public delegate OnlineForecaster[] ModelFactory(SeriesHistory history);

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
        using var learner = new OnlineLstmLearner(horizons, settings, calendar, series.Count);
        var tails = new List<TailCalibration>();
        var combination = new CombinationWeights(horizons, 4);
        // Several keys: a key's σ is floored by the change seen across all keys (see PooledChange).
        var pooled = series.Keys is null ? null : new PooledChange();
        var exponent = ScaleExponent(series.Values);
        var seen = exponent == 0 ? series : series with { Values = series.Values.Select(v => Math.ScaleB(v, exponent)).ToArray() };
        var (mu, sigma, names, histories) = Pass(seen, horizons, h =>
        {
            OnlineForecaster[] parts = WithTails([learner.NewKey(h), new LastValueForecaster(horizons), new SeasonalNaiveForecaster(horizons, h), new LinearArForecaster(horizons, h)], tails, horizons);
            // Ours calibrates its σ itself (CombinationWeights.Tails); its weights are shrunk toward the last value (part 1).
            OnlineForecaster[] all = [.. parts, new ForecastCombiner(horizons, parts, combination, anchor: 1)];
            foreach (var m in all) m.Pooled = pooled;
            return all;
        }, pooled);
        sw.Stop();
        // Scored as the models saw the values (so that errors of 1e307 do not overflow nor those of 1e-300 underflow), then
        // the metrics in series units scaled back; all exact for exponent 0.
        var std = ForecastMetrics.StandardDeviation(seen.Values);
        var metrics = Score(seen.Values, horizons, mu, sigma, std);
        if (exponent != 0)
        {
            Unscale(mu, sigma, exponent);
            std = Math.ScaleB(std, -exponent);
            metrics = metrics.Select(m => m.Select(h => h.Unscaled(exponent)).ToArray()).ToArray();
        }

        // Ours (the combination, stepped last) first, then the LSTM alone and the baselines.
        var result = names.Select((m, i) => new ModelForecasts(m, mu[i], sigma[i], metrics[i])).OrderBy(m => m.Name == ForecastOutputs.Ours ? 0 : 1).ToArray();
        var longest = histories.MaxBy(h => h.Count)!;
        return new ForecastEvalResult(series, horizons, std, result, longest.Periods.ToArray(), histories.Count, learner, sw.Elapsed) { ValueScaleExponent = exponent };
    }

    /// <summary>
    /// The power of two the models see the values scaled by: 0 when the largest |value| lies in [1e-6, 1e15] (every series of
    /// ordinary magnitude, read exactly as written); otherwise the one that brings it into [1, 2). The models' absolute floors
    /// (of the running scale, of σ) assume ordinary magnitudes: values of 1e-30 gave forecasts 1e19 series-stds off, and
    /// values near 1e308 overflow their differences. Scaling by a power of two is exact, and the forecasts are scaled back.
    /// </summary>
    /// <param name="values">The series.</param>
    /// <returns>The exponent.</returns>
    public static int ScaleExponent(ReadOnlySpan<double> values)
    {
        var max = 0.0;
        foreach (var v in values) max = Math.Max(max, Math.Abs(v));
        return max == 0 || max is >= 1e-6 and <= 1e15 ? 0 : -Math.ILogB(max);
    }

    private static void Unscale(double[][] mu, double[][] sigma, int exponent)
    {
        foreach (var a in mu.Concat(sigma))
        {
            for (var i = 0; i < a.Length; i++) a[i] = Math.ScaleB(a[i], -exponent);
        }
    }

    /// <summary>Steps every model over every row; returns per model the forecasts aligned by target row.</summary>
    /// <param name="series">Input.</param>
    /// <param name="horizons">K.</param>
    /// <param name="models">Makes the models of a new key (the same names in the same order for every key).</param>
    /// <returns>Per model <c>[N, K]</c> means and standard deviations, the model names and every key's history.</returns>
    /// <param name="pooled">Change across keys, updated with each row's change from its key's previous row (null: none).</param>
    public static (double[][] Mu, double[][] Sigma, string[] Names, List<SeriesHistory> Histories) Pass(SeriesData series, int horizons, ModelFactory models, PooledChange? pooled = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(models);
        var n = series.Count;
        var keys = new Dictionary<string, KeyState>(StringComparer.Ordinal);
        var histories = new List<SeriesHistory>();
        string[]? names = null;
        double[][] mu = [], sigma = [];
        for (var t = 0; t < n; t++)
        {
            var name = series.Keys?[t] ?? "";
            if (!keys.TryGetValue(name, out var key))
            {
                var history = new SeriesHistory();
                histories.Add(history);
                keys[name] = key = new KeyState(history, models(history), horizons);
                if (names is null)
                {
                    names = key.Models.Select(m => m.Name).ToArray();
                    mu = names.Select(_ => Nans(n * horizons)).ToArray();
                    sigma = names.Select(_ => Nans(n * horizons)).ToArray();
                }
            }

            if (pooled is not null && key.History.Count > 0) pooled.Add(series.Values[t] - key.History[key.History.Count - 1]);
            key.History.Append(series.Values[t]);
            long? time = series.TimesMs is null ? null : series.TimesMs[t];
            var j = key.History.Count - 1;
            for (var i = 0; i < key.Models.Length; i++)
            {
                // Row t is the key's row j: the forecast of horizon k made at the key's row j−k sits in ring slot (j−k) mod K.
                for (var k = 1; k <= horizons && k <= j; k++)
                {
                    var slot = (((j - k) % horizons) * horizons) + k - 1;
                    mu[i][(t * horizons) + k - 1] = key.Mu[i][slot];
                    sigma[i][(t * horizons) + k - 1] = key.Sigma[i][slot];
                }

                var own = j % horizons * horizons;
                key.Models[i].Step(series.Values[t], time, key.Mu[i].AsSpan(own, horizons), key.Sigma[i].AsSpan(own, horizons));
            }
        }

        return (mu, sigma, names ?? [], histories);
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

    /// <summary>Gives model i of every key the same <see cref="TailCalibration"/> (created for the first key).</summary>
    /// <param name="models">One key's models.</param>
    /// <param name="tails">Shared calibrations, one per model, filled on first use.</param>
    /// <param name="horizons">K.</param>
    /// <returns><paramref name="models"/>.</returns>
    public static OnlineForecaster[] WithTails(OnlineForecaster[] models, List<TailCalibration> tails, int horizons)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(tails);
        for (var i = 0; i < models.Length; i++)
        {
            if (tails.Count <= i) tails.Add(new TailCalibration(horizons, models[i].TailMinFactor));
            models[i].Tail = tails[i];
        }

        return models;
    }

    private sealed class KeyState(SeriesHistory history, OnlineForecaster[] models, int horizons)
    {
        public SeriesHistory History { get; } = history;

        public OnlineForecaster[] Models { get; } = models;

        // Per model, the last K rows' forecasts: slot (row mod K) holds [K] values.
        public double[][] Mu { get; } = models.Select(_ => new double[horizons * horizons]).ToArray();

        public double[][] Sigma { get; } = models.Select(_ => new double[horizons * horizons]).ToArray();
    }

    private static double[] Nans(int n)
    {
        var a = new double[n];
        a.AsSpan().Fill(double.NaN);
        return a;
    }
}
