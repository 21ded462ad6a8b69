namespace StreamLstm.Ingest.Replay;

/// <summary>
/// Lines of a replay file that could not be read: counted, the first few kept with their reason (file and line). A reader
/// given one skips such lines and goes on, so one bad row does not end a replay; a reader given none throws
/// <see cref="InvalidDataException"/> at the first.
/// </summary>
public sealed class ReplayBadLines
{
    /// <summary>Reasons kept (the count goes on).</summary>
    public const int Kept = 5;

    private readonly List<string> _first = [];
    private long _count;

    /// <summary>Lines skipped.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>The first <see cref="Kept"/> reasons.</summary>
    public IReadOnlyList<string> First
    {
        get
        {
            lock (_first)
            {
                return _first.ToArray();
            }
        }
    }

    /// <summary>Records one skipped line.</summary>
    /// <param name="reason">File, line and what was wrong.</param>
    public void Add(string reason)
    {
        Interlocked.Increment(ref _count);
        lock (_first)
        {
            if (_first.Count < Kept) _first.Add(reason);
        }
    }

    /// <summary>One line for a console: the count and the first reason (empty when nothing was skipped).</summary>
    /// <returns>The summary.</returns>
    public string Summary() => Count == 0 ? "" : $"{Count} line(s) skipped, not readable (first: {First[0]})";
}
