using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StreamLstm.Sink.Hosting;
using StreamLstm.Sink.Influx;

namespace StreamLstm.Streaming.Web.Health;

/// <summary>
/// <see cref="IInfluxHealth"/> from the sink's settings: no InfluxDB configured (line-protocol file, or no sink) is
/// healthy; otherwise InfluxDB's <c>/ping</c> must answer within two seconds, or the spool must be below its size limit
/// (the writer keeps forecasts safe there until InfluxDB is back).
/// </summary>
public sealed class InfluxHealth(IServiceProvider services) : IInfluxHealth
{
    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(2);

    /// <inheritdoc />
    public async Task<(bool Healthy, string Description)> CheckAsync(CancellationToken cancellationToken)
    {
        var options = services.GetService<IOptions<SinkOptions>>()?.Value;
        if (options is null) return (true, "no sink configured");
        if (!options.HasInflux) return (true, "no InfluxDB configured: points go to " + options.FilePath);
        var http = services.GetRequiredService<IHttpClientFactory>().CreateClient(SinkServiceCollectionExtensions.HttpClientName);
        string problem;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(PingTimeout);
            using var response = await http.GetAsync(new Uri(new Uri(options.Influx.Url!.TrimEnd('/') + "/"), "ping"), timeout.Token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode) return (true, $"InfluxDB at {options.Influx.Url} answers");
            problem = $"InfluxDB at {options.Influx.Url} answered {(int)response.StatusCode}";
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            problem = $"InfluxDB at {options.Influx.Url} does not answer ({e.Message})";
        }

        if (services.GetService<IPointSink>() is InfluxWriter writer)
        {
            var size = writer.Spool.SizeBytes;
            var max = options.Spool.MaxBytes;
            if (size < max) return (true, $"{problem}; spooling ({size:N0} of {max:N0} bytes)");
            return (false, $"{problem}; the spool is full ({size:N0} of {max:N0} bytes)");
        }

        return (false, problem);
    }
}
