using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.LineProtocol;

namespace StreamLstm.Sink.Outputs;

/// <summary>Lets the pipeline report its health into the <c>pipeline</c> measurement.</summary>
public interface IPipelineStatsSink
{
    /// <summary>Writes one <c>pipeline</c> point (call every few seconds).</summary>
    /// <param name="stats">Figures.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>A task.</returns>
    ValueTask WritePipelineStatsAsync(PipelineStats stats, CancellationToken cancellationToken);
}

/// <summary>
/// Writes each forecast row with the score the pipeline gave it (<see cref="ForecastBatch.Scores"/>) as a <c>forecast</c>
/// point, and the batch's alert events (<see cref="ForecastBatch.Alerts"/>) as <c>alert</c> points, to an
/// <see cref="IPointSink"/> (InfluxDB, or a line-protocol file). Forecast and alert rows that line protocol cannot carry
/// (a key with a newline) go to the dead-letter file with the reason. No allocation per row: buffers are pooled per concurrent caller.
/// </summary>
public sealed partial class InfluxForecastOutput : IForecastOutput, IPipelineStatsSink, IAsyncDisposable
{
    private readonly IPointSink _sink;
    private readonly DeadLetterFile _deadLetters;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentBag<Scratch> _scratch = [];
    private readonly string _instance = Environment.MachineName;

    /// <summary>Creates the output.</summary>
    /// <param name="sink">Where points go.</param>
    /// <param name="deadLetters">Dead-letter file for rows that cannot be encoded.</param>
    /// <param name="time">Clock for <c>pipeline</c> points.</param>
    /// <param name="logger">Logger.</param>
    public InfluxForecastOutput(IPointSink sink, DeadLetterFile deadLetters, TimeProvider time, ILogger<InfluxForecastOutput> logger)
    {
        _sink = sink;
        _deadLetters = deadLetters;
        _time = time;
        _logger = logger;
    }

    /// <summary>The point sink.</summary>
    public IPointSink Sink => _sink;

    /// <summary>Sees every scored batch (live views); null for none.</summary>
    public IScoredBatchObserver? Observer { get; set; }

    /// <summary>Alert events produced so far.</summary>
    public long AlertEvents => Interlocked.Read(ref _alertEvents);

    private long _alertEvents;

    /// <inheritdoc />
    public async ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var s = Rent();
        try
        {
            var scores = batch.Scores;
            Observer?.OnScored(batch, scores.AsSpan(0, batch.Count), batch.Alerts);
            for (var r = 0; r < batch.Count; r++)
            {
                try
                {
                    SinkSchema.WriteForecast(s.Buffer, batch, r, scores[r]);
                }
                catch (ArgumentException e)
                {
                    s.Buffer.CancelLine();
                    _deadLetters.Write(0, e.Message, $"forecast source={batch.Source.ToWireName()} key={batch.Keys[r]} ts={batch.TimestampsMs[r]} partition={batch.Partitions[r]} offset={batch.Offsets[r]}");
                    LogBadRow(_logger, batch.Keys[r], e.Message);
                }
            }

            foreach (var alert in batch.Alerts)
            {
                LogAlert(_logger, alert.KindName, alert.SeverityName, alert.Source.ToWireName(), alert.Key, alert.PeakScore);
                try
                {
                    SinkSchema.WriteAlert(s.Buffer, alert);
                }
                catch (ArgumentException e)
                {
                    // Same rule as forecast rows: a key line protocol cannot carry goes to the dead-letter file, never out of WriteAsync.
                    s.Buffer.CancelLine();
                    _deadLetters.Write(0, e.Message, $"alert {alert.KindName} id={alert.AlertId} source={alert.Source.ToWireName()} key={alert.Key} event_ms={alert.EventMs} severity={alert.SeverityName} peak_score={alert.PeakScore}");
                    LogBadAlert(_logger, alert.Key, e.Message);
                }
            }

            Interlocked.Add(ref _alertEvents, batch.Alerts.Count);
            await _sink.WriteAsync(s.Buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Return(s);
        }
    }

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken) => _sink.FlushAsync(cancellationToken);

    /// <inheritdoc />
    public async ValueTask WritePipelineStatsAsync(PipelineStats stats, CancellationToken cancellationToken)
    {
        var s = Rent();
        try
        {
            SinkSchema.WritePipeline(s.Buffer, stats, _sink.Counters, _instance, _time.GetUtcNow().ToUnixTimeMilliseconds());
            await _sink.WriteAsync(s.Buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Return(s);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _sink.DisposeAsync();

    private Scratch Rent()
    {
        if (!_scratch.TryTake(out var s))
        {
            s = new Scratch(_sink.Precision);
        }

        return s;
    }

    private void Return(Scratch s)
    {
        s.Buffer.Clear();
        _scratch.Add(s);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert {Kind} ({Severity}) {Source}/{Key}, peak score {Peak:F2}.")]
    private static partial void LogAlert(ILogger logger, string kind, string severity, string source, string key, double peak);

    [LoggerMessage(Level = LogLevel.Error, Message = "Forecast for key '{Key}' cannot be written as line protocol ({Reason}); sent to the dead-letter file.")]
    private static partial void LogBadRow(ILogger logger, string key, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Alert for key '{Key}' cannot be written as line protocol ({Reason}); sent to the dead-letter file.")]
    private static partial void LogBadAlert(ILogger logger, string key, string reason);

    private sealed class Scratch(WritePrecision precision)
    {
        public LineProtocolBuffer Buffer { get; } = new(precision);
    }
}
