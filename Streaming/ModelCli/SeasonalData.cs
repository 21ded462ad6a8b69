using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Training;

namespace StreamLstm.Streaming.ModelCli;

/// <summary>
/// Generated training data for <c>model train</c> and the training benchmark: v_t = sin(2πt/24 + φ) + 0.5·sin(2πt/7 + ψ)
/// + N(0, 0.1²); inputs v_t and the daily phase (sin, cos); targets v_{t+1}, v_{t+2}.
/// </summary>
internal static class SeasonalData
{
    public const int Inputs = 3;
    public const int Horizons = 2;

    public static SeriesDataset Create(int count, int length, int seed)
    {
        var rng = new Random(seed);
        var list = new List<TimeSeries>();
        for (var s = 0; s < count; s++)
        {
            var phi = rng.NextDouble() * 2 * Math.PI;
            var psi = rng.NextDouble() * 2 * Math.PI;
            var v = new double[length + Horizons];
            for (var t = 0; t < v.Length; t++)
            {
                var noise = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                v[t] = Math.Sin(2 * Math.PI * t / 24 + phi) + 0.5 * Math.Sin(2 * Math.PI * t / 7 + psi) + 0.1 * noise;
            }

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

    /// <summary>RMSE of the model's μ and of a last-value forecast over every series.</summary>
    public static (double Model, double LastValue) Rmse(LstmModel model, SeriesDataset data)
    {
        var cfg = model.Config;
        double sm = 0, sl = 0;
        long n = 0;
        foreach (var ts in data.Series)
        {
            var len = ts.Inputs.Length / Inputs;
            var mu = new float[len * Horizons];
            var ls = new float[len * Horizons];
            SequenceForward.Run(model, ts.Inputs, 1, len, new float[cfg.Layers * cfg.HiddenSize], new float[cfg.Layers * cfg.HiddenSize], [], mu, ls);
            for (var t = 0; t < len; t++)
            {
                for (var k = 0; k < Horizons; k++)
                {
                    var target = ts.Targets[t * Horizons + k];
                    sm += Math.Pow(mu[t * Horizons + k] - target, 2);
                    sl += Math.Pow(ts.Inputs[t * Inputs] - target, 2);
                    n++;
                }
            }
        }

        return (Math.Sqrt(sm / n), Math.Sqrt(sl / n));
    }
}
