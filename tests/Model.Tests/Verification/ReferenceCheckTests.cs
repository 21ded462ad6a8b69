using StreamLstm.Model.Tests.TestSupport;
using StreamLstm.Model.Verification;
using StreamLstm.Model.Weights;

namespace StreamLstm.Model.Tests.Verification;

public class ReferenceCheckTests
{
    [Theory]
    [InlineData(TorchFixture.Small, 20)]
    [InlineData(TorchFixture.Medium, 16)]
    public void Fixtures_PassEveryCheck(string name, int tensors)
    {
        var report = ReferenceCheck.Run(SafetensorsFile.Parse(TorchFixture.Bytes(name)));
        Assert.True(report.Passed, string.Join("; ", report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name} {c.MaxAbsError:E2}")));
        Assert.Equal(tensors, report.Checks.Count);
        Assert.Contains(report.Checks, c => c.Name == "step:output.hn");
        Assert.All(report.Checks.Where(c => c.Kind == "gradient"), c => Assert.InRange(c.MaxRelError, 0, 1e-5));
    }

    [Fact]
    public void AChangedParameter_FailsForwardAndGradientChecks()
    {
        var content = SafetensorsFile.Parse(TorchFixture.Bytes(TorchFixture.Small));
        var tensors = content.Tensors.Values
            .Select(t => t.Name == "param.weight_hh_l0" ? t with { Values = t.Values.Select((v, i) => i == 7 ? v + 0.01 : v).ToArray() } : t)
            .Select(t => (t.Name, t.Shape, (ReadOnlyMemory<double>)t.Values));
        var report = ReferenceCheck.Run(SafetensorsFile.Parse(SafetensorsFile.Serialize(tensors, content.Metadata, asDouble: true)));
        Assert.False(report.Passed);
        Assert.Contains(report.Checks, c => c.Name == "output.seq" && !c.Passed);
        Assert.Contains(report.Checks, c => c.Name == "grad.weight_hh_l0" && !c.Passed);
    }

    [Fact]
    public void MissingInput_IsNamed()
    {
        var content = SafetensorsFile.Parse(TorchFixture.Bytes(TorchFixture.Small));
        var tensors = content.Tensors.Values.Where(t => t.Name != "input.x").Select(t => (t.Name, t.Shape, (ReadOnlyMemory<double>)t.Values));
        var ex = Assert.Throws<SafetensorsException>(() => ReferenceCheck.Run(SafetensorsFile.Parse(SafetensorsFile.Serialize(tensors, content.Metadata))));
        Assert.Equal("input.x", ex.TensorName);
    }
}
