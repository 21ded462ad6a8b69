using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace StreamLstm.Streaming.Web.Health;

/// <summary>Readiness of the pipeline: models loaded, partitions assigned, every worker alive.</summary>
/// <param name="pipeline">Pipeline state.</param>
public sealed class PipelineReadyCheck(IPipelineHealth pipeline) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problems = new List<string>();
        if (!pipeline.ModelsLoaded) problems.Add("models not loaded (pipeline not started)");
        if (!pipeline.WorkersAlive) problems.Add("a worker stopped");
        if (!pipeline.HasAssignment) problems.Add("no partitions assigned");
        return Task.FromResult(problems.Count == 0
            ? HealthCheckResult.Healthy("models loaded, partitions assigned, workers alive")
            : HealthCheckResult.Unhealthy(string.Join("; ", problems)));
    }
}

/// <summary>Liveness: the process serves requests and no worker has failed (a failed pipeline needs a restart).</summary>
/// <param name="pipeline">Pipeline state.</param>
public sealed class WorkersAliveCheck(IPipelineHealth pipeline) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(pipeline.WorkersAlive ? HealthCheckResult.Healthy("workers alive") : HealthCheckResult.Unhealthy("a worker stopped"));
}

/// <summary>Readiness of the InfluxDB sink (see <see cref="IInfluxHealth"/>).</summary>
/// <param name="influx">InfluxDB state.</param>
public sealed class InfluxReadyCheck(IInfluxHealth influx) : IHealthCheck
{
    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (healthy, description) = await influx.CheckAsync(cancellationToken).ConfigureAwait(false);
        return healthy ? HealthCheckResult.Healthy(description) : HealthCheckResult.Unhealthy(description);
    }
}

/// <summary>Writes a health report as JSON: overall status and each check's status and description.</summary>
public static class HealthReportJson
{
    /// <summary>Writes <paramref name="report"/>.</summary>
    /// <param name="context">Request.</param>
    /// <param name="report">Report.</param>
    /// <returns>A task.</returns>
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }
}
