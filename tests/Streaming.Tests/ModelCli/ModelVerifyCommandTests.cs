using System.Runtime.CompilerServices;
using System.Text.Json;
using StreamLstm.Model.Weights;
using StreamLstm.Streaming.Cli;

namespace StreamLstm.Streaming.Tests.ModelCli;

/// <summary><c>streamlstm model verify</c> on a copy of PyTorch's lstm_small_2layer reference (Fixtures/ next to this file).</summary>
public class ModelVerifyCommandTests
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
    public void Verify_PassesOnTheReference_AndListsEveryTensor()
    {
        var (code, stdout, _) = Invoke("model", "verify", Fixture());
        Assert.Equal(0, code);
        Assert.Contains("I=3 H=5 L=2 K=1 B=4 T=7", stdout, StringComparison.Ordinal);
        foreach (var name in new[] { "output.seq", "output.hn", "output.cn", "output.mu", "output.log_sigma", "output.loss", "step:output.mu",
                     "grad.weight_ih_l0", "grad.weight_hh_l1", "grad.bias_ih_l1", "grad.head.weight", "grad.head.bias" })
        {
            Assert.Contains(name, stdout, StringComparison.Ordinal);
        }

        Assert.Contains("PASS", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_Json_ReportsErrorsPerTensor()
    {
        var (code, stdout, _) = Invoke("model", "verify", Fixture(), "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("passed").GetBoolean());
        Assert.Equal(5, root.GetProperty("hidden_size").GetInt32());
        var tensors = root.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(10, tensors.Count(t => t.GetProperty("kind").GetString() == "gradient"));
        Assert.All(tensors, t => Assert.InRange(t.GetProperty("max_abs_error").GetDouble(), 0, 1e-5));
    }

    [Fact]
    public void Verify_FailsWithExitCode1_WhenAGradientIsOff()
    {
        var path = Rewrite(t => t.Name == "grad.weight_hh_l1" ? t with { Values = t.Values.Select(v => v * 1.01).ToArray() } : t);
        try
        {
            var (code, stdout, _) = Invoke("model", "verify", path);
            Assert.Equal(1, code);
            var line = stdout.Split('\n').Single(l => l.StartsWith("grad.weight_hh_l1", StringComparison.Ordinal));
            Assert.Contains("FAIL", line, StringComparison.Ordinal);
            Assert.Contains("FAIL: 1 of", stdout, StringComparison.Ordinal);

            // A looser tolerance lets the same file pass.
            Assert.Equal(0, Invoke("model", "verify", path, "--grad-tol", "0.02").Code);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Verify_FailsWithExitCode1_WhenAForwardOutputIsOff_OverTheForwardTolerance()
    {
        var path = Rewrite(t => t.Name == "output.mu" ? t with { Values = t.Values.Select((v, i) => i == 3 ? v + 1e-4 : v).ToArray() } : t);
        try
        {
            var (code, stdout, _) = Invoke("model", "verify", path, "--forward-tol", "1e-5");
            Assert.Equal(1, code);
            Assert.Contains("FAIL", stdout.Split('\n').Single(l => l.StartsWith("output.mu", StringComparison.Ordinal)), StringComparison.Ordinal);
            Assert.Equal(0, Invoke("model", "verify", path, "--forward-tol", "2e-4").Code);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Verify_ExitCode2_NamesAMissingTensor()
    {
        var path = Rewrite(t => t.Name == "param.weight_hh_l1" ? null : t);
        try
        {
            var (code, _, stderr) = Invoke("model", "verify", path);
            Assert.Equal(2, code);
            Assert.Contains("param.weight_hh_l1", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string Rewrite(Func<SafeTensor, SafeTensor?> change)
    {
        var content = SafetensorsFile.Read(Fixture());
        var tensors = content.Tensors.Values.Select(change).Where(t => t is not null)
            .Select(t => (t!.Name, t.Shape, (ReadOnlyMemory<double>)t.Values));
        var path = Path.Combine(Path.GetTempPath(), $"verify-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, SafetensorsFile.Serialize(tensors, content.Metadata, asDouble: true));
        return path;
    }
}
