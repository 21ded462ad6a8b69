using StreamLstm.Model.Lstm;
using StreamLstm.Model.Training;

namespace StreamLstm.Model.Tests.Training;

/// <summary>A fine-tune that resumes Adam restarts its learning-rate schedule (<see cref="TrainingOptions.LrScheduleOffset"/>), and a clone is independent.</summary>
public class ResumedScheduleTests
{
    [Fact]
    public void Offset_RestartsWarmUpAndDecay_AtTheResumedStep()
    {
        var o = new TrainingOptions { LearningRate = 1.0, LrWarmupSteps = 4, LrDecay = LrDecay.Cosine, LrDecaySteps = 14, MinLearningRate = 0.1, LrScheduleOffset = 1000 };
        Assert.Equal(0.25, LearningRateSchedule.At(o, 1000), 12);
        Assert.Equal(1.0, LearningRateSchedule.At(o, 1004), 12);
        Assert.Equal(0.55, LearningRateSchedule.At(o, 1009), 12);
        Assert.Equal(0.1, LearningRateSchedule.At(o, 1014), 12);
        Assert.Throws<ArgumentException>(() => new TrainingOptions { LrScheduleOffset = -1 }.Validate());
    }

    [Fact]
    public void ResumedTrainer_UsesTheWarmUpRate_OnItsFirstStep()
    {
        var model = LstmModel.CreateRandom(new LstmConfig(2, 4, 1, 1), 1);
        var batch = new TrainingBatch(2, 3, new float[2 * 3 * 2], new float[2 * 3]);
        using var first = new LstmTrainer(ModelCopy.Clone(model), new TrainingOptions { LearningRate = 0.1, LrWarmupSteps = 5 });
        for (var i = 0; i < 7; i++) first.TrainBatch(batch);
        var adam = first.SaveOptimizerState();
        using var resumed = new LstmTrainer(ModelCopy.Clone(model), new TrainingOptions { LearningRate = 0.1, LrWarmupSteps = 5, LrScheduleOffset = adam.Step });
        resumed.LoadOptimizerState(adam);
        Assert.Equal(0.02, resumed.TrainBatch(batch).LearningRate, 12);
        Assert.Equal(8, resumed.StepCount);
    }

    [Fact]
    public void Clone_CopiesEveryParameter_IntoItsOwnArrays()
    {
        var model = LstmModel.CreateRandom(new LstmConfig(3, 5, 2, 2), 4);
        var copy = ModelCopy.Clone(model);
        var a = model.Parameters();
        var b = copy.Parameters();
        for (var i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].Values, b[i].Values);
            Assert.NotSame(a[i].Values, b[i].Values);
        }

        copy.HeadBias[0] += 1;
        Assert.NotEqual(model.HeadBias[0], copy.HeadBias[0]);
    }
}
