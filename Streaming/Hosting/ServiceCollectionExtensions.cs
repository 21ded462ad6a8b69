using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Kafka;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Hosting;

/// <summary>Registers the streaming pipeline.</summary>
public static partial class ServiceCollectionExtensions
{
    /// <summary>
    /// Adds the pipeline: options (sections <c>Kafka</c>, <c>Pipeline</c>, <c>Models</c>, validated at start-up), models
    /// (unless a <see cref="PipelineModels"/> is already registered), the DLQ producer, the forecasts-topic output, the
    /// latest-forecast tracker, the hosted service and the status feed. Other outputs (InfluxDB, alerts) are added as
    /// further <see cref="IForecastOutput"/> registrations; the pipeline writes to all of them.
    /// </summary>
    /// <param name="services">Services.</param>
    /// <param name="configuration">Configuration root.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddStreamLstmPipeline(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<KafkaSettings>().Bind(configuration.GetSection(KafkaSettings.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<PipelineOptions>().Bind(configuration.GetSection(PipelineOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<ModelSettings>().Bind(configuration.GetSection(ModelSettings.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<StateOptions>().Bind(configuration.GetSection(StateOptions.Section));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KafkaSettings>, KafkaSettingsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PipelineOptions>, PipelineOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ModelSettings>, ModelSettingsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<Sink.Hosting.SinkOptions>, WatchFeaturesValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<DeliveryFailures>();
        // The host waits for the pipeline's bounded drain, plus room for the producers' own disposal. Read raw (not through
        // IOptions) so an invalid value is reported by start-up validation with the others, not thrown while building.
        var drain = TimeSpan.TryParse(configuration[$"{PipelineOptions.Section}:{nameof(PipelineOptions.ShutdownTimeout)}"], System.Globalization.CultureInfo.InvariantCulture, out var t)
            && t > TimeSpan.Zero && t <= TimeSpan.FromHours(1) ? t : new PipelineOptions().ShutdownTimeout;
        services.Configure<HostOptions>(host => host.ShutdownTimeout = drain + TimeSpan.FromSeconds(15));
        services.TryAddSingleton(sp =>
        {
            var kafka = sp.GetRequiredService<IOptions<KafkaSettings>>().Value;
            var pipeline = sp.GetRequiredService<IOptions<PipelineOptions>>().Value;
            var models = PipelineModels.FromSettings(sp.GetRequiredService<IOptions<ModelSettings>>().Value, kafka.InputTopics().Values, pipeline.AudioCoefficients, out var random);
            if (random.Count > 0)
            {
                LogRandomModels(sp.GetRequiredService<ILoggerFactory>().CreateLogger("StreamLstm.Models"), string.Join(",", random.Select(k => k.ToWireName())));
            }

            return models;
        });
        services.TryAddSingleton(sp =>
        {
            var kafka = sp.GetRequiredService<IOptions<KafkaSettings>>().Value;
            return new KafkaDeadLetterSink(kafka.BootstrapServers, kafka.DeadLetterTopic, kafka.LateTopic, sp.GetRequiredService<ILoggerFactory>().CreateLogger<KafkaDeadLetterSink>(),
                sp.GetRequiredService<DeliveryFailures>(), kafka.Client, SharedProducer(sp, kafka));
        });
        services.TryAddSingleton(sp =>
        {
            var kafka = sp.GetRequiredService<IOptions<KafkaSettings>>().Value;
            var id = string.IsNullOrWhiteSpace(kafka.TransactionalId) ? $"{kafka.GroupId}-{Environment.MachineName}" : kafka.TransactionalId;
            return new TransactionalProducer(kafka.BootstrapServers, id, sp.GetRequiredService<ILoggerFactory>().CreateLogger<TransactionalProducer>(), kafka.Client,
                failAt: kafka.FailTransactionAt);
        });
        // Exactly-once: alerts go through the transactional producer too (resolved only in that mode).
        services.AddOptions<Sink.Hosting.SinkOptions>().PostConfigure<IServiceProvider>((o, sp) =>
        {
            if (sp.GetRequiredService<IOptions<KafkaSettings>>().Value.ExactlyOnce) o.Alerts.SharedProducer = sp.GetRequiredService<TransactionalProducer>().Handle;
        });
        services.TryAddSingleton<IDeadLetterSink>(sp => sp.GetRequiredService<KafkaDeadLetterSink>());
        services.AddKafkaForecastOutput();
        services.TryAddSingleton<LatestForecasts>();
        services.AddSingleton<IForecastOutput>(sp => sp.GetRequiredService<LatestForecasts>());
        services.TryAddSingleton<PipelineHostedService>();
        services.AddHostedService(sp => sp.GetRequiredService<PipelineHostedService>());
        services.TryAddSingleton<StatusFeed>();
        return services;
    }

    /// <summary>Adds the forecasts-topic output (<see cref="KafkaForecastOutput"/>) as an <see cref="IForecastOutput"/>.</summary>
    /// <param name="services">Services.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddKafkaForecastOutput(this IServiceCollection services)
    {
        services.TryAddSingleton(sp =>
        {
            var kafka = sp.GetRequiredService<IOptions<KafkaSettings>>().Value;
            var forecastOptions = ForecastOutputOptions(kafka, sp.GetService<IOptions<PipelineOptions>>()?.Value.Latency);
            forecastOptions.SharedProducer = SharedProducer(sp, kafka);
            return new KafkaForecastOutput(forecastOptions,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger<KafkaForecastOutput>(), sp.GetService<DeliveryFailures>());
        });
        services.AddSingleton<IForecastOutput>(sp => sp.GetRequiredService<KafkaForecastOutput>());
        return services;
    }

    /// <summary>The forecasts output's settings from <c>Kafka</c>, with the latency profile's (if any) applied.</summary>
    /// <param name="kafka">Kafka settings.</param>
    /// <param name="latency">The <c>Pipeline:Latency</c> profile, or null.</param>
    /// <returns>The settings (no shared producer).</returns>
    internal static KafkaForecastOutputOptions ForecastOutputOptions(KafkaSettings kafka, LatencyProfile? latency)
    {
        var options = new KafkaForecastOutputOptions { BootstrapServers = kafka.BootstrapServers, Topic = kafka.ForecastsTopic, Extra = kafka.Client, Format = kafka.ForecastFormat, ProducePath = kafka.ForecastProducePath, Compression = kafka.ForecastCompression };
        if (latency is { } profile) LatencyTuning.For(profile).ApplyTo(options);
        return options;
    }

    /// <summary>The transactional producer's handle under exactly-once; null otherwise (each output has its own client).</summary>
    private static Confluent.Kafka.Handle? SharedProducer(IServiceProvider sp, KafkaSettings kafka) =>
        kafka.ExactlyOnce ? sp.GetRequiredService<TransactionalProducer>().Handle : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "No model file for {Kinds}: using randomly initialised models (forecasts are not meaningful). Set Models:TickModel/VitalsModel/AudioModel.")]
    private static partial void LogRandomModels(ILogger logger, string kinds);
}
