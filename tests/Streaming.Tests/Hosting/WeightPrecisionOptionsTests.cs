using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Inference;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Tests.Hosting;

/// <summary><c>Pipeline:WeightPrecision</c>: bound from configuration, validated at start-up, and used by the workers' steppers.</summary>
public class WeightPrecisionOptionsTests
{
    private static IOptions<PipelineOptions> Options(Dictionary<string, string?> settings)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return new ServiceCollection().AddStreamLstmPipeline(config).BuildServiceProvider().GetRequiredService<IOptions<PipelineOptions>>();
    }

    [Fact]
    public void Default_IsFloat32()
    {
        Assert.Equal(WeightPrecision.Float32, Options([]).Value.WeightPrecision);
    }

    [Theory]
    [InlineData("bfloat16", WeightPrecision.BFloat16)]
    [InlineData("BFloat16", WeightPrecision.BFloat16)]
    [InlineData("float32", WeightPrecision.Float32)]
    public void Configuration_BindsThePrecision(string value, WeightPrecision expected)
    {
        Assert.Equal(expected, Options(new() { ["Pipeline:WeightPrecision"] = value }).Value.WeightPrecision);
    }

    [Fact]
    public void UnknownValue_FailsAtStartUp_NamingTheSetting()
    {
        var e = Assert.ThrowsAny<Exception>(() => Options(new() { ["Pipeline:WeightPrecision"] = "float8" }).Value);
        Assert.Contains("WeightPrecision", e.ToString());
        var numeric = Assert.Throws<OptionsValidationException>(() => Options(new() { ["Pipeline:WeightPrecision"] = "7" }).Value);
        Assert.Contains("Pipeline:WeightPrecision", numeric.Message);
    }

    [Theory]
    [InlineData(WeightPrecision.Float32)]
    [InlineData(WeightPrecision.BFloat16)]
    public void KindEngine_StepsWithTheConfiguredPrecision(WeightPrecision precision)
    {
        var model = PipelineModels.CreateRandom(SourceKind.Tick, new ModelSettings { Hidden = 16, Horizons = 2 }, 13);
        var engine = new KindEngine(SourceKind.Tick, model, new PipelineOptions { MaxBatch = 8, WeightPrecision = precision });
        Assert.Equal(precision, engine.StepperPrecision);
    }
}
