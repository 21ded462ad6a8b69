using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using StreamLstm.Streaming.Hosting;

namespace StreamLstm.Streaming.Online;

/// <summary>Registers online learning.</summary>
public static class OnlineServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <c>Online</c> settings (validated at start-up) and, when <c>Online:Enabled</c> is true, the online
    /// learning state (replay buffers fed by the pipeline's workers) and the trainer service.
    /// </summary>
    /// <param name="services">Services.</param>
    /// <param name="configuration">Configuration root.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddStreamLstmOnline(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<OnlineOptions>().Bind(configuration.GetSection(OnlineOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OnlineOptions>, OnlineOptionsValidator>());
        // Promoted models go to the registry the pipeline loads its serving versions from, so a restart serves them.
        services.AddOptions<OnlineOptions>().Configure<IOptions<ModelSettings>>((o, models) =>
        {
            if (string.IsNullOrWhiteSpace(o.RegistryDirectory)) o.RegistryDirectory = models.Value.Registry ?? "";
        });
        if (!configuration.GetValue<bool>($"{OnlineOptions.Section}:{nameof(OnlineOptions.Enabled)}")) return services;
        services.TryAddSingleton(sp => new OnlineLearning(sp.GetRequiredService<PipelineModels>().Models, sp.GetRequiredService<IOptions<OnlineOptions>>().Value));
        services.TryAddSingleton<OnlineTrainerService>();
        services.AddHostedService(sp => sp.GetRequiredService<OnlineTrainerService>());
        return services;
    }
}
