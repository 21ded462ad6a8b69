using System.Globalization;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.LineProtocol;

namespace StreamLstm.Sink.Outputs;

/// <summary>Pipeline health figures written to the <c>pipeline</c> measurement.</summary>
/// <param name="Source">Source kind (null for all sources together).</param>
/// <param name="EventsPerSecond">Throughput.</param>
/// <param name="LagMs">Wall-clock minus event time of the newest event, or consumer lag in ms.</param>
/// <param name="ConsumerLagMessages">Kafka consumer lag in messages (-1 when unknown).</param>
/// <param name="MeanBatchSize">Mean forecast batch size.</param>
public readonly record struct PipelineStats(SourceKind? Source, double EventsPerSecond, double LagMs, long ConsumerLagMessages, double MeanBatchSize);

/// <summary>The InfluxDB schema (see docs/sink.md): <c>forecast</c>, <c>alert</c> and <c>pipeline</c> measurements.</summary>
public static class SinkSchema
{
    /// <summary>Forecast measurement.</summary>
    public const string Forecast = "forecast";

    /// <summary>Alert measurement.</summary>
    public const string Alert = "alert";

    /// <summary>Pipeline measurement.</summary>
    public const string Pipeline = "pipeline";

    private static readonly string[] MuNames = [.. Enumerable.Range(1, 256).Select(h => "mu_h" + h.ToString(CultureInfo.InvariantCulture))];
    private static readonly string[] SigmaNames = [.. Enumerable.Range(1, 256).Select(h => "sigma_h" + h.ToString(CultureInfo.InvariantCulture))];

    /// <summary>Field name of horizon <paramref name="h"/>'s mean (1-based).</summary>
    /// <param name="h">Horizon, 1..256.</param>
    /// <returns><c>mu_h{h}</c>.</returns>
    public static string MuField(int h) => MuNames[h - 1];

    /// <summary>Field name of horizon <paramref name="h"/>'s sigma (1-based).</summary>
    /// <param name="h">Horizon, 1..256.</param>
    /// <returns><c>sigma_h{h}</c>.</returns>
    public static string SigmaField(int h) => SigmaNames[h - 1];

    /// <summary>Writes row <paramref name="row"/> as a <c>forecast</c> point. Throws <see cref="ArgumentException"/> for keys line protocol cannot carry.</summary>
    /// <param name="buffer">Target.</param>
    /// <param name="batch">Batch.</param>
    /// <param name="row">Row.</param>
    /// <param name="score">The row's score.</param>
    public static void WriteForecast(LineProtocolBuffer buffer, ForecastBatch batch, int row, in RowScore score)
    {
        buffer.BeginLine(Forecast);
        buffer.Tag("key", batch.Keys[row]);
        buffer.Tag("model", batch.ModelVersion);
        buffer.Tag("source", batch.Source.ToWireName());
        buffer.Field("value", batch.Observed[row]);
        var k = batch.Horizons;
        var mu = batch.MuOf(row);
        var sigma = batch.SigmaOf(row);
        for (var h = 0; h < k; h++)
        {
            buffer.Field(MuNames[h], mu[h]);
        }

        for (var h = 0; h < k; h++)
        {
            buffer.Field(SigmaNames[h], sigma[h]);
        }

        if (score.HasScore)
        {
            buffer.Field("score", score.Score);
            buffer.Field("p_anomaly", score.PAnomaly);
            buffer.Field("nll", score.Nll);
        }

        // A point is identified by its series and timestamp. At nanosecond precision the sub-millisecond part comes from the
        // Kafka offset, so two events of one key in the same millisecond stay two points while a replay still overwrites.
        buffer.EndLine(batch.TimestampsMs[row], batch.Offsets[row] >= 0 ? (int)(batch.Offsets[row] % 1_000_000) : 0);
    }

    /// <summary>Writes an <c>alert</c> point (tags source, key, event; timestamp = the triggering row's event time).</summary>
    /// <param name="buffer">Target.</param>
    /// <param name="alert">The event.</param>
    public static void WriteAlert(LineProtocolBuffer buffer, AlertEvent alert)
    {
        buffer.BeginLine(Alert);
        buffer.Tag("event", alert.KindName);
        buffer.Tag("key", alert.Key);
        buffer.Tag("source", alert.Source.ToWireName());
        buffer.Field("alert_id", alert.AlertId);
        buffer.Field("severity", alert.SeverityName);
        buffer.Field("model", alert.Model);
        buffer.FieldInteger("start_ms", alert.StartMs);
        buffer.FieldInteger("duration_ms", alert.EventMs - alert.StartMs);
        buffer.Field("peak_score", alert.PeakScore);
        buffer.Field("score", alert.Score);
        buffer.Field("observed", alert.Observed);
        buffer.Field("forecast_mu", alert.ForecastMu);
        buffer.Field("forecast_sigma", alert.ForecastSigma);
        buffer.FieldInteger("forecast_made_at_ms", alert.ForecastMadeAtMs);
        buffer.EndLine(alert.EventMs);
    }

    /// <summary>Writes a <c>pipeline</c> point.</summary>
    /// <param name="buffer">Target.</param>
    /// <param name="stats">Figures from the pipeline.</param>
    /// <param name="counters">The sink's own counters (spool depth, dead letters).</param>
    /// <param name="instance">Instance tag (host name).</param>
    /// <param name="nowMs">Timestamp, Unix ms.</param>
    public static void WritePipeline(LineProtocolBuffer buffer, in PipelineStats stats, Influx.SinkCounters counters, string instance, long nowMs)
    {
        buffer.BeginLine(Pipeline);
        buffer.Tag("instance", instance);
        buffer.Tag("source", stats.Source?.ToWireName() ?? "all");
        buffer.Field("events_per_s", stats.EventsPerSecond);
        buffer.Field("lag_ms", stats.LagMs);
        buffer.FieldInteger("consumer_lag", stats.ConsumerLagMessages);
        buffer.Field("batch_size", stats.MeanBatchSize);
        buffer.FieldInteger("spool_points", counters.SpoolPoints);
        buffer.FieldInteger("spool_bytes", counters.SpoolBytes);
        buffer.FieldInteger("points_delivered", counters.PointsDelivered);
        buffer.FieldInteger("points_dead_lettered", counters.PointsDeadLettered);
        buffer.Field("sink_batch_points", counters.MeanBatchPoints);
        buffer.FieldInteger("sink_config_error", counters.ConfigurationErrorStatus);
        buffer.Field("sink_faulted", counters.Faulted);
        buffer.FieldInteger("points_quarantined", counters.PointsQuarantined);
        buffer.EndLine(nowMs);
    }
}
