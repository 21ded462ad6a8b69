using StreamLstm.Ingest.Kafka;
using StreamLstm.Sink.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace StreamLstm.Streaming.Hosting;

/// <summary>The composition root: configuration sources, logging and the pipeline's services.</summary>
public static class StreamLstmHost
{
    /// <summary>Short command-line switches mapped to configuration keys.</summary>
    public static readonly Dictionary<string, string> SwitchMappings = new(StringComparer.Ordinal)
    {
        ["--bootstrap-servers"] = "Kafka:BootstrapServers",
        ["--group-id"] = "Kafka:GroupId",
        ["--workers"] = "Pipeline:Workers",
        ["--max-batch"] = "Pipeline:MaxBatch",
        ["--tick-model"] = "Models:TickModel",
        ["--vitals-model"] = "Models:VitalsModel",
        ["--audio-model"] = "Models:AudioModel",
    };

    /// <summary>
    /// Builds a host. Configuration, later sources winning: appsettings.json (next to the executable, then the working
    /// directory), <c>STREAMLSTM_</c> environment variables (<c>STREAMLSTM_Kafka__BootstrapServers</c>), the command line
    /// (<c>--Kafka:GroupId=x</c> or the short switches in <see cref="SwitchMappings"/>), then <paramref name="overrides"/>.
    /// </summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="configure">Extra registrations (outputs, models).</param>
    /// <param name="overrides">In-memory settings applied last.</param>
    /// <returns>The host builder.</returns>
    public static HostApplicationBuilder CreateBuilder(string[] args, Action<HostApplicationBuilder>? configure = null, IDictionary<string, string?>? overrides = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true)
            .AddEnvironmentVariables("STREAMLSTM_")
            .AddCommandLine(args, SwitchMappings);
        if (overrides is not null) builder.Configuration.AddInMemoryCollection(overrides);
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        // Start-up validation failures are printed as a list by the commands; the host's own stack-trace log would bury it.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.Services.AddHostedService<OptionsStartupCheck>(); // first hosted service: all settings problems are reported together
        configure?.Invoke(builder);
        AddSink(builder);
        builder.Services.AddStreamLstmPipeline(builder.Configuration);
        Online.OnlineServiceCollectionExtensions.AddStreamLstmOnline(builder.Services, builder.Configuration);
        return builder;
    }

    /// <summary>
    /// The sink's outputs (InfluxDB or its line-protocol file fallback, anomaly scores, alerts) join the forecasts topic as
    /// further <see cref="Model.Forecasting.IForecastOutput"/>s. <c>Sink:Enabled=false</c> leaves them out (benchmarks of the
    /// pipeline alone). Alerts go to the pipeline's own Kafka cluster unless <c>Sink:Alerts:BootstrapServers</c> says otherwise.
    /// </summary>
    /// <param name="builder">The host builder.</param>
    private static void AddSink(HostApplicationBuilder builder)
    {
        var config = builder.Configuration;
        if (string.Equals(config["Sink:Enabled"], "false", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(config["Sink:Alerts:BootstrapServers"]) && !string.IsNullOrWhiteSpace(config["Kafka:BootstrapServers"]))
        {
            config["Sink:Alerts:BootstrapServers"] = config["Kafka:BootstrapServers"];
        }

        // The alerts producer reaches the same cluster the same way (security settings) unless told otherwise.
        foreach (var setting in config.GetSection("Kafka:Client").GetChildren())
        {
            config[$"Sink:Alerts:Extra:{setting.Key}"] ??= setting.Value;
        }

        // The alerts producer is a Confluent.Kafka client: the working librdkafka must be loaded first.
        KafkaNative.EnsureLoaded();
        builder.Services.AddStreamLstmSink(config);
        builder.Services.AddHostedService<PipelineStatsPublisher>();
    }
}
