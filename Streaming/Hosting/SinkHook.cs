using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace StreamLstm.Streaming.Hosting;

/// <summary>
/// SINK HOOK — where the InfluxDB/alerts outputs join the composition root. The pipeline writes to every registered
/// <see cref="Model.Forecasting.IForecastOutput"/> (it resolves <c>IEnumerable&lt;IForecastOutput&gt;</c>), so adding the
/// sink is one call: <c>services.AddStreamLstmSink(configuration)</c> from <c>StreamLstm.Sink.Hosting</c>, binding the
/// <c>Sink</c> section (<c>Sink:Influx:Url</c>, <c>Sink:Influx:Database</c>, v2 <c>Org/Bucket/Token</c>).
/// Until the sink branch is merged that extension does not exist at compile time, so it is looked up by name;
/// once merged, replace this with the direct call.
/// </summary>
public static class SinkHook
{
    /// <summary>True when the configuration asks for a sink (an InfluxDB URL or any <c>Sink</c> setting).</summary>
    /// <param name="configuration">Configuration.</param>
    /// <returns>Whether to add the sink.</returns>
    public static bool IsConfigured(IConfiguration configuration) => configuration.GetSection("Sink").GetChildren().Any();

    /// <summary>Adds the sink's outputs when configured; returns false (and adds nothing) when the sink is unavailable.</summary>
    /// <param name="services">Services.</param>
    /// <param name="configuration">Configuration.</param>
    /// <returns>Whether the sink was added.</returns>
    public static bool TryAdd(IServiceCollection services, IConfiguration configuration)
    {
        if (!IsConfigured(configuration)) return false;
        var type = typeof(Sink.Kafka.KafkaForecastOutput).Assembly.GetType("StreamLstm.Sink.Hosting.SinkServiceCollectionExtensions");
        var method = type?.GetMethod("AddStreamLstmSink", BindingFlags.Public | BindingFlags.Static, [typeof(IServiceCollection), typeof(IConfiguration)]);
        if (method is null) return false;
        method.Invoke(null, [services, configuration]);
        return true;
    }
}
