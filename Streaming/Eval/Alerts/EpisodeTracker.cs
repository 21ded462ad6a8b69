using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Eval.Alerts;

/// <summary>
/// Turns a generator's per-event labels into <see cref="LabelledEpisode"/>s (maximal runs of a key's consecutive events
/// with the same label) and measures the event time each key covered. Fed in event order, one event at a time.
/// </summary>
public sealed class EpisodeTracker
{
    private readonly SourceKind _source;
    private readonly Func<int, string> _keyName;
    private readonly List<LabelledEpisode> _episodes = [];
    private AnomalyKind[] _label = [];
    private long[] _start = [];
    private long[] _last = [];
    private long[] _first = [];

    /// <summary>Creates a tracker.</summary>
    /// <param name="source">Source kind of the events.</param>
    /// <param name="keyName">Key name of a key index.</param>
    public EpisodeTracker(SourceKind source, Func<int, string> keyName)
    {
        _source = source;
        _keyName = keyName;
    }

    /// <summary>Closed episodes so far (call <see cref="Close"/> first for the open ones).</summary>
    public IReadOnlyList<LabelledEpisode> Episodes => _episodes;

    /// <summary>Sum over keys of the event time between their first and last event, in hours.</summary>
    public double KeyHours
    {
        get
        {
            var ms = 0.0;
            for (var k = 0; k < _first.Length; k++)
            {
                if (_first[k] != long.MinValue) ms += _last[k] - _first[k];
            }

            return ms / 3_600_000.0;
        }
    }

    /// <summary>Records one event.</summary>
    /// <param name="e">What the generator returned for it.</param>
    public void Add(GeneratedEvent e)
    {
        var k = e.KeyIndex;
        if (k >= _label.Length) Grow(k + 1);
        if (_first[k] == long.MinValue) _first[k] = e.TimestampMs;
        if (e.Anomaly != _label[k])
        {
            End(k);
            _label[k] = e.Anomaly;
            _start[k] = e.TimestampMs;
        }

        _last[k] = e.TimestampMs;
    }

    /// <summary>Closes every open episode (at the end of the run).</summary>
    public void Close()
    {
        for (var k = 0; k < _label.Length; k++)
        {
            End(k);
            _label[k] = AnomalyKind.None;
        }
    }

    private void End(int k)
    {
        if (_label[k] != AnomalyKind.None) _episodes.Add(new LabelledEpisode(_source, _keyName(k), _label[k], _start[k], _last[k]));
    }

    private void Grow(int n)
    {
        var old = _label.Length;
        Array.Resize(ref _label, n);
        Array.Resize(ref _start, n);
        Array.Resize(ref _last, n);
        Array.Resize(ref _first, n);
        Array.Fill(_first, long.MinValue, old, n - old);
    }
}
