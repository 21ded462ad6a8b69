using System.Reactive.Concurrency;
using System.Reactive.Linq;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Web.Live;

namespace StreamLstm.Streaming.Web.Endpoints;

/// <summary>
/// The dashboard's API: <c>/api/info</c>, <c>/api/keys</c> (search as you type), <c>/api/alerts</c>, and two
/// server-sent-event streams: <c>/api/stream/overview</c> (a status sample per period plus alert events in small batches)
/// and <c>/api/stream/key</c> (one key's forecasts, sampled per key, plus that key's alerts).
/// </summary>
public static class DashboardEndpoints
{
    /// <summary>Maps the endpoints.</summary>
    /// <param name="app">Routes.</param>
    /// <param name="options">Web settings.</param>
    /// <returns>The routes.</returns>
    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app, WebOptions options)
    {
        app.MapGet("/api/info", (StatusFeedSource source) =>
        {
            var pipeline = source.Pipeline;
            return Results.Content(DashboardJson.Serialize(new
            {
                started = pipeline is not null,
                kinds = pipeline?.Models.Select(m => new { kind = m.Key.ToWireName(), model = m.Value.Metadata.Version, horizons = m.Value.Config.Horizons }).ToArray() ?? [],
                keySamplePeriodMs = options.KeySamplePeriod.TotalMilliseconds,
            }), "application/json");
        });

        app.MapGet("/api/keys", (string? kind, string? q, int? limit, LiveFeed feed) =>
        {
            if (!DashboardJson.TryParseKind(kind, out var k)) return Results.BadRequest("kind must be tick, vitals or audio");
            var keys = feed.Search(k, q, Math.Clamp(limit ?? 50, 1, 500), out var total);
            return Results.Content(DashboardJson.Serialize(new { kind = k.ToWireName(), total, keys = keys.Select(DashboardJson.Key).ToArray() }), "application/json");
        });

        app.MapGet("/api/alerts", (string? kind, string? key, AlertLog alerts) =>
        {
            SourceKind? k = DashboardJson.TryParseKind(kind, out var parsed) ? parsed : null;
            var list = alerts.Recent(k, string.IsNullOrEmpty(key) ? null : key);
            return Results.Content(DashboardJson.Serialize(new { alerts = list.Select(DashboardJson.Alert).ToArray() }), "application/json");
        });

        app.MapGet("/api/stream/overview", (HttpContext context, OverviewFeed overview, AlertLog alerts, IHostApplicationLifetime lifetime) =>
        {
            var alertBatches = LiveStreams.Batched(alerts.Events, TimeSpan.FromMilliseconds(250), 100, DefaultScheduler.Instance)
                .Select(b => new SseMessage("alerts", DashboardJson.Serialize(b.Select(DashboardJson.Alert).ToArray())));
            return ServerSentEvents.StreamAsync(context, overview.Messages.Merge(alertBatches), lifetime.ApplicationStopping);
        });

        app.MapGet("/api/stream/key", async (HttpContext context, string? kind, string? key, LiveFeed feed, AlertLog alerts, IHostApplicationLifetime lifetime) =>
        {
            if (!DashboardJson.TryParseKind(kind, out var k) || string.IsNullOrEmpty(key))
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsync("kind (tick, vitals, audio) and key are required").ConfigureAwait(false);
                return;
            }

            if (feed.Points(k, key) is not { } points)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                await context.Response.WriteAsync($"no {k.ToWireName()} key '{key}' has been seen").ConfigureAwait(false);
                return;
            }

            var sampled = LiveStreams.SamplePerKey(points, options.KeySamplePeriod, DefaultScheduler.Instance)
                .Select(p => new SseMessage("point", DashboardJson.Serialize(DashboardJson.Point(p))));
            var keyAlerts = alerts.Events.Where(a => a.Source == k && a.Key == key)
                .Select(a => new SseMessage("alerts", DashboardJson.Serialize(new[] { DashboardJson.Alert(a) })));
            await ServerSentEvents.StreamAsync(context, sampled.Merge(keyAlerts), lifetime.ApplicationStopping).ConfigureAwait(false);
        });

        return app;
    }
}

/// <summary>The running pipeline, when it has started (for endpoints that must answer before it does).</summary>
/// <param name="service">The pipeline service.</param>
public sealed class StatusFeedSource(PipelineHostedService service)
{
    /// <summary>The pipeline, or null before it started.</summary>
    public Pipeline.StreamPipeline? Pipeline => service.Started.IsCompletedSuccessfully ? service.Started.Result : null;
}
