using System.Runtime.CompilerServices;
using System.Text.Json;
using StreamLstm.Streaming.Cli;

namespace StreamLstm.Streaming.Tests.ModelCli;

/// <summary><c>streamlstm model verify FILE --device gpu</c>: the GPU trainer's forward and backward against PyTorch.</summary>
public class ModelVerifyGpuTests
{
    private static string Fixture([CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "Fixtures", "lstm_small_2layer.safetensors");

    private static (int Code, string Out, string Err) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = CommandLineApp.Build().Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void VerifyGpu_PassesOnTheReference_AndNamesTheDevice()
    {
        var (code, stdout, stderr) = Invoke("model", "verify", Fixture(), "--device", "gpu");
        Assert.Equal(0, code);
        var first = stdout.Split('\n')[0];
        Assert.Contains("I=3 H=5 L=2 K=1 B=4 T=7 device=gpu: ", first, StringComparison.Ordinal);
        if (!first.Contains("ILGPU CPU accelerator", StringComparison.Ordinal)) Assert.DoesNotContain("no CUDA device", stderr, StringComparison.Ordinal);
        else Assert.Contains("no CUDA device", stderr, StringComparison.Ordinal);
        foreach (var name in new[] { "output.seq", "output.hn", "output.cn", "output.mu", "output.log_sigma", "output.loss", "grad.weight_ih_l0", "grad.head.bias" })
        {
            Assert.Contains(name, stdout, StringComparison.Ordinal);
        }

        Assert.Contains("PASS: 16 tensors", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void VerifyGpu_Json_HasTheDeviceAndTenGradients()
    {
        var (code, stdout, _) = Invoke("model", "verify", Fixture(), "--device", "gpu", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.StartsWith("gpu: ", doc.RootElement.GetProperty("device").GetString(), StringComparison.Ordinal);
        Assert.Equal(10, doc.RootElement.GetProperty("tensors").EnumerateArray().Count(t => t.GetProperty("kind").GetString() == "gradient"));
    }

    [Fact]
    public void VerifyGpu_FailsWithExitCode1_UnderAnImpossibleTolerance()
    {
        var (code, stdout, _) = Invoke("model", "verify", Fixture(), "--device", "gpu", "--grad-tol", "1e-12");
        Assert.Equal(1, code);
        Assert.Contains("FAIL", stdout, StringComparison.Ordinal);
    }
}
