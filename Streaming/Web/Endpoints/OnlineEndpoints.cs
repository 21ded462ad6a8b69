using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Online.Gate;

namespace StreamLstm.Streaming.Web.Endpoints;

/// <summary>
/// Online learning's endpoints: <c>POST /api/models/{kind}/retrain</c> asks the trainer for a fine-tune now (202; 404 for
/// a kind not served; 409 when <c>Online:Enabled</c> is false), <c>GET /api/models/{kind}/online</c> its counters.
/// </summary>
public static class OnlineEndpoints
{
    /// <summary>Maps the endpoints.</summary>
    /// <param name="app">Routes.</param>
    /// <returns>The routes.</returns>
    public static IEndpointRouteBuilder MapOnline(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/models/{kind}/retrain", (string kind, IServiceProvider services) =>
        {
            if (!DashboardJson.TryParseKind(kind, out var k)) return Results.NotFound(new { error = $"unknown kind '{kind}': tick, vitals or audio" });
            if (services.GetService<OnlineTrainerService>() is not { } trainer) return Results.Conflict(new { error = "online learning is off (Online:Enabled=false)" });
            return trainer.RequestRetrain(k) ? Results.Accepted(value: new { kind = k.ToWireName(), queued = true })
                : Results.NotFound(new { error = $"{k.ToWireName()} is not served by this pipeline" });
        });

        app.MapGet("/api/models/{kind}/online", (string kind, IServiceProvider services) =>
        {
            if (!DashboardJson.TryParseKind(kind, out var k)) return Results.NotFound(new { error = $"unknown kind '{kind}'" });
            var counters = services.GetService<OnlineTrainerService>()?.Counters(k);
            var state = services.GetService<OnlineLearning>()?.For(k);
            if (counters is null || state is null) return Results.NotFound(new { error = $"online learning does not run for {k.ToWireName()}" });
            return Results.Ok(new
            {
                kind = k.ToWireName(), serving = state.Serving.Metadata.Version, fineTunes = counters.FineTunes, skipped = counters.Skipped, failed = counters.Failed,
                verdicts = Enum.GetValues<GateVerdict>().ToDictionary(v => v.ToString(), counters.Verdicts),
                swaps = state.Swaps, rewarmedKeys = state.RewarmedKeys, freshKeys = state.FreshKeys, replayKeys = state.Replay.KeyCount,
            });
        });
        return app;
    }
}
