using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StreamLstm.Ingest.Generators;

namespace StreamLstm.Ingest.Tests.Generators;

public class GeneratorOptionsBindingTests
{
    private static IConfiguration Config(params (string Key, string Value)[] pairs) =>
        new ConfigurationBuilder().AddInMemoryCollection(pairs.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value))).Build();

    [Fact]
    public void Configuration_BindsEveryKind_AndTheValidatorExplainsBadValues()
    {
        var config = Config(("Generators:Ticks:Keys", "500"), ("Generators:Ticks:JumpProbability", "0.01"), ("Generators:Vitals:MissingnessScale", "0"), ("Generators:Audio:Keys", "0"));
        var ticks = config.GetSection("Generators:Ticks").Get<TickGeneratorOptions>()!;
        Assert.Equal(500, ticks.Keys);
        Assert.Equal(0.01, ticks.JumpProbability);
        Assert.True(new GeneratorOptionsValidator<TickGeneratorOptions>().Validate(null, ticks).Succeeded);

        var audio = config.GetSection("Generators:Audio").Get<AudioGeneratorOptions>()!;
        var result = new GeneratorOptionsValidator<AudioGeneratorOptions>().Validate(null, audio);
        Assert.True(result.Failed);
        Assert.Contains("AudioGeneratorOptions: Keys must be in 1..10000000 (got 0)", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void AddEventGeneratorOptions_RegistersBindingAndValidationForEachKind()
    {
        var services = new ServiceCollection();
        services.AddEventGeneratorOptions(Config(("Ticks:Keys", "7")));
        Assert.Contains(services, d => d.ServiceType == typeof(IValidateOptions<TickGeneratorOptions>));
        Assert.Contains(services, d => d.ServiceType == typeof(IValidateOptions<VitalsGeneratorOptions>));
        Assert.Contains(services, d => d.ServiceType == typeof(IValidateOptions<AudioGeneratorOptions>));
        // The bound configuration is applied by the registered configure step.
        var configure = services.Where(d => d.ServiceType == typeof(IConfigureOptions<TickGeneratorOptions>)).Select(d => d.ImplementationInstance).OfType<IConfigureOptions<TickGeneratorOptions>>().Single();
        var options = new TickGeneratorOptions();
        configure.Configure(options);
        Assert.Equal(7, options.Keys);
    }
}
