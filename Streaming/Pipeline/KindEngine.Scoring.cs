using StreamLstm.Sink.Anomaly;

namespace StreamLstm.Streaming.Pipeline;

// One scoring state per key, beside its slab slot: each row is scored once here, on the worker, and the batch carries
// the scores and alert events to every output. The state travels in the key's record (its Scoring section), so a
// restart, a moved partition or a hibernated key resumes scoring and open alerts exactly.
internal sealed partial class KindEngine
{
    private ScoringSlab _scoring = null!;
    private byte[] _scoringState = [];

    /// <summary>The per-slot scoring and alert state.</summary>
    public ScoringSlab Scoring => _scoring;

    private void InitScoring(PipelineOptions options, TimeProvider? time)
    {
        _scoring = new ScoringSlab(Kind, options.Anomaly, time ?? TimeProvider.System);
        _scoringState = new byte[_scoring.StateBytes];
    }

    /// <summary>Scores rows 0..n of <see cref="Batch"/> (keys, observed values and forecasts already filled).</summary>
    private void ScoreRows(int n)
    {
        var batch = Batch;
        batch.Alerts.Clear();
        var scores = batch.Scores;
        var k = _horizons;
        // The rows' keys are scattered over the slab: ask for the state of a row a few ahead while scoring this one.
        const int ahead = 8;
        for (var r = 0; r < Math.Min(ahead, n); r++) _scoring.Prefetch(_slots[r]);
        for (var r = 0; r < n; r++)
        {
            if (r + ahead < n) _scoring.Prefetch(_slots[r + ahead]);
            scores[r] = _scoring.Score(_slots[r], batch.Keys[r], batch.TimestampsMs[r], batch.Observed[r], batch.Mu[r * k], batch.Sigma[r * k], batch.ModelVersion, batch.Alerts);
        }
    }

    /// <summary>The slot's scoring state in the record's form (valid until the next call).</summary>
    private ReadOnlySpan<byte> ExportScoring(int slot)
    {
        _scoring.Export(slot, _scoringState);
        return _scoringState;
    }
}
