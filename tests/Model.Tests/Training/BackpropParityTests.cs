using StreamLstm.Model.Tests.TestSupport;
using StreamLstm.Model.Training;

namespace StreamLstm.Model.Tests.Training;

/// <summary>Loss, forward outputs and every gradient against PyTorch (float64 reference; we run float32).</summary>
public class BackpropParityTests
{
    [Theory]
    [InlineData(TorchFixture.Small, 1)]
    [InlineData(TorchFixture.Medium, 1)]
    [InlineData(TorchFixture.Medium, 2)]
    public void LossOutputsAndGradients_MatchPyTorch(string name, int threads)
    {
        var f = TorchFixture.Load(name);
        var cfg = f.Config;
        int b = f.Batch, t = f.Steps;
        var outs = new ForwardOutputs
        {
            Mu = new float[b * t * cfg.Horizons],
            LogSigma = new float[b * t * cfg.Horizons],
            Seq = new float[b * t * cfg.HiddenSize],
            Hn = new float[cfg.Layers * b * cfg.HiddenSize],
            Cn = new float[cfg.Layers * b * cfg.HiddenSize],
        };
        var grads = new Gradients(cfg);
        var result = new Backprop(cfg, threads).Run(f.Model, f.Floats("input.x"), f.Floats("input.y"), b, t, f.Floats("input.h0"), f.Floats("input.c0"), grads, outs);

        Assert.Equal(f.Doubles("output.loss")[0], result.Loss, 1e-5);
        Assert.InRange(TorchFixture.MaxAbsDiff(outs.Mu, f.Doubles("output.mu")), 0, 1e-5);
        Assert.InRange(TorchFixture.MaxAbsDiff(outs.LogSigma, f.Doubles("output.log_sigma")), 0, 1e-5);
        Assert.InRange(TorchFixture.MaxAbsDiff(outs.Seq, f.Doubles("output.seq")), 0, 1e-5);
        Assert.InRange(TorchFixture.MaxAbsDiff(outs.Hn, f.Doubles("output.hn")), 0, 1e-5);
        Assert.InRange(TorchFixture.MaxAbsDiff(outs.Cn, f.Doubles("output.cn")), 0, 1e-5);
        Assert.Equal(f.Content.Tensors.Keys.Count(n => n.StartsWith("grad.", StringComparison.Ordinal)), grads.Names.Count);
        for (var p = 0; p < grads.Names.Count; p++)
        {
            var expected = f.Doubles("grad." + grads.Names[p]);
            var actual = grads.Values[p];
            Assert.Equal(expected.Length, actual.Length);
            var scale = expected.Max(Math.Abs);
            var err = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            Assert.True(err <= 1e-4 * scale, $"grad.{grads.Names[p]}: max abs error {err:E3} over max |g| {scale:E3} = {err / scale:E3} relative");
        }
    }
}
