using System.Collections.Concurrent;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Outputs;

namespace StreamLstm.Streaming.Eval.Alerts;

/// <summary>
/// Keeps every raised alert the pipeline's alert scoring reports, through the public observer surface
/// (<see cref="IScoredBatchObserver"/> / <see cref="AlertEvent"/>), so it works wherever the scoring lives (a sink output
/// or the pipeline). Called on worker threads; keeps only the (immutable) alert events.
/// </summary>
public sealed class AlertRecorder : IScoredBatchObserver
{
    private readonly ConcurrentQueue<RaisedAlert> _raised = new();
    private long _rows;

    /// <summary>Raised alerts so far (in arrival order).</summary>
    public IReadOnlyCollection<RaisedAlert> Raised => _raised;

    /// <summary>Scored rows seen.</summary>
    public long Rows => Interlocked.Read(ref _rows);

    /// <inheritdoc />
    public void OnScored(ForecastBatch batch, ReadOnlySpan<RowScore> scores, IReadOnlyList<AlertEvent> alerts)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(alerts);
        Interlocked.Add(ref _rows, batch.Count);
        foreach (var a in alerts)
        {
            if (a.Kind == AlertEventKind.Raised) _raised.Enqueue(new RaisedAlert(a.Source, a.Key, a.StartMs, a.EventMs));
        }
    }
}
