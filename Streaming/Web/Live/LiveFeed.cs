using System.Collections.Concurrent;
using System.Reactive.Disposables;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Outputs;

namespace StreamLstm.Streaming.Web.Live;

/// <summary>
/// The dashboard's tap on the scored forecasts. Per row it does one dictionary lookup and a few field stores (the key
/// directory with each key's latest score); only rows of keys a browser watches are copied and published, and alerts are
/// handed to the <see cref="AlertLog"/>. It runs on the worker threads inside the InfluxDB output's write, after scoring,
/// so the detector's work is reused, not repeated.
/// </summary>
public sealed class LiveFeed : IScoredBatchObserver
{
    private readonly ConcurrentDictionary<string, KeyCell>[] _keys =
    [
        new(StringComparer.Ordinal), new(StringComparer.Ordinal), new(StringComparer.Ordinal),
    ];

    private readonly AlertLog _alerts;

    /// <summary>Creates the feed.</summary>
    /// <param name="alerts">Where alert events go.</param>
    public LiveFeed(AlertLog alerts) => _alerts = alerts;

    /// <summary>Keys seen per kind.</summary>
    /// <param name="kind">Kind.</param>
    /// <returns>Count.</returns>
    public int KeyCount(SourceKind kind) => _keys[(int)kind].Count;

    /// <summary>Browsers' watches currently open over all keys.</summary>
    public int Watches => Volatile.Read(ref _watches);

    private int _watches;

    /// <inheritdoc />
    public void OnScored(ForecastBatch batch, ReadOnlySpan<RowScore> scores, IReadOnlyList<AlertEvent> alerts)
    {
        var keys = _keys[(int)batch.Source];
        for (var r = 0; r < batch.Count; r++)
        {
            var key = batch.Keys[r];
            if (!keys.TryGetValue(key, out var cell))
            {
                // Once per new key: the key string is the pipeline's own (no copy).
                cell = keys.GetOrAdd(key, static (k, kind) => new KeyCell(kind, k), batch.Source);
            }

            var score = r < scores.Length && scores[r].HasScore ? scores[r] : default;
            cell.Events++;
            cell.LastTimestampMs = batch.TimestampsMs[r];
            cell.LastScore = score.HasScore ? score.Score : double.NaN;
            if (Volatile.Read(ref cell.Watchers) > 0)
            {
                cell.Publish(new KeyPoint(batch.Source, key, batch.TimestampsMs[r], batch.Observed[r], batch.MuOf(r).ToArray(), batch.SigmaOf(r).ToArray(),
                    score.HasScore ? score.Score : double.NaN, score.HasScore ? score.PAnomaly : double.NaN, batch.ModelVersion));
            }
        }

        for (var i = 0; i < alerts.Count; i++) _alerts.Add(alerts[i]);
    }

    /// <summary>
    /// Keys of <paramref name="kind"/> containing <paramref name="query"/> (case-insensitive), keys starting with it first,
    /// then by name; at most <paramref name="limit"/>.
    /// </summary>
    /// <param name="kind">Kind.</param>
    /// <param name="query">Text to find (empty: all).</param>
    /// <param name="limit">Most results.</param>
    /// <param name="total">Matches before the limit.</param>
    /// <returns>The keys.</returns>
    public IReadOnlyList<KeySummary> Search(SourceKind kind, string? query, int limit, out int total)
    {
        var q = query?.Trim() ?? "";
        var matches = new List<KeyCell>();
        foreach (var cell in _keys[(int)kind].Values)
        {
            if (q.Length == 0 || cell.Key.Contains(q, StringComparison.OrdinalIgnoreCase)) matches.Add(cell);
        }

        total = matches.Count;
        return [.. matches
            .OrderBy(c => c.Key.StartsWith(q, StringComparison.OrdinalIgnoreCase) ? 0 : 1)
            .ThenBy(c => c.Key.Length)
            .ThenBy(c => c.Key, StringComparer.Ordinal)
            .Take(Math.Max(0, limit))
            .Select(c => c.Summary(_alerts))];
    }

    /// <summary>The key's summary, or null when it was never seen.</summary>
    /// <param name="kind">Kind.</param>
    /// <param name="key">Key.</param>
    /// <returns>The summary.</returns>
    public KeySummary? Find(SourceKind kind, string key) => _keys[(int)kind].TryGetValue(key, out var c) ? c.Summary(_alerts) : null;

    /// <summary>
    /// Every forecast row of one key from now on (unsampled: see <see cref="LiveStreams.SamplePerKey"/>). Rows are copied
    /// only while at least one subscription is open. Null when the key was never seen.
    /// </summary>
    /// <param name="kind">Kind.</param>
    /// <param name="key">Key.</param>
    /// <returns>The stream, or null.</returns>
    public IObservable<KeyPoint>? Points(SourceKind kind, string key)
    {
        if (!_keys[(int)kind].TryGetValue(key, out var cell)) return null;
        return Observable.Create<KeyPoint>(observer =>
        {
            var subscription = cell.Subject.Subscribe(observer);
            Interlocked.Increment(ref cell.Watchers);
            Interlocked.Increment(ref _watches);
            return Disposable.Create(() =>
            {
                Interlocked.Decrement(ref cell.Watchers);
                Interlocked.Decrement(ref _watches);
                subscription.Dispose();
            });
        });
    }

    private sealed class KeyCell(SourceKind kind, string key)
    {
        public readonly Subject<KeyPoint> Subject = new();
        public int Watchers;
        public long Events;
        public long LastTimestampMs;
        public double LastScore = double.NaN;

        public SourceKind Kind { get; } = kind;

        public string Key { get; } = key;

        // One key lives in one partition, so one worker publishes it at a time; the subject needs no lock.
        public void Publish(KeyPoint point) => Subject.OnNext(point);

        public KeySummary Summary(AlertLog alerts) => new(Key, Volatile.Read(ref Events), Volatile.Read(ref LastTimestampMs), LastScore, alerts.IsOpen(Kind, Key));
    }
}
