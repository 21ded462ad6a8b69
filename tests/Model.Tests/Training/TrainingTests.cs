using System.Diagnostics;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Tests.TestSupport;
using StreamLstm.Model.Training;

namespace StreamLstm.Model.Tests.Training;

public class TrainingTests
{
    private readonly ITestOutputHelper _out;

    public TrainingTests(ITestOutputHelper output) => _out = output;

    private static TrainingOptions Options(int epochs, int threads) => new()
    {
        WindowLength = 24,
        WarmupSteps = 8,
        BatchSize = 32,
        BatchesPerEpoch = 20,
        Epochs = epochs,
        LearningRate = 1e-2,
        ClipNorm = 1.0,
        Seed = 42,
        Threads = threads,
    };

    /// <summary>
    /// Stated margins: after training, the model's μ RMSE is at most 40 % of the last-value forecast's RMSE on held-out
    /// series, and its mean Gaussian NLL is below −0.5 (the noise floor is about −0.88; the untrained model is about 1.2).
    /// Seen here: ratio 0.22, NLL −0.74, about 1–2 s.
    /// </summary>
    [Fact]
    public void Training_BeatsLastValue_AndLowersNll()
    {
        var train = SeasonalSeries.Create(16, 200, 1);
        var valid = SeasonalSeries.Create(4, 200, 2);
        var model = LstmModel.CreateRandom(new LstmConfig(SeasonalSeries.Inputs, 16, 1, SeasonalSeries.Horizons), 7);
        var trainer = new LstmTrainer(model, Options(15, 2));
        var before = trainer.Evaluate(valid);
        var sw = Stopwatch.StartNew();
        var report = trainer.Fit(train, valid);
        _out.WriteLine($"trained {report.Epochs.Count} epochs in {sw.Elapsed.TotalSeconds:F1} s; NLL {before:F3} -> {report.Epochs.Min(e => e.ValidationLoss):F3}");

        var nll = trainer.Evaluate(valid);
        var rmse = ModelRmse(model, valid);
        var baseline = SeasonalSeries.LastValueRmse(valid);
        _out.WriteLine($"validation NLL {nll:F3}, RMSE {rmse:F3}, last-value RMSE {baseline:F3} (ratio {rmse / baseline:F2})");
        Assert.True(rmse <= 0.4 * baseline, $"model RMSE {rmse:F3} is not <= 40% of last-value RMSE {baseline:F3}");
        Assert.True(nll < -0.5, $"validation NLL {nll:F3} is not below -0.5 (before training {before:F3})");
    }

    [Fact]
    public void Training_IsDeterministicForASeed_WhateverTheThreadCount()
    {
        var train = SeasonalSeries.Create(4, 120, 3);
        var a = LstmModel.CreateRandom(new LstmConfig(3, 8, 2, 2), 5);
        var b = LstmModel.CreateRandom(new LstmConfig(3, 8, 2, 2), 5);
        new LstmTrainer(a, Options(2, 1)).Fit(train);
        new LstmTrainer(b, Options(2, 3)).Fit(train);
        var pa = a.Parameters();
        var pb = b.Parameters();
        for (var i = 0; i < pa.Count; i++) Assert.Equal(pa[i].Values, pb[i].Values);
        Assert.NotEqual(LstmModel.CreateRandom(new LstmConfig(3, 8, 2, 2), 5).WeightHh[1], a.WeightHh[1]);
    }

    [Fact]
    public void Hook_StopsTraining_AndBestValidationParametersAreKept()
    {
        var train = SeasonalSeries.Create(4, 120, 4);
        var valid = SeasonalSeries.Create(2, 120, 5);
        var model = LstmModel.CreateRandom(new LstmConfig(3, 8, 1, 2), 6);
        var opts = Options(50, 1);
        var seen = new List<int>();
        opts.OnEpoch = r =>
        {
            seen.Add(r.Epoch);
            return r.Epoch < 3;
        };
        var trainer = new LstmTrainer(model, opts);
        var report = trainer.Fit(train, valid);
        Assert.Equal([1, 2, 3], seen);
        Assert.True(report.StoppedEarly);
        var bestLoss = report.Epochs.Min(e => e.ValidationLoss);
        Assert.Equal(report.Epochs.Single(e => e.Epoch == report.BestEpoch).ValidationLoss, bestLoss);
        Assert.Equal(bestLoss, trainer.Evaluate(valid), 9);
    }

    [Fact]
    public void Patience_StopsWhenValidationStopsImproving()
    {
        var train = SeasonalSeries.Create(2, 80, 8);
        var valid = SeasonalSeries.Create(1, 80, 9);
        var model = LstmModel.CreateRandom(new LstmConfig(3, 4, 1, 2), 6);
        var opts = Options(200, 1);
        opts.LearningRate = 0.5; // far too large: validation loss stops improving quickly
        opts.BatchesPerEpoch = 2;
        opts.Patience = 2;
        var report = new LstmTrainer(model, opts).Fit(train, valid);
        Assert.True(report.StoppedEarly);
        Assert.True(report.Epochs.Count < 200);
        Assert.Equal(report.Epochs.Count, report.BestEpoch + 2);
    }

    private static double ModelRmse(LstmModel model, SeriesDataset data)
    {
        var cfg = model.Config;
        double s = 0;
        long n = 0;
        foreach (var ts in data.Series)
        {
            var len = ts.Inputs.Length / cfg.InputSize;
            var mu = new float[len * cfg.Horizons];
            var ls = new float[len * cfg.Horizons];
            SequenceForward.Run(model, ts.Inputs, 1, len, new float[cfg.Layers * cfg.HiddenSize], new float[cfg.Layers * cfg.HiddenSize], [], mu, ls);
            for (var i = 0; i < mu.Length; i++)
            {
                var e = mu[i] - ts.Targets[i];
                s += e * e;
                n++;
            }
        }

        return Math.Sqrt(s / n);
    }
}
