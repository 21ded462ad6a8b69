using StreamLstm.Model.Lstm;
using StreamLstm.Model.Tests.TestSupport;
using StreamLstm.Model.Training.Gpu;

namespace StreamLstm.Model.Tests.Training.Gpu;

/// <summary>The GPU trainer's kernels on ILGPU's CPU accelerator (the default suite), against the CPU trainer and PyTorch.</summary>
public class GpuTrainerParityTests
{
    [Theory]
    [InlineData(3, 8, 1, 2, 4, 6, false, 0)]
    [InlineData(3, 8, 2, 2, 5, 7, true, 0)]
    [InlineData(5, 12, 3, 3, 3, 4, true, 3)]
    [InlineData(1, 20, 1, 1, 17, 3, false, 2)]
    public void LossGradientsAndOutputs_MatchCpuTrainer(int i, int h, int l, int k, int b, int t, bool weighted, int warmup) =>
        GpuParity.GradientsMatchCpu(GpuTarget.CpuAccelerator, new LstmConfig(i, h, l, k), b, t, weighted, warmup);

    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(2, 0.25)]
    public void WeightsAfter20AdamSteps_MatchCpuTrainer(int layers, double dropout) =>
        GpuParity.WeightsAfterAdamMatchCpu(GpuTarget.CpuAccelerator, new LstmConfig(3, 8, layers, 2), dropout);

    [Theory]
    [InlineData(TorchFixture.Small)]
    [InlineData(TorchFixture.Medium)]
    public void LossOutputsAndGradients_MatchPyTorch(string name) => GpuParity.MatchesTorchFixture(GpuTarget.CpuAccelerator, name);
}
