using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Training;

namespace StreamLstm.Streaming.ModelCli;

/// <summary>
/// Data for <c>model train</c> and the training benchmark: the Model's <see cref="SeasonalSeries"/>, plus the RMSE of a
/// trained model against the last-value forecast.
/// </summary>
internal static class SeasonalData
{
    public const int Inputs = SeasonalSeries.Inputs;
    public const int Horizons = SeasonalSeries.Horizons;

    public static SeriesDataset Create(int count, int length, int seed) => SeasonalSeries.Create(count, length, seed);

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
