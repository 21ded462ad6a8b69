using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;
using StreamLstm.Sink.Influx;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Web.Live;

namespace StreamLstm.Streaming.Web.Metrics;

/// <summary>
/// The service's Prometheus metrics (own registry, served at <c>/metrics</c>). Nothing here runs per event: counters and
/// gauges are read from the pipeline, consumer, sink and alert log when a scrape arrives; the latency histograms are
/// harvested from the workers' <see cref="LatencyHistogram"/>s (bucket deltas since the previous scrape); the
/// <c>_recent_seconds</c> gauges hold quantiles over the last <see cref="LatencyHistogram.DefaultWindow"/>, the same
/// figures the console status line and the dashboard show.
/// </summary>
public sealed class ServiceMetrics
{
    private static readonly SourceKind[] Kinds = [SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio];
    private static readonly double[] Quantiles = [0.5, 0.9, 0.99];
    private readonly IServiceProvider _services;
    private readonly Lock _gate = new();
    private readonly Dictionary<LatencyHistogram, long[]> _harvested = [];
    private readonly long[] _scratch = new long[LatencyHistogram.BucketCount];

    private readonly Counter _events;
    private readonly Counter _forecasts;
    private readonly Counter _batches;
    private readonly Counter _deadLetters;
    private readonly Counter _late;
    private readonly Counter _duplicates;
    private readonly Gauge _lag;
    private readonly Gauge _assigned;
    private readonly Gauge _pausedLanes;
    private readonly Histogram _eventToForecast;
    private readonly Histogram _step;
    private readonly Gauge _eventToForecastRecent;
    private readonly Gauge _stepRecent;
    private readonly Counter _influxAccepted;
    private readonly Counter _influxDelivered;
    private readonly Counter _influxSpooled;
    private readonly Counter _influxDeadLettered;
    private readonly Counter _influxRequests;
    private readonly Counter _influxFailedRequests;
    private readonly Gauge _spoolPoints;
    private readonly Gauge _spoolBytes;
    private readonly Counter _alertEvents;
    private readonly Gauge _alertsOpen;
    private readonly Gauge _keys;
    private readonly Gauge _modelInfo;
    private readonly Gauge _webWatches;

    /// <summary>Creates the metrics on a new registry.</summary>
    /// <param name="services">Resolves the pipeline, sink and alert log when scraped (whatever is registered).</param>
    public ServiceMetrics(IServiceProvider services)
    {
        _services = services;
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        _events = f.CreateCounter("streamlstm_events_total", "Messages read by the workers (good, bad, late and duplicates).");
        _forecasts = f.CreateCounter("streamlstm_forecasts_total", "Forecast rows handed to the outputs.", "kind");
        _batches = f.CreateCounter("streamlstm_batches_total", "Micro-batches stepped.");
        _deadLetters = f.CreateCounter("streamlstm_dead_letters_total", "Messages sent to the dead-letter topic.", "reason");
        _late = f.CreateCounter("streamlstm_late_events_total", "Events older than their key's last, sent to the late topic.");
        _duplicates = f.CreateCounter("streamlstm_duplicates_total", "Redelivered messages skipped by offset.");
        _lag = f.CreateGauge("streamlstm_consumer_lag_messages", "Messages between the high watermark and the offset stored for commit.", "topic", "partition", "kind");
        _assigned = f.CreateGauge("streamlstm_consumer_assigned_partitions", "Partitions assigned to the consumer.");
        _pausedLanes = f.CreateGauge("streamlstm_consumer_paused_lanes", "Worker lanes paused by backpressure.");
        BatchSize = f.CreateHistogram("streamlstm_batch_size_rows", "Rows per micro-batch.", new HistogramConfiguration
        {
            LabelNames = ["kind"],
            Buckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536],
        });
        var latencyBuckets = Histogram.ExponentialBuckets(0.000_05, 2, 18);
        _eventToForecast = f.CreateHistogram("streamlstm_event_to_forecast_seconds", "Time from the consumer taking an event to its forecast being handed over.", new HistogramConfiguration { LabelNames = ["kind"], Buckets = latencyBuckets });
        _step = f.CreateHistogram("streamlstm_step_seconds", "Time of one micro-batch's LSTM step.", new HistogramConfiguration { Buckets = latencyBuckets });
        _eventToForecastRecent = f.CreateGauge("streamlstm_event_to_forecast_recent_seconds", "Event-to-forecast latency quantile over the last 10 s.", "kind", "quantile");
        _stepRecent = f.CreateGauge("streamlstm_step_recent_seconds", "LSTM step time quantile over the last 10 s.", "quantile");
        _influxAccepted = f.CreateCounter("streamlstm_influx_points_accepted_total", "Points handed to the InfluxDB writer (or line-protocol file).");
        _influxDelivered = f.CreateCounter("streamlstm_influx_points_written_total", "Points acknowledged by InfluxDB (a replayed point counts again).");
        _influxSpooled = f.CreateCounter("streamlstm_influx_points_spooled_total", "Points appended to the spool while InfluxDB was unavailable.");
        _influxDeadLettered = f.CreateCounter("streamlstm_influx_points_dead_lettered_total", "Points InfluxDB rejected, sent to the dead-letter file.");
        _influxRequests = f.CreateCounter("streamlstm_influx_requests_total", "Write requests made (each after its retries).");
        _influxFailedRequests = f.CreateCounter("streamlstm_influx_failed_requests_total", "Write requests that failed after their retries (their points were spooled).");
        _spoolPoints = f.CreateGauge("streamlstm_influx_spool_points", "Points waiting in the spool.");
        _spoolBytes = f.CreateGauge("streamlstm_influx_spool_bytes", "Bytes in the spool.");
        _alertEvents = f.CreateCounter("streamlstm_alert_events_total", "Alert events by state.", "state");
        _alertsOpen = f.CreateGauge("streamlstm_alerts_open", "Alerts currently open.", "kind", "severity");
        _keys = f.CreateGauge("streamlstm_resident_keys", "Keys with state held by the workers.");
        _modelInfo = f.CreateGauge("streamlstm_model_info", "The model each kind runs (value 1).", "kind", "version");
        _webWatches = f.CreateGauge("streamlstm_web_key_watches", "Keys watched by dashboard clients.");
        Registry.AddBeforeCollectCallback(Collect);
    }

    /// <summary>The registry <c>/metrics</c> serves.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Rows per micro-batch, by kind (observed by <see cref="BatchSizeTap"/>).</summary>
    public Histogram BatchSize { get; }

    private void Collect()
    {
        lock (_gate)
        {
            var service = _services.GetRequiredService<PipelineHostedService>();
            if (service.Started.IsCompletedSuccessfully) CollectPipeline(service.Started.Result, service);
            CollectSink();
            CollectAlerts();
        }
    }

    private void CollectPipeline(StreamPipeline pipeline, PipelineHostedService service)
    {
        var t = pipeline.Totals();
        _events.IncTo(t.Events);
        _batches.IncTo(t.Batches);
        _late.IncTo(t.Late);
        _duplicates.IncTo(t.Duplicates);
        _keys.Set(t.Keys);
        var dead = new long[DeadLetterReasonNames.Count];
        var now = Stopwatch.GetTimestamp();
        var step = new LatencyHistogram();
        var perKind = new[] { new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram() };
        var kindForecasts = new long[3];
        foreach (var m in pipeline.Metrics)
        {
            for (var i = 0; i < dead.Length; i++) dead[i] += Volatile.Read(ref m.DeadLetters[i]);
            Harvest(m.StepLatency, _step);
            step.AddRecent(m.StepLatency, now);
            foreach (var kind in Kinds)
            {
                var h = m.KindLatency[(int)kind];
                kindForecasts[(int)kind] += h.Count;
                Harvest(h, _eventToForecast.WithLabels(kind.ToWireName()));
                perKind[(int)kind].AddRecent(h, now);
            }
        }

        for (var i = 1; i < dead.Length; i++) _deadLetters.WithLabels(((DeadLetterReason)i).ToWireName()).IncTo(dead[i]);
        foreach (var kind in Kinds)
        {
            if (!pipeline.Models.TryGetValue(kind, out var model)) continue;
            var name = kind.ToWireName();
            _forecasts.WithLabels(name).IncTo(kindForecasts[(int)kind]);
            _modelInfo.WithLabels(name, model.Metadata.Version).Set(1);
            foreach (var q in Quantiles) _eventToForecastRecent.WithLabels(name, Q(q)).Set(perKind[(int)kind].Quantile(q) / 1e6);
        }

        foreach (var q in Quantiles) _stepRecent.WithLabels(Q(q)).Set(step.Quantile(q) / 1e6);
        if (service.Consumer is { } consumer)
        {
            _assigned.Set(consumer.AssignedPartitions);
            _pausedLanes.Set(consumer.PausedLanes);
            foreach (var l in consumer.PartitionLags)
            {
                _lag.WithLabels(l.Topic, l.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture), l.Kind.ToWireName()).Set(l.Lag);
            }
        }
    }

    private void CollectSink()
    {
        if (_services.GetService<IPointSink>() is not { } sink) return;
        var c = sink.Counters;
        _influxAccepted.IncTo(c.PointsAccepted);
        _influxDelivered.IncTo(c.PointsDelivered);
        _influxSpooled.IncTo(c.PointsSpooled);
        _influxDeadLettered.IncTo(c.PointsDeadLettered);
        _influxRequests.IncTo(c.Requests);
        _influxFailedRequests.IncTo(c.FailedRequests);
        _spoolPoints.Set(c.SpoolPoints);
        _spoolBytes.Set(c.SpoolBytes);
    }

    private void CollectAlerts()
    {
        var log = _services.GetRequiredService<AlertLog>();
        foreach (var kind in Enum.GetValues<AlertEventKind>())
        {
            _alertEvents.WithLabels(kind switch { AlertEventKind.Raised => "raised", AlertEventKind.Updated => "updated", _ => "resolved" }).IncTo(log.Count(kind));
        }

        var open = log.Open;
        foreach (var kind in Kinds)
        {
            foreach (var severity in Enum.GetValues<AlertSeverity>())
            {
                _alertsOpen.WithLabels(kind.ToWireName(), severity == AlertSeverity.Critical ? "critical" : "warning").Set(open.Count(a => a.Source == kind && a.Severity == severity));
            }
        }

        _webWatches.Set(_services.GetRequiredService<LiveFeed>().Watches);
    }

    /// <summary>Adds the samples <paramref name="source"/> recorded since the last harvest to <paramref name="target"/>.</summary>
    private void Harvest(LatencyHistogram source, IHistogram target)
    {
        if (!_harvested.TryGetValue(source, out var seen))
        {
            seen = new long[LatencyHistogram.BucketCount];
            _harvested[source] = seen;
        }

        source.CopyCumulative(_scratch);
        for (var b = 0; b < _scratch.Length; b++)
        {
            var delta = _scratch[b] - seen[b];
            if (delta <= 0) continue;
            target.Observe(LatencyHistogram.UpperBound(b) / 1e6, delta);
            seen[b] = _scratch[b];
        }
    }

    private static string Q(double q) => q.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
