using StreamLstm.Model.Lstm;
using StreamLstm.Model.Training;
using StreamLstm.Model.Training.Gpu;

namespace StreamLstm.Model.Tests.Training.Gpu;

/// <summary>What the GPU trainer promises besides parity: determinism, resumable Adam state, early stopping, the factory.</summary>
public class GpuTrainerBehaviourTests
{
    private static readonly LstmConfig Cfg = new(3, 6, 2, 2);

    [Fact]
    public void TwoRuns_GiveBitIdenticalParameters()
    {
        var a = Train(10, out _);
        var b = Train(10, out _);
        for (var p = 0; p < a.Count; p++) Assert.Equal(a[p].Values, b[p].Values);
    }

    [Fact]
    public void SavedOptimizerState_ResumesExactly()
    {
        var straight = Train(12, out _);
        var firstHalf = Train(6, out var state);
        var resumedModel = new LstmModel(Cfg);
        for (var p = 0; p < firstHalf.Count; p++) firstHalf[p].Values.CopyTo(resumedModel.Parameters()[p].Values, 0);
        using var resumed = new GpuLstmTrainer(resumedModel, GpuParity.Options(0.2), GpuTarget.CpuAccelerator);
        resumed.LoadOptimizerState(state);
        Assert.Equal(6, resumed.StepCount);
        for (var s = 6; s < 12; s++) resumed.TrainBatch(GpuParity.Batch(Cfg, 4, 5, s, weighted: true));
        resumed.SyncModel();
        var p2 = resumedModel.Parameters();
        for (var p = 0; p < straight.Count; p++) Assert.Equal(straight[p].Values, p2[p].Values);
    }

    [Fact]
    public void OptimizerState_MovesBetweenCpuAndGpuTrainers()
    {
        var cpuModel = LstmModel.CreateRandom(Cfg, 2);
        using var cpu = new LstmTrainer(cpuModel, GpuParity.Options());
        for (var s = 0; s < 5; s++) cpu.TrainBatch(GpuParity.Batch(Cfg, 4, 5, s, weighted: false));
        var state = cpu.SaveOptimizerState();
        var gpuModel = new LstmModel(Cfg);
        for (var p = 0; p < cpuModel.Parameters().Count; p++) cpuModel.Parameters()[p].Values.CopyTo(gpuModel.Parameters()[p].Values, 0);
        using var gpu = new GpuLstmTrainer(gpuModel, GpuParity.Options(), GpuTarget.CpuAccelerator);
        gpu.LoadOptimizerState(state);
        var back = gpu.SaveOptimizerState();
        Assert.Equal(state.Step, back.Step);
        for (var p = 0; p < state.M.Length; p++)
        {
            Assert.Equal(state.M[p], back.M[p]);
            Assert.Equal(state.V[p], back.V[p]);
        }

        var batch = GpuParity.Batch(Cfg, 4, 5, 99, weighted: true);
        var rc = cpu.TrainBatch(batch);
        var rg = gpu.TrainBatch(batch);
        Assert.Equal(rc.LearningRate, rg.LearningRate);
        gpu.SyncModel();
        for (var p = 0; p < cpuModel.Parameters().Count; p++)
        {
            Assert.InRange(GpuParity.MaxAbs(gpuModel.Parameters()[p].Values, cpuModel.Parameters()[p].Values), 0, 1e-5);
        }
    }

    [Fact]
    public void Fit_Patience_StopsAndKeepsBestValidationParameters()
    {
        var train = SeasonalSeries.Create(2, 60, 8);
        var valid = SeasonalSeries.Create(1, 40, 9);
        var model = LstmModel.CreateRandom(new LstmConfig(3, 4, 1, 2), 6);
        var opts = new TrainingOptions { WindowLength = 8, BatchSize = 4, BatchesPerEpoch = 2, Epochs = 60, LearningRate = 0.5, Patience = 2, Seed = 1 };
        using var gpu = new GpuLstmTrainer(model, opts, GpuTarget.CpuAccelerator);
        var report = gpu.Fit(train, valid);
        Assert.True(report.StoppedEarly);
        Assert.Equal(report.Epochs.Count, report.BestEpoch + 2);
        var best = report.Epochs.Min(e => e.ValidationLoss);
        Assert.Equal(best, gpu.Evaluate(valid), 9);
        using var cpuView = new LstmTrainer(model, opts);
        Assert.Equal(best, cpuView.Evaluate(valid), 4);
    }

    [Fact]
    public void Factory_PicksTheRequestedTrainer()
    {
        var model = LstmModel.CreateRandom(Cfg, 1);
        using (var cpu = TrainerFactory.Create(model, new TrainingOptions { Device = TrainingDevice.Cpu })) Assert.IsType<LstmTrainer>(cpu);
        using (var gpu = TrainerFactory.Create(model, new TrainingOptions { Device = TrainingDevice.Gpu }))
        {
            Assert.IsType<GpuLstmTrainer>(gpu);
            Assert.StartsWith("gpu: ", gpu.Device, StringComparison.Ordinal);
            Assert.Equal(GpuAccelerators.CudaAvailable, ((GpuLstmTrainer)gpu).IsCuda);
        }

        using var auto = TrainerFactory.Create(model, new TrainingOptions { Device = TrainingDevice.Auto });
        Assert.Equal(GpuAccelerators.CudaAvailable ? typeof(GpuLstmTrainer) : typeof(LstmTrainer), auto.GetType());
    }

    private static IReadOnlyList<NamedTensor> Train(int steps, out AdamState state)
    {
        var model = LstmModel.CreateRandom(Cfg, 2);
        using var gpu = new GpuLstmTrainer(model, GpuParity.Options(0.2), GpuTarget.CpuAccelerator);
        for (var s = 0; s < steps; s++) gpu.TrainBatch(GpuParity.Batch(Cfg, 4, 5, s, weighted: true));
        gpu.SyncModel();
        state = gpu.SaveOptimizerState();
        return model.Parameters();
    }
}
