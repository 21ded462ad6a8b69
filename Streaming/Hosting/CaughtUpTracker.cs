namespace StreamLstm.Streaming.Hosting;

/// <summary>One assigned input partition's progress, as <c>run --until-caught-up</c> sees it.</summary>
/// <param name="Topic">Topic.</param>
/// <param name="Partition">Partition.</param>
/// <param name="Lag">Messages not yet durably handled: the consumer's own lag, or end offset minus the group's committed
/// offset when that is smaller (after a restart the consumer has stored nothing yet, but the group committed the end).</param>
public readonly record struct PartitionProgress(string Topic, int Partition, long Lag);

/// <summary>
/// Decides when a run is caught up: it holds an assignment, every assigned partition is known and at zero lag, and that
/// has held without a break for <see cref="Window"/>. Any reading that is not (no assignment yet, a partition not yet
/// fetched, a partition behind) starts the wait again.
/// </summary>
/// <param name="time">Clock.</param>
/// <param name="window">How long zero lag must last.</param>
/// <param name="assignmentTimeout">How long to wait for a first partition assignment before giving up (null: forever).</param>
public sealed class CaughtUpTracker(TimeProvider time, TimeSpan window, TimeSpan? assignmentTimeout = null)
{
    private readonly long _started = time.GetTimestamp();
    private long _since = -1;
    private bool _everAssigned;

    /// <summary>How long zero lag must last.</summary>
    public TimeSpan Window { get; } = window;

    /// <summary>
    /// True once <c>assignmentTimeout</c> passed without any partition ever being assigned: the brokers are unreachable or
    /// the input topics do not exist, and a backfill would otherwise wait forever. An assignment seen once disarms it.
    /// </summary>
    public bool GaveUp { get; private set; }

    /// <summary>What the last reading showed, for progress messages.</summary>
    public string Status { get; private set; } = "waiting for a partition assignment";

    /// <summary>Takes one reading.</summary>
    /// <param name="assigned">Partitions the consumer holds.</param>
    /// <param name="progress">Progress of the partitions whose end offset is known (null when not read).</param>
    /// <returns>True once every assigned partition has been at zero lag for <see cref="Window"/>.</returns>
    public bool Observe(int assigned, IReadOnlyList<PartitionProgress>? progress)
    {
        _everAssigned |= assigned > 0;
        if (!_everAssigned && assignmentTimeout is { } limit && time.GetElapsedTime(_started) >= limit) GaveUp = true;
        if (assigned <= 0 || progress is null || progress.Count < assigned)
        {
            Status = assigned <= 0 ? "waiting for a partition assignment" : $"waiting for the end offsets of {assigned - (progress?.Count ?? 0)} of {assigned} partitions";
            _since = -1;
            return false;
        }

        var behind = progress.Where(p => p.Lag > 0).ToList();
        if (behind.Count > 0)
        {
            Status = $"{behind.Count} of {assigned} partitions behind, lag {behind.Sum(p => p.Lag):N0}";
            _since = -1;
            return false;
        }

        var now = time.GetTimestamp();
        if (_since < 0) _since = now;
        var held = time.GetElapsedTime(_since, now);
        Status = $"{assigned} partitions at zero lag for {held.TotalSeconds:0.0} s";
        return held >= Window;
    }
}
