namespace StreamLstm.Model.Training;

/// <summary>
/// Generated seasonal data for training checks, <c>model train</c> and the training benchmark:
/// v_t = sin(2πt/24 + φ) + 0.5·sin(2πt/7 + ψ) + N(0, 0.1²). Inputs per step: v_t and the daily phase (sin, cos);
/// targets: v_{t+1}, v_{t+2}. Deterministic for a seed.
/// </summary>
public static class SeasonalSeries
{
    /// <summary>Inputs per step (value, sin and cos of the daily phase).</summary>
    public const int Inputs = 3;

    /// <summary>Forecast horizons (the next two values).</summary>
    public const int Horizons = 2;

    /// <summary>Standard deviation of the added Gaussian noise.</summary>
    public const double Noise = 0.1;

    /// <summary>Generates <paramref name="count"/> series of <paramref name="length"/> steps, each with its own phases.</summary>
    /// <param name="count">Series.</param>
    /// <param name="length">Steps per series.</param>
    /// <param name="seed">Random seed.</param>
    /// <returns>The dataset.</returns>
    public static SeriesDataset Create(int count, int length, int seed)
    {
        var rng = new Random(seed);
        var list = new List<TimeSeries>();
        for (var s = 0; s < count; s++)
        {
            var phi = rng.NextDouble() * 2 * Math.PI;
            var psi = rng.NextDouble() * 2 * Math.PI;
            var v = new double[length + Horizons];
            for (var t = 0; t < v.Length; t++) v[t] = Math.Sin(2 * Math.PI * t / 24 + phi) + 0.5 * Math.Sin(2 * Math.PI * t / 7 + psi) + Noise * Gaussian(rng);
            var x = new float[length * Inputs];
            var y = new float[length * Horizons];
            for (var t = 0; t < length; t++)
            {
                x[t * Inputs] = (float)v[t];
                x[t * Inputs + 1] = (float)Math.Sin(2 * Math.PI * t / 24 + phi);
                x[t * Inputs + 2] = (float)Math.Cos(2 * Math.PI * t / 24 + phi);
                for (var k = 0; k < Horizons; k++) y[t * Horizons + k] = (float)v[t + 1 + k];
            }

            list.Add(new TimeSeries(x, y));
        }

        return new SeriesDataset(Inputs, Horizons, list);
    }

    /// <summary>RMSE of predicting every horizon with the last observed value.</summary>
    /// <param name="data">A dataset from <see cref="Create"/>.</param>
    /// <returns>The RMSE.</returns>
    public static double LastValueRmse(SeriesDataset data)
    {
        double s = 0;
        long n = 0;
        foreach (var ts in data.Series)
        {
            var len = ts.Inputs.Length / Inputs;
            for (var t = 0; t < len; t++)
            {
                for (var k = 0; k < Horizons; k++)
                {
                    var e = ts.Targets[t * Horizons + k] - ts.Inputs[t * Inputs];
                    s += e * e;
                    n++;
                }
            }
        }

        return Math.Sqrt(s / n);
    }

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
