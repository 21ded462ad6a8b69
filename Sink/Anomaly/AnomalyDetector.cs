using StreamLstm.Model.Forecasting;

namespace StreamLstm.Sink.Anomaly;

/// <summary>
/// Scores batches that did not come through the pipeline (evaluation, benches, tests): a <see cref="ScoringSlab"/> per
/// source kind with a slot per key. The pipeline itself holds one <see cref="ScoringSlab"/> beside each key's state slot
/// and hands the outputs batches already scored; the maths is the same code.
/// Thread-safety: calls are serialised; one key's rows must come in event order.
/// </summary>
public sealed class AnomalyDetector
{
    private readonly ScoringSlab[] _slabs;
    private readonly Dictionary<string, int>[] _keys;
    private readonly Lock _gate = new();

    /// <summary>Creates a detector.</summary>
    /// <param name="options">Validated options.</param>
    /// <param name="time">Clock for <see cref="AlertEvent.EmittedAt"/>.</param>
    public AnomalyDetector(AnomalyOptions options, TimeProvider time)
    {
        var kinds = Enum.GetValues<SourceKind>();
        _slabs = new ScoringSlab[kinds.Length];
        _keys = new Dictionary<string, int>[kinds.Length];
        foreach (var k in kinds)
        {
            _slabs[(int)k] = new ScoringSlab(k, options, time, 16);
            _keys[(int)k] = new Dictionary<string, int>(StringComparer.Ordinal);
        }
    }

    /// <summary>Rows not scored because the forecast (μ, σ) or the observed value was NaN or infinite, or σ not positive.</summary>
    public long NonFiniteRows
    {
        get
        {
            lock (_gate) return _slabs.Sum(s => s.NonFiniteRows);
        }
    }

    /// <summary>Keys with state.</summary>
    public int KeyCount
    {
        get
        {
            lock (_gate) return _keys.Sum(k => k.Count);
        }
    }

    /// <summary>Whether a key has an open alert.</summary>
    /// <param name="source">Source.</param>
    /// <param name="key">Key.</param>
    /// <returns>True when open.</returns>
    public bool IsOpen(SourceKind source, string key)
    {
        lock (_gate) return _keys[(int)source].TryGetValue(key, out var slot) && _slabs[(int)source].IsOpen(slot);
    }

    /// <summary>Scores every row of <paramref name="batch"/> into its <see cref="ForecastBatch.Scores"/> and <see cref="ForecastBatch.Alerts"/> (what the pipeline does).</summary>
    /// <param name="batch">The batch; its alerts list is cleared first.</param>
    public void Process(ForecastBatch batch)
    {
        batch.Alerts.Clear();
        Process(batch, batch.Scores.AsSpan(0, batch.Count), batch.Alerts);
    }

    /// <summary>Scores every row of <paramref name="batch"/> and advances the alert state machines.</summary>
    /// <param name="batch">The batch.</param>
    /// <param name="scores">Receives one score per row (length ≥ <see cref="ForecastBatch.Count"/>).</param>
    /// <param name="alerts">Receives alert events in row order.</param>
    public void Process(ForecastBatch batch, Span<RowScore> scores, List<AlertEvent> alerts)
    {
        lock (_gate)
        {
            var slab = _slabs[(int)batch.Source];
            var keys = _keys[(int)batch.Source];
            var k = batch.Horizons;
            for (var r = 0; r < batch.Count; r++)
            {
                var key = batch.Keys[r];
                if (!keys.TryGetValue(key, out var slot))
                {
                    slot = keys.Count;
                    slab.EnsureCapacity(slot + 1);
                    keys[key] = slot;
                }

                scores[r] = slab.Score(slot, key, batch.TimestampsMs[r], batch.Observed[r], batch.Mu[r * k], batch.Sigma[r * k], batch.ModelVersion, alerts);
            }
        }
    }
}
