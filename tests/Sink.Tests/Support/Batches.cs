using StreamLstm.Model.Forecasting;

namespace StreamLstm.Sink.Tests.Support;

internal static class Batches
{
    /// <summary>Deterministic forecasts: row i of key k has observed = k*100 + i*0.25, mu_h = observed + h*0.125, sigma_h = 0.5 + h/8.</summary>
    public static ForecastBatch Make(SourceKind source, IReadOnlyList<string> keys, int rows, int firstIndex, long t0Ms, int horizons = 3)
    {
        var b = new ForecastBatch(source, horizons, Math.Max(1, rows)) { ModelVersion = "m-1" };
        for (var r = 0; r < rows; r++)
        {
            var i = firstIndex + r;
            var k = i % keys.Count;
            b.Keys[r] = keys[k];
            b.TimestampsMs[r] = t0Ms + i;
            b.Observed[r] = Observed(i, k);
            for (var h = 0; h < horizons; h++)
            {
                b.Mu[(r * horizons) + h] = (float)(b.Observed[r] + ((h + 1) * 0.125));
                b.Sigma[(r * horizons) + h] = 0.5f + ((h + 1) / 8f);
            }

            b.Partitions[r] = 0;
            b.Offsets[r] = i;
        }

        b.Count = rows;
        return b;
    }

    public static double Observed(int i, int k) => (k * 100) + (i * 0.25);

    /// <summary>One row per call with explicit observed/mu/sigma (horizon 1 only matters for scoring).</summary>
    public static ForecastBatch Row(SourceKind source, string key, long tMs, double observed, float mu, float sigma)
    {
        var b = new ForecastBatch(source, 1, 1) { ModelVersion = "m-1" };
        b.Keys[0] = key;
        b.TimestampsMs[0] = tMs;
        b.Observed[0] = observed;
        b.Mu[0] = mu;
        b.Sigma[0] = sigma;
        b.Partitions[0] = -1;
        b.Offsets[0] = -1;
        b.Count = 1;
        return b;
    }
}
