using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;
using StreamLstm.Model.Training;
using StreamLstm.Model.Training.Gpu;
using StreamLstm.Model.Weights;

namespace StreamLstm.Model.Tests.Training.Gpu;

/// <summary>Fine-tuned on the GPU trainer, saved as safetensors, served by the CPU stepper: the same forecasts as the CPU-trained model.</summary>
public class RoundTripTests
{
    [Fact]
    public void GpuFineTunedModel_ServesLikeCpuFineTunedModel() => Check(GpuTarget.CpuAccelerator);

    /// <summary>
    /// Both trainers run the same <see cref="ILstmTrainer.Fit"/> (2 layers, dropout, warm-up, cosine schedule, validation);
    /// the GPU model goes through a safetensors file and both are stepped event by event through a state slab.
    /// Stated margin: forecasts (μ and log σ) agree within 1e-3 absolute, while fine-tuning moved them by more than 1e-2.
    /// </summary>
    internal static void Check(GpuTarget target)
    {
        var cfg = new LstmConfig(SeasonalSeries.Inputs, 8, 2, SeasonalSeries.Horizons);
        var train = SeasonalSeries.Create(4, 60, 21);
        var valid = SeasonalSeries.Create(1, 40, 22);
        TrainingOptions Opts() => new()
        {
            WindowLength = 8, WarmupSteps = 3, BatchSize = 6, BatchesPerEpoch = 4, Epochs = 2, LearningRate = 1e-2, ClipNorm = 1,
            Seed = 5, Dropout = 0.1, LrWarmupSteps = 2, LrDecay = LrDecay.Cosine,
        };
        var cpuModel = LstmModel.CreateRandom(cfg, 8);
        var gpuModel = LstmModel.CreateRandom(cfg, 8);
        TrainingReport cpuReport, gpuReport;
        using (var cpu = new LstmTrainer(cpuModel, Opts())) cpuReport = cpu.Fit(train, valid);
        using (var gpu = new GpuLstmTrainer(gpuModel, Opts(), target)) gpuReport = gpu.Fit(train, valid);
        Assert.Equal(cpuReport.BestEpoch, gpuReport.BestEpoch);

        var path = Path.Combine(Path.GetTempPath(), $"gpu-roundtrip-{Guid.NewGuid():N}.safetensors");
        try
        {
            ModelFile.Save(gpuModel, path);
            var served = ModelFile.Load(path);
            var series = SeasonalSeries.Create(2, 30, 23).Series;
            var (muCpu, lsCpu) = Serve(cpuModel, series);
            var (muGpu, lsGpu) = Serve(served, series);
            var (muInit, _) = Serve(LstmModel.CreateRandom(cfg, 8), series);
            Assert.InRange(GpuParity.MaxAbs(muGpu, muCpu), 0, 1e-3);
            Assert.InRange(GpuParity.MaxAbs(lsGpu, lsCpu), 0, 1e-3);
            Assert.True(GpuParity.MaxAbs(muCpu, muInit) > 1e-2, "fine-tuning did not change the forecasts");
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Steps every series through the CPU stepper, one event per key per step.</summary>
    private static (float[] Mu, float[] Ls) Serve(LstmModel model, IReadOnlyList<TimeSeries> series)
    {
        var cfg = model.Config;
        int n = series.Count, len = series[0].Inputs.Length / cfg.InputSize, k = cfg.Horizons;
        using var stepper = new LstmStepper(model, n);
        var slab = new StateSlab(cfg, n);
        var slots = Enumerable.Range(0, n).Select(_ => slab.Allocate()).ToArray();
        var x = new float[n * cfg.InputSize];
        var mu = new float[n * k];
        var ls = new float[n * k];
        var allMu = new float[len * n * k];
        var allLs = new float[len * n * k];
        for (var t = 0; t < len; t++)
        {
            for (var i = 0; i < n; i++) series[i].Inputs.AsSpan(t * cfg.InputSize, cfg.InputSize).CopyTo(x.AsSpan(i * cfg.InputSize));
            stepper.Step(slab, slots, x, mu, ls);
            mu.CopyTo(allMu, t * n * k);
            ls.CopyTo(allLs, t * n * k);
        }

        return (allMu, allLs);
    }
}
