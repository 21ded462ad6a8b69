using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Web.Health;
using StreamLstm.Streaming.Web.Live;
using StreamLstm.Streaming.Web.Metrics;

namespace StreamLstm.Streaming.Web;

/// <summary>Registers the web host (dashboard, metrics, health).</summary>
public static class WebServiceCollectionExtensions
{
    /// <summary>
    /// Adds the web host to a service host: options (section <c>Web</c>; addresses from <c>urls</c>, i.e. <c>--urls</c>,
    /// validated at start-up), the live feed and alert log, the Prometheus metrics and their batch-size tap, the health
    /// adapters and the hosted Kestrel app. Pass it as the <c>configure</c> callback of
    /// <see cref="Hosting.StreamLstmHost.CreateBuilder"/>.
    /// </summary>
    /// <param name="builder">The host builder.</param>
    public static void AddStreamLstmWeb(HostApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var services = builder.Services;
        services.AddOptions<WebOptions>()
            .Bind(config.GetSection(WebOptions.Section))
            .PostConfigure(o =>
            {
                // ASP.NET convention: --urls (configuration key "urls") wins over Web:Urls.
                if (!string.IsNullOrWhiteSpace(config["urls"])) o.Urls = config["urls"]!;
            })
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WebOptions>, WebOptionsValidator>());
        services.TryAddSingleton<AlertLog>();
        services.TryAddSingleton<LiveFeed>();
        services.TryAddSingleton<OverviewFeed>();
        services.TryAddSingleton<ServiceMetrics>();
        services.TryAddSingleton<BatchSizeTap>();
        services.AddSingleton<IForecastOutput>(sp => sp.GetRequiredService<BatchSizeTap>());
        services.TryAddSingleton<IPipelineHealth, PipelineHealth>();
        services.TryAddSingleton<IInfluxHealth, InfluxHealth>();
        services.TryAddSingleton<WebHostedService>();
        services.AddHostedService(sp => sp.GetRequiredService<WebHostedService>());
    }
}
