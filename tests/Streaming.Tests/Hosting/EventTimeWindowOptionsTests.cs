using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Tests.Hosting;

/// <summary>The decoders' event-time window: bound from <c>Pipeline:</c> configuration, validated at start-up.</summary>
public class EventTimeWindowOptionsTests
{
    private static IOptions<PipelineOptions> Options(Dictionary<string, string?> settings)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return new ServiceCollection().AddStreamLstmPipeline(config).BuildServiceProvider().GetRequiredService<IOptions<PipelineOptions>>();
    }

    [Fact]
    public void Defaults_AreTheEpochAndOneDay()
    {
        var o = Options([]).Value;
        Assert.Equal(DateTimeOffset.UnixEpoch, o.MinEventTime);
        Assert.Equal(TimeSpan.FromDays(1), o.MaxEventTimeAhead);
        Assert.Equal(DateTimeOffset.UnixEpoch, o.EventTimeWindow().Earliest);
    }

    [Fact]
    public void Configuration_BindsTheWindow()
    {
        var o = Options(new() { ["Pipeline:MinEventTime"] = "1989-01-01T00:00:00Z", ["Pipeline:MaxEventTimeAhead"] = "02:00:00" }).Value;
        Assert.Equal(new DateTimeOffset(1989, 1, 1, 0, 0, 0, TimeSpan.Zero), o.MinEventTime);
        Assert.Equal(TimeSpan.FromHours(2), o.MaxEventTimeAhead);
        Assert.Equal(TimeSpan.FromHours(2), o.EventTimeWindow().MaxAhead);
    }

    [Theory]
    [InlineData("Pipeline:MinEventTime", "1500-01-01T00:00:00Z")]
    [InlineData("Pipeline:MinEventTime", "2300-01-01T00:00:00Z")]
    [InlineData("Pipeline:MaxEventTimeAhead", "-00:00:01")]
    [InlineData("Pipeline:MaxEventTimeAhead", "40000.00:00:00")]
    public void OutOfRangeWindow_FailsValidation_NamingTheSetting(string setting, string value)
    {
        var e = Assert.Throws<OptionsValidationException>(() => Options(new() { [setting] = value }).Value);
        Assert.Contains(setting, e.Message);
        Assert.Contains(setting, Assert.Single(new PipelineOptionsValidator().Validate(null, BindOnly(setting, value)).Failures!));
    }

    private static PipelineOptions BindOnly(string setting, string value)
    {
        var o = new PipelineOptions();
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [setting] = value }).Build().GetSection(PipelineOptions.Section).Bind(o);
        return o;
    }
}
