using System.Text.Json;
using System.Text.Json.Serialization;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Web.Live;

namespace StreamLstm.Streaming.Web.Endpoints;

/// <summary>The JSON shapes the dashboard reads (camelCase; NaN and infinities become null).</summary>
public static class DashboardJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Serialises <paramref name="value"/> with the dashboard's options.</summary>
    /// <param name="value">Value.</param>
    /// <returns>JSON.</returns>
    public static string Serialize(object value) => JsonSerializer.Serialize(value, Options);

    /// <summary>Parses a wire name (<c>tick</c>, <c>vitals</c>, <c>audio</c>).</summary>
    /// <param name="name">Name.</param>
    /// <param name="kind">The kind.</param>
    /// <returns>True when known.</returns>
    public static bool TryParseKind(string? name, out SourceKind kind)
    {
        switch (name?.ToLowerInvariant())
        {
            case "tick" or "ticks":
                kind = SourceKind.Tick;
                return true;
            case "vitals":
                kind = SourceKind.Vitals;
                return true;
            case "audio":
                kind = SourceKind.Audio;
                return true;
            default:
                kind = default;
                return false;
        }
    }

    /// <summary>An alert event.</summary>
    /// <param name="a">Event.</param>
    /// <returns>A plain object for the serialiser.</returns>
    public static object Alert(AlertEvent a) => new
    {
        id = a.AlertId,
        state = a.KindName,
        severity = a.SeverityName,
        kind = a.Source.ToWireName(),
        key = a.Key,
        model = a.Model,
        startMs = a.StartMs,
        eventMs = a.EventMs,
        peak = Finite(a.PeakScore),
        score = Finite(a.Score),
        observed = Finite(a.Observed),
        mu = Finite(a.ForecastMu),
        sigma = Finite(a.ForecastSigma),
        emittedAt = a.EmittedAt,
    };

    /// <summary>A key's forecast row.</summary>
    /// <param name="p">Point.</param>
    /// <returns>A plain object for the serialiser.</returns>
    public static object Point(KeyPoint p) => new
    {
        kind = p.Kind.ToWireName(),
        key = p.Key,
        ts = p.TimestampMs,
        observed = Finite(p.Observed),
        mu = p.Mu.Select(v => Finite(v)).ToArray(),
        sigma = p.Sigma.Select(v => Finite(v)).ToArray(),
        score = Finite(p.Score),
        pAnomaly = Finite(p.PAnomaly),
        model = p.ModelVersion,
    };

    /// <summary>A key summary.</summary>
    /// <param name="k">Summary.</param>
    /// <returns>A plain object for the serialiser.</returns>
    public static object Key(KeySummary k) => new { key = k.Key, events = k.Events, lastTs = k.LastTimestampMs, score = Finite(k.Score), alertOpen = k.AlertOpen };

    /// <summary>The overview: throughput, lag, latency per kind, counters and alert counts.</summary>
    /// <param name="s">Status sample.</param>
    /// <param name="feed">Key directory (keys per kind).</param>
    /// <param name="alerts">Alert log.</param>
    /// <returns>A plain object for the serialiser.</returns>
    public static object Overview(StatusSample s, LiveFeed feed, AlertLog alerts) => new
    {
        at = s.At,
        eventsPerSecond = Math.Round(s.EventsPerSecond, 1),
        lag = s.Lag,
        pausedLanes = s.PausedLanes,
        p50Ms = s.P50Micros / 1000,
        p99Ms = s.P99Micros / 1000,
        stepP50Ms = s.StepP50Micros / 1000,
        stepP99Ms = s.StepP99Micros / 1000,
        totals = new { events = s.Totals.Events, forecasts = s.Totals.Forecasts, deadLetters = s.Totals.DeadLetters, late = s.Totals.Late, duplicates = s.Totals.Duplicates, keys = s.Totals.Keys },
        kinds = s.Kinds.Select(k => new
        {
            kind = k.Kind.ToWireName(),
            forecasts = k.Forecasts,
            eventsPerSecond = Math.Round(k.ForecastsPerSecond, 1),
            lag = k.Lag,
            p50Ms = k.P50Micros / 1000,
            p99Ms = k.P99Micros / 1000,
            model = k.ModelVersion,
            keys = feed.KeyCount(k.Kind),
        }).ToArray(),
        alerts = new
        {
            raised = alerts.Count(AlertEventKind.Raised),
            updated = alerts.Count(AlertEventKind.Updated),
            resolved = alerts.Count(AlertEventKind.Resolved),
            open = alerts.Open.Count,
        },
    };

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
