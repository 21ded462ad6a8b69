using System.Globalization;
using StreamLstm.Streaming.Eval.Forecast;

namespace StreamLstm.Streaming.Tests.Eval.Forecast;

/// <summary>Small deterministic series for the forecast-evaluation tests.</summary>
internal static class ForecastTestData
{
    /// <summary>A sine of period <paramref name="period"/> rows plus seeded Gaussian noise, one row every 30 minutes from 2020-01-01.</summary>
    public static SeriesData Sine(int rows, int period, double noise, int seed = 1)
    {
        var rng = new Random(seed);
        var t0 = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var values = new double[rows];
        var stamps = new string[rows];
        var times = new long[rows];
        for (var i = 0; i < rows; i++)
        {
            var g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            values[i] = 100 + (20 * Math.Sin(2 * Math.PI * i / period)) + (noise * g);
            var t = t0.AddMinutes(30 * i);
            stamps[i] = t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            times[i] = new DateTimeOffset(t).ToUnixTimeMilliseconds();
        }

        return new SeriesData(stamps, times, values, 0);
    }

    /// <summary>Writes <paramref name="s"/> as <c>timestamp,value</c>.</summary>
    public static void WriteCsv(string path, SeriesData s)
    {
        using var w = new StreamWriter(path);
        w.Write("timestamp,value\n");
        for (var i = 0; i < s.Count; i++) w.Write(string.Create(CultureInfo.InvariantCulture, $"{s.Timestamps[i]},{s.Values[i]:R}\n"));
    }

    /// <summary>Settings small enough for a unit test (a fit every 32 rows from row 64).</summary>
    public static OnlineLstmSettings Small() => new()
    {
        Hidden = 8, RetrainEvery = 32, MinRows = 64, ReplayWindow = 256, Holdout = 16, HoldoutContext = 8, Epochs = 1, FirstEpochs = 3,
        BatchesPerEpoch = 2, BatchSize = 4, WindowLength = 16, WarmupSteps = 4,
    };
}
