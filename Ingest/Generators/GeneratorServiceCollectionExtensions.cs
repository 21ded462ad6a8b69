using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace StreamLstm.Ingest.Generators;

/// <summary>Reports <see cref="GeneratorOptions.Validate"/> failures through the options system (so hosts fail at start).</summary>
/// <typeparam name="TOptions">The generator options type.</typeparam>
public sealed class GeneratorOptionsValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : GeneratorOptions
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail($"{typeof(TOptions).Name}{(string.IsNullOrEmpty(name) ? "" : $" '{name}'")}: {ex.Message}");
        }
    }
}

/// <summary>Registers generator options bound from configuration and validated at start-up.</summary>
public static class GeneratorServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="TickGeneratorOptions"/>, <see cref="VitalsGeneratorOptions"/> and <see cref="AudioGeneratorOptions"/>
    /// from the <c>Ticks</c>, <c>Vitals</c> and <c>Audio</c> children of <paramref name="section"/>, validated on start.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">e.g. <c>configuration.GetSection("Generators")</c>.</param>
    /// <returns>The same collection.</returns>
    public static IServiceCollection AddEventGeneratorOptions(this IServiceCollection services, IConfiguration section)
    {
        Add<TickGeneratorOptions>(services, section.GetSection("Ticks"));
        Add<VitalsGeneratorOptions>(services, section.GetSection("Vitals"));
        Add<AudioGeneratorOptions>(services, section.GetSection("Audio"));
        return services;
    }

    private static void Add<T>(IServiceCollection services, IConfiguration section)
        where T : GeneratorOptions
    {
        services.AddOptions<T>().Bind(section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<T>, GeneratorOptionsValidator<T>>();
    }
}
