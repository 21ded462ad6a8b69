using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;
using StreamLstm.Sink.Outputs;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Web.Endpoints;
using StreamLstm.Streaming.Web.Health;
using StreamLstm.Streaming.Web.Live;
using StreamLstm.Streaming.Web.Metrics;

namespace StreamLstm.Streaming.Web;

/// <summary>
/// Runs Kestrel inside the service: the dashboard (<c>/</c>, files from <c>wwwroot</c> next to the executable), its API
/// and server-sent-event streams, <c>/metrics</c> and <c>/health/live</c>, <c>/health/ready</c>. The web app has its own
/// small container; it shares the service's singletons (live feed, alert log, status feed, metrics, health adapters).
/// Prints <c>dashboard: URL</c> once listening.
/// </summary>
public sealed partial class WebHostedService(IServiceProvider services, IOptions<WebOptions> options, ILogger<WebHostedService> logger) : IHostedService, IAsyncDisposable
{
    private readonly TaskCompletionSource<IReadOnlyList<string>> _addresses = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _app;

    /// <summary>The bound addresses, once listening (e.g. <c>http://127.0.0.1:8080</c>).</summary>
    public Task<IReadOnlyList<string>> Addresses => _addresses.Task;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.Enabled)
        {
            _addresses.TrySetResult([]);
            return;
        }

        // The dashboard taps the scored forecasts of the InfluxDB output (absent when the sink is disabled).
        if (services.GetService<InfluxForecastOutput>() is { } influx) influx.Observer = services.GetRequiredService<LiveFeed>();
        try
        {
            _app = Build(o, o.Addresses);
            await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) when (!o.UrlsConfigured && e.InnerException is SocketException or Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            // Default address taken (another demo?): take a free loopback port rather than failing; the URL is printed.
            await DisposeAppAsync().ConfigureAwait(false);
            LogPortBusy(logger, WebOptions.DefaultUrl);
            Console.WriteLine($"web: {WebOptions.DefaultUrl} is in use; using a free port instead (set --urls to choose)");
            _app = Build(o, ["http://127.0.0.1:0"]);
            await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException($"The web host cannot listen on {string.Join(", ", o.Addresses)}: {e.Message} Choose another with --urls http://127.0.0.1:PORT (or Web:Enabled=false).", e);
        }

        IReadOnlyList<string> urls = [.. _app.Urls];
        _addresses.TrySetResult(urls);
        foreach (var url in urls)
        {
            Console.WriteLine($"dashboard: {url}/  (metrics {url}/metrics, health {url}/health/ready)");
            LogListening(logger, url);
        }

        Console.Out.Flush();
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null) await _app.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => DisposeAppAsync();

    private async ValueTask DisposeAppAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private WebApplication Build(WebOptions o, IReadOnlyList<string> urls)
    {
        var webRoot = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        builder.WebHost.UseUrls([.. urls]);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddSimpleConsole(c =>
        {
            c.SingleLine = true;
            c.TimestampFormat = "HH:mm:ss ";
        });
        builder.Services.AddSingleton(o);
        builder.Services.AddSingleton(services.GetRequiredService<LiveFeed>());
        builder.Services.AddSingleton(services.GetRequiredService<AlertLog>());
        builder.Services.AddSingleton(services.GetRequiredService<StatusFeed>());
        builder.Services.AddSingleton(services.GetRequiredService<OverviewFeed>());
        builder.Services.AddSingleton(services.GetRequiredService<ServiceMetrics>());
        builder.Services.AddSingleton(services.GetRequiredService<IPipelineHealth>());
        builder.Services.AddSingleton(services.GetRequiredService<IInfluxHealth>());
        builder.Services.AddSingleton(new StatusFeedSource(services.GetRequiredService<PipelineHostedService>()));
        builder.Services.AddHealthChecks()
            .AddCheck<WorkersAliveCheck>("workers", tags: ["live", "ready"])
            .AddCheck<PipelineReadyCheck>("pipeline", tags: ["ready"])
            .AddCheck<InfluxReadyCheck>("influx", tags: ["ready"]);

        var app = builder.Build();
        if (!string.IsNullOrWhiteSpace(o.BearerToken)) app.UseMiddleware<BearerTokenMiddleware>(o.BearerToken);
        IFileProvider files = Directory.Exists(webRoot) ? new PhysicalFileProvider(webRoot) : new NullFileProvider();
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = r => r.Tags.Contains("live"), ResponseWriter = HealthReportJson.WriteAsync });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = r => r.Tags.Contains("ready"), ResponseWriter = HealthReportJson.WriteAsync });
        app.MapMetrics("/metrics", services.GetRequiredService<ServiceMetrics>().Registry);
        app.MapDashboard(o);
        app.MapOnline();
        return app;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Web host listening on {Url} (dashboard, /metrics, /health/live, /health/ready)")]
    private static partial void LogListening(ILogger logger, string url);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Url} is in use; the web host takes a free loopback port instead")]
    private static partial void LogPortBusy(ILogger logger, string url);
}
