using StreamLstm.Model.Lstm;
using StreamLstm.Model.Tests.TestSupport;
using StreamLstm.Model.Training.Gpu;

namespace StreamLstm.Model.Tests.Training.Gpu;

/// <summary>The same checks as <see cref="GpuTrainerParityTests"/> on a CUDA device; skipped where there is none.</summary>
[Trait("Category", "Gpu")]
public class GpuCudaTests
{
    private static void RequireCuda()
    {
        if (!GpuAccelerators.CudaAvailable) Assert.Skip("No CUDA device on this machine.");
    }

    [Theory]
    [InlineData(3, 8, 2, 2, 5, 7, true, 0)]
    [InlineData(5, 12, 3, 3, 3, 4, true, 3)]
    [InlineData(8, 64, 1, 2, 64, 16, false, 0)]
    [InlineData(16, 128, 2, 2, 256, 8, true, 4)]
    public void LossGradientsAndOutputs_MatchCpuTrainer(int i, int h, int l, int k, int b, int t, bool weighted, int warmup)
    {
        RequireCuda();
        GpuParity.GradientsMatchCpu(GpuTarget.Cuda, new LstmConfig(i, h, l, k), b, t, weighted, warmup);
    }

    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(2, 0.25)]
    public void WeightsAfter20AdamSteps_MatchCpuTrainer(int layers, double dropout)
    {
        RequireCuda();
        GpuParity.WeightsAfterAdamMatchCpu(GpuTarget.Cuda, new LstmConfig(3, 8, layers, 2), dropout);
    }

    [Theory]
    [InlineData(TorchFixture.Small)]
    [InlineData(TorchFixture.Medium)]
    public void LossOutputsAndGradients_MatchPyTorch(string name)
    {
        RequireCuda();
        GpuParity.MatchesTorchFixture(GpuTarget.Cuda, name);
    }

    [Fact]
    public void RoundTrip_GpuFineTunedModel_ServesLikeCpuFineTunedModel()
    {
        RequireCuda();
        RoundTripTests.Check(GpuTarget.Cuda);
    }
}
