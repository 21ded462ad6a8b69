using StreamLstm.Model.Lstm;
using StreamLstm.Model.Tests.Training.Gpu;
using StreamLstm.Model.Training;

namespace StreamLstm.Model.Tests.Training;

/// <summary>The options every trainer shares, checked on the CPU trainer: masks, weights, dropout, schedule, resumable Adam.</summary>
public class TrainerInterfaceTests
{
    private static readonly LstmConfig Cfg = new(3, 6, 2, 2);

    [Fact]
    public void ZeroWeightRowsAndMaskedElements_DoNotContribute()
    {
        var full = GpuParity.Batch(Cfg, 3, 4, 1, weighted: false);
        var k = Cfg.Horizons;
        // Row 1 weighted 0; row 2 fully masked: the same loss and gradients as row 0 alone.
        var weighted = new TrainingBatch(3, 4, full.X, full.Y)
        {
            H0 = full.H0, C0 = full.C0, Weights = [1f, 0f, 1f],
            Mask = Enumerable.Range(0, 3 * 4 * k).Select(i => i >= 2 * 4 * k ? 0f : 1f).ToArray(),
        };
        var state = Cfg.HiddenSize;
        float[] Row0(float[] a, int per) => a.AsSpan(0, per).ToArray();
        float[] State0(float[] s) => Enumerable.Range(0, Cfg.Layers).SelectMany(l => s.AsSpan(l * 3 * state, state).ToArray()).ToArray();
        var alone = new TrainingBatch(1, 4, Row0(full.X, 4 * Cfg.InputSize), Row0(full.Y, 4 * k)) { H0 = State0(full.H0!), C0 = State0(full.C0!) };
        using var trainer = new LstmTrainer(LstmModel.CreateRandom(Cfg, 3), new TrainingOptions());
        var (ga, gb) = (new Gradients(Cfg), new Gradients(Cfg));
        var la = trainer.ComputeGradients(weighted, ga);
        var lb = trainer.ComputeGradients(alone, gb);
        Assert.Equal(lb, la, 6);
        for (var p = 0; p < ga.Names.Count; p++) Assert.True(GpuParity.RelError(ga.Values[p], gb.Values[p]) < 1e-5, ga.Names[p]);
    }

    [Fact]
    public void Dropout_ChangesTrainingSteps_ButNotEvaluation()
    {
        var batch = GpuParity.Batch(Cfg, 4, 5, 2, weighted: false);
        var a = LstmModel.CreateRandom(Cfg, 3);
        var b = LstmModel.CreateRandom(Cfg, 3);
        using var plain = new LstmTrainer(a, new TrainingOptions { Seed = 1 });
        using var dropped = new LstmTrainer(b, new TrainingOptions { Seed = 1, Dropout = 0.5 });
        Assert.Equal(plain.ComputeGradients(batch, new Gradients(Cfg)), dropped.ComputeGradients(batch, new Gradients(Cfg)));
        Assert.NotEqual(plain.TrainBatch(batch).Loss, dropped.TrainBatch(batch).Loss);
    }

    [Fact]
    public void DropoutMask_DropsAboutTheRate_AndIsAPureFunction()
    {
        var m = new DropoutMask(0.3f, 7, 12);
        var dropped = 0;
        for (var j = 0; j < 10_000; j++)
        {
            var f = m.Factor(0, j % 17, j / 17, j % 64);
            Assert.True(f == 0 || Math.Abs(f - 1 / 0.7f) < 1e-6);
            if (f == 0) dropped++;
            Assert.Equal(f, m.Factor(0, j % 17, j / 17, j % 64));
        }

        Assert.InRange(dropped, 2800, 3200);
    }

    [Fact]
    public void Schedule_WarmsUpThenDecays()
    {
        var o = new TrainingOptions { LearningRate = 1.0, LrWarmupSteps = 4, LrDecay = LrDecay.Cosine, LrDecaySteps = 14, MinLearningRate = 0.1 };
        Assert.Equal(0.25, LearningRateSchedule.At(o, 0), 12);
        Assert.Equal(1.0, LearningRateSchedule.At(o, 3), 12);
        Assert.Equal(1.0, LearningRateSchedule.At(o, 4), 12);
        Assert.Equal(0.55, LearningRateSchedule.At(o, 9), 12);
        Assert.Equal(0.1, LearningRateSchedule.At(o, 14), 12);
        Assert.Equal(0.1, LearningRateSchedule.At(o, 100), 12);
        var step = new TrainingOptions { LearningRate = 1.0, LrDecay = LrDecay.Step, LrStepEvery = 10, LrStepGamma = 0.5 };
        Assert.Equal(1.0, LearningRateSchedule.At(step, 9), 12);
        Assert.Equal(0.5, LearningRateSchedule.At(step, 10), 12);
        Assert.Equal(0.25, LearningRateSchedule.At(step, 25), 12);
    }

    [Fact]
    public void AdamState_ResumesBitExactly_OnTheCpuTrainer()
    {
        var o = new TrainingOptions { LrWarmupSteps = 3, LrDecay = LrDecay.Cosine, Epochs = 1, BatchesPerEpoch = 10, Dropout = 0.2, Seed = 4 };
        var straight = LstmModel.CreateRandom(Cfg, 5);
        using (var t = new LstmTrainer(straight, o))
        {
            for (var s = 0; s < 10; s++) t.TrainBatch(GpuParity.Batch(Cfg, 4, 5, s, weighted: true));
        }

        var resumed = LstmModel.CreateRandom(Cfg, 5);
        AdamState state;
        using (var t = new LstmTrainer(resumed, o))
        {
            for (var s = 0; s < 5; s++) t.TrainBatch(GpuParity.Batch(Cfg, 4, 5, s, weighted: true));
            state = t.SaveOptimizerState();
        }

        using (var t = new LstmTrainer(resumed, o))
        {
            t.LoadOptimizerState(state);
            for (var s = 5; s < 10; s++) t.TrainBatch(GpuParity.Batch(Cfg, 4, 5, s, weighted: true));
        }

        for (var p = 0; p < straight.Parameters().Count; p++) Assert.Equal(straight.Parameters()[p].Values, resumed.Parameters()[p].Values);
    }

    [Fact]
    public void Options_RejectOutOfRangeSettings()
    {
        Assert.Throws<ArgumentException>(() => new TrainingOptions { Dropout = 1 }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainingOptions { LrStepGamma = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainingOptions { MinLearningRate = 1 }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainingOptions { Device = (TrainingDevice)7 }.Validate());
    }
}
