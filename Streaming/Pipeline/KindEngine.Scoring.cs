using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Anomaly;

namespace StreamLstm.Streaming.Pipeline;

// One scoring state per key, beside its slab slot: each row is scored once here, on the worker, and the batch carries
// the scores and alert events to every output. The state travels in the key's record (its Scoring section), so a
// restart, a moved partition or a hibernated key resumes scoring and open alerts exactly.
internal sealed partial class KindEngine
{
    private ScoringSlab _scoring = null!;
    private byte[] _scoringState = [];
    private int[] _watched = [];
    private double _watchCorrection;

    /// <summary>The per-slot scoring and alert state.</summary>
    public ScoringSlab Scoring => _scoring;

    private void InitScoring(PipelineOptions options, TimeProvider? time)
    {
        _scoring = new ScoringSlab(Kind, options.Anomaly, time ?? TimeProvider.System);
        _scoringState = new byte[_scoring.StateBytes];
        var watch = options.Anomaly.For(Kind.ToWireName()).WatchFeatures;
        _watched = new int[watch.Count];
        for (var i = 0; i < watch.Count; i++)
        {
            var index = Features.IndexOfFeature(watch[i]);
            _watched[i] = index >= 0 ? index : throw new ArgumentException(
                $"Sink:Anomaly:Sources:{Kind.ToWireName()}:WatchFeatures: '{watch[i]}' is not a feature of {Kind.ToWireName()} events ({string.Join(", ", Features.FeatureNames)}).");
        }

        // Watching m features is m tests per row: p × m (Bonferroni), in surprise units −log10(m).
        _watchCorrection = _watched.Length > 1 ? Math.Log10(_watched.Length) : 0;
    }

    /// <summary>The surprise of row <paramref name="r"/>'s watched features (their per-key z-scores), 0 when none is watched.</summary>
    private double FeatureSurprise(int r)
    {
        if (_watched.Length == 0) return 0;
        var z = 0.0;
        var row = _x.AsSpan(r * _inputs, _inputs);
        foreach (var f in _watched) z = Math.Max(z, Math.Abs(row[f]));
        return Math.Max(0, GaussianTail.Surprise(GaussianTail.LogTwoSidedP(z)) - _watchCorrection);
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
            scores[r] = _scoring.Score(_slots[r], batch.Keys[r], batch.TimestampsMs[r], batch.Observed[r], batch.Mu[r * k], batch.Sigma[r * k], batch.ModelVersion, batch.Alerts, FeatureSurprise(r));
        }
    }

    /// <summary>The slot's scoring state in the record's form (valid until the next call).</summary>
    private ReadOnlySpan<byte> ExportScoring(int slot)
    {
        _scoring.Export(slot, _scoringState);
        return _scoringState;
    }
}
