using System.Collections.Concurrent;
using System.Reactive.Subjects;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;

namespace StreamLstm.Streaming.Web.Live;

/// <summary>
/// The alert state machine's output as a live stream: every raise, update and resolve is pushed to <see cref="Events"/>,
/// the last <see cref="Capacity"/> are kept for a page that opens later, and the open alerts and counts by state are kept
/// for the overview and <c>/metrics</c>. Written by pipeline workers concurrently (alerts are rare: a lock is fine).
/// </summary>
public sealed class AlertLog : IDisposable
{
    /// <summary>Recent events kept.</summary>
    public const int Capacity = 500;

    private readonly ISubject<AlertEvent> _events = Subject.Synchronize(new Subject<AlertEvent>());
    private readonly Queue<AlertEvent> _recent = new();
    private readonly ConcurrentDictionary<string, AlertEvent> _open = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly long[] _byKind = new long[3];

    /// <summary>Every alert event as it happens (raised, updated, resolved), on the thread that produced it.</summary>
    public IObservable<AlertEvent> Events => _events;

    /// <summary>Alert events since start, by <see cref="AlertEventKind"/> (raised, updated, resolved).</summary>
    /// <param name="kind">Event kind.</param>
    /// <returns>Count.</returns>
    public long Count(AlertEventKind kind) => Interlocked.Read(ref _byKind[(int)kind]);

    /// <summary>Alerts currently open (raised, not yet resolved).</summary>
    public IReadOnlyCollection<AlertEvent> Open => [.. _open.Values];

    /// <summary>Whether <paramref name="key"/> of <paramref name="source"/> has an open alert.</summary>
    /// <param name="source">Kind.</param>
    /// <param name="key">Key.</param>
    /// <returns>True when open.</returns>
    public bool IsOpen(SourceKind source, string key)
    {
        foreach (var a in _open.Values)
        {
            if (a.Source == source && a.Key == key) return true;
        }

        return false;
    }

    /// <summary>The most recent events, newest last, optionally of one key only.</summary>
    /// <param name="source">Kind filter (null: all).</param>
    /// <param name="key">Key filter (null: all).</param>
    /// <returns>A copy.</returns>
    public IReadOnlyList<AlertEvent> Recent(SourceKind? source = null, string? key = null)
    {
        lock (_gate)
        {
            return [.. _recent.Where(a => (source is null || a.Source == source) && (key is null || a.Key == key))];
        }
    }

    /// <summary>Records and publishes one event.</summary>
    /// <param name="alert">The event.</param>
    public void Add(AlertEvent alert)
    {
        Interlocked.Increment(ref _byKind[(int)alert.Kind]);
        if (alert.Kind == AlertEventKind.Resolved) _open.TryRemove(alert.AlertId, out _);
        else _open[alert.AlertId] = alert;
        lock (_gate)
        {
            _recent.Enqueue(alert);
            while (_recent.Count > Capacity) _recent.Dequeue();
        }

        _events.OnNext(alert);
    }

    /// <summary>Completes the stream.</summary>
    public void Dispose() => _events.OnCompleted();
}
