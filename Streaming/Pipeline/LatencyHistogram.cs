using System.Diagnostics;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>
/// A log-linear latency histogram in microseconds (8 sub-buckets per power of two, ≤ 12.5 % error), written by one
/// thread without allocation and merged for reading. It keeps two views of the same samples: the counts since start
/// (<see cref="Quantile"/>, <see cref="CopyCumulative"/>: benchmarks, Prometheus histograms) and a ring of one-second
/// slots over the last <see cref="RingSeconds"/> seconds (<see cref="AddRecent"/>: the status line, the dashboard and the
/// recent-window gauges), so a quantile can describe "now" rather than everything since start-up.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Buckets per histogram.</summary>
    public const int BucketCount = 64 * Sub;

    /// <summary>Seconds the ring holds (the recent window can be at most this minus one: the current second is partial).</summary>
    public const int RingSeconds = 16;

    /// <summary>Default recent window for <see cref="AddRecent"/>.</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromSeconds(10);

    private const int Sub = 8;
    private readonly long[] _counts = new long[BucketCount];
    private readonly long[][] _ring = new long[RingSeconds][];
    private readonly long[] _ringSecond = new long[RingSeconds];
    private long _secondEndsAt = long.MinValue;
    private long[] _currentSlot;

    /// <summary>Creates an empty histogram.</summary>
    public LatencyHistogram()
    {
        for (var i = 0; i < RingSeconds; i++)
        {
            _ring[i] = new long[BucketCount];
            _ringSecond[i] = long.MinValue;
        }

        _currentSlot = _ring[0];
    }

    /// <summary>Recorded samples since start.</summary>
    public long Count { get; private set; }

    /// <summary>Records the time since <paramref name="startTicks"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    /// <param name="startTicks">Start.</param>
    /// <param name="nowTicks">End (also decides the one-second slot).</param>
    public void Record(long startTicks, long nowTicks) => RecordMicros((nowTicks - startTicks) * 1_000_000 / Stopwatch.Frequency, nowTicks);

    /// <summary>Records a value in microseconds (or any unit: the histogram is unit-free) at <paramref name="nowTicks"/>.</summary>
    /// <param name="micros">Value.</param>
    /// <param name="nowTicks">When (a <see cref="Stopwatch"/> timestamp; decides the one-second slot).</param>
    public void RecordMicros(long micros, long nowTicks)
    {
        var b = Bucket(Math.Max(0, micros));
        if (nowTicks >= _secondEndsAt || nowTicks < _secondEndsAt - Stopwatch.Frequency) EnterSecond(nowTicks);
        _counts[b]++;
        _currentSlot[b]++;
        Count++;
    }

    /// <summary>Adds another histogram's samples since start.</summary>
    /// <param name="other">Histogram.</param>
    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++) _counts[i] += other._counts[i];
        Count += other.Count;
    }

    /// <summary>
    /// Adds the samples <paramref name="other"/> recorded in the last <paramref name="window"/> (whole seconds, the current
    /// one included) to this histogram's counts. Safe while the other's writer records: a slot being recycled at that
    /// moment may be read half-cleared, which only loses samples of the oldest second.
    /// </summary>
    /// <param name="other">A histogram written by another thread.</param>
    /// <param name="nowTicks">Now (a <see cref="Stopwatch"/> timestamp).</param>
    /// <param name="window">Window; at most <see cref="RingSeconds"/> − 1 seconds.</param>
    public void AddRecent(LatencyHistogram other, long nowTicks, TimeSpan? window = null)
    {
        var seconds = Math.Clamp((long)Math.Ceiling((window ?? DefaultWindow).TotalSeconds), 1, RingSeconds - 1);
        var now = nowTicks / Stopwatch.Frequency;
        for (var i = 0; i < RingSeconds; i++)
        {
            var s = Volatile.Read(ref other._ringSecond[i]);
            if (s > now || s <= now - seconds) continue;
            var slot = other._ring[i];
            long n = 0;
            for (var b = 0; b < slot.Length; b++)
            {
                var c = slot[b];
                _counts[b] += c;
                n += c;
            }

            Count += n;
        }
    }

    /// <summary>Copies the counts since start into <paramref name="destination"/> (length <see cref="BucketCount"/>).</summary>
    /// <param name="destination">Receives the counts.</param>
    public void CopyCumulative(Span<long> destination) => _counts.CopyTo(destination);

    /// <summary>Clears all samples.</summary>
    public void Reset()
    {
        Array.Clear(_counts);
        foreach (var slot in _ring) Array.Clear(slot);
        Array.Fill(_ringSecond, long.MinValue);
        _secondEndsAt = long.MinValue;
        Count = 0;
    }

    /// <summary>The <paramref name="q"/> quantile in microseconds (upper bound of its bucket).</summary>
    /// <param name="q">Quantile in [0, 1].</param>
    /// <returns>Microseconds, 0 when empty.</returns>
    public double Quantile(double q)
    {
        long total = 0;
        foreach (var c in _counts) total += c;
        if (total == 0) return 0;
        var target = Math.Max(1, (long)Math.Ceiling(q * total));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= target) return UpperBound(i);
        }

        return UpperBound(_counts.Length - 1);
    }

    /// <summary>Upper bound (µs) of bucket <paramref name="bucket"/>: every sample in it is at most this.</summary>
    /// <param name="bucket">Bucket index.</param>
    /// <returns>Microseconds.</returns>
    public static double UpperBound(int bucket)
    {
        if (bucket < Sub) return bucket + 1;
        var log = bucket / Sub + 2;
        var sub = bucket % Sub;
        return (double)(Sub + sub + 1) * (1L << (log - 3));
    }

    private void EnterSecond(long nowTicks)
    {
        // Once per second (not per sample): find the slot of this second and recycle it if it holds an older one.
        var second = nowTicks / Stopwatch.Frequency;
        _secondEndsAt = (second + 1) * Stopwatch.Frequency;
        var i = (int)(((second % RingSeconds) + RingSeconds) % RingSeconds);
        var slot = _ring[i];
        if (_ringSecond[i] != second)
        {
            // Mark the slot stale while it is cleared so a concurrent reader skips it.
            Volatile.Write(ref _ringSecond[i], long.MinValue);
            Array.Clear(slot);
            Volatile.Write(ref _ringSecond[i], second);
        }

        _currentSlot = slot;
    }

    private static int Bucket(long us)
    {
        if (us < Sub) return (int)us;
        var log = 63 - (int)long.LeadingZeroCount(us);
        var sub = (int)((us >> (log - 3)) & (Sub - 1));
        return Math.Min((log - 2) * Sub + sub, 64 * Sub - 1);
    }
}
