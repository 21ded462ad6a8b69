using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.Outputs;

namespace StreamLstm.Sink.Hosting;

/// <summary>Registers the sink: <see cref="IForecastOutput"/>s for InfluxDB (or a file) and the <c>alerts</c> topic.</summary>
public static class SinkServiceCollectionExtensions
{
    /// <summary>HttpClient name used for InfluxDB.</summary>
    public const string HttpClientName = "StreamLstm.Influx";

    /// <summary>Binds section <c>Sink</c> and registers the sink.</summary>
    /// <param name="services">Services.</param>
    /// <param name="configuration">Configuration root (or any section holding <c>Sink</c>).</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddStreamLstmSink(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SinkOptions>().Bind(configuration.GetSection(SinkOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        return AddCore(services);
    }

    /// <summary>Registers the sink with options set in code.</summary>
    /// <param name="services">Services.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddStreamLstmSink(this IServiceCollection services, Action<SinkOptions> configure)
    {
        services.AddOptions<SinkOptions>().Configure(configure).ValidateDataAnnotations().ValidateOnStart();
        return AddCore(services);
    }

    private static IServiceCollection AddCore(IServiceCollection services)
    {
        // Credentials in Sink:Influx:Url move into Username/Password before anything (validation, logs, status) reads the URL.
        services.PostConfigure<SinkOptions>(o => o.Influx.MoveUrlCredentials());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SinkOptions>, SinkOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddLogging();
        services.AddHttpClient(HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<SinkOptions>>().Value;
            return new DeadLetterFile(o.DeadLetterDirectory, sp.GetRequiredService<TimeProvider>());
        });
        services.TryAddSingleton<IPointSink>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<SinkOptions>>().Value;
            var logs = sp.GetRequiredService<ILoggerFactory>();
            if (!o.HasInflux)
            {
                return new LineProtocolFileSink(o.FilePath, o.Influx.Precision, logs.CreateLogger<LineProtocolFileSink>());
            }

            var http = sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName);
            return new InfluxWriter(http, o.Influx, o.Spool, o.DeadLetterDirectory, sp.GetRequiredService<TimeProvider>(), logs.CreateLogger<InfluxWriter>());
        });
        services.TryAddSingleton(sp =>
        {
            var time = sp.GetRequiredService<TimeProvider>();
            return new InfluxForecastOutput(sp.GetRequiredService<IPointSink>(), sp.GetRequiredService<DeadLetterFile>(), time, sp.GetRequiredService<ILogger<InfluxForecastOutput>>());
        });
        services.TryAddSingleton<IPipelineStatsSink>(sp => sp.GetRequiredService<InfluxForecastOutput>());
        services.AddSingleton<IForecastOutput>(sp => sp.GetRequiredService<InfluxForecastOutput>());
        services.AddSingleton<IForecastOutput>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<SinkOptions>>().Value;
            if (string.IsNullOrWhiteSpace(o.Alerts.BootstrapServers))
            {
                return NoAlertsOutput.Instance;
            }

            var time = sp.GetRequiredService<TimeProvider>();
            return new KafkaAlertOutput(o.Alerts, time, sp.GetRequiredService<ILogger<KafkaAlertOutput>>());
        });
        return services;
    }

    /// <summary>Stands in for the Kafka alert output when no bootstrap servers are configured (alerts still go to InfluxDB).</summary>
    private sealed class NoAlertsOutput : IForecastOutput
    {
        public static readonly NoAlertsOutput Instance = new();

        public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
