using System.Diagnostics;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>
/// A log-linear latency histogram in microseconds (8 sub-buckets per power of two, ≤ 12.5 % error), written by one
/// thread without allocation and merged for reading.
/// </summary>
public sealed class LatencyHistogram
{
    private const int Sub = 8;
    private readonly long[] _counts = new long[64 * Sub];

    /// <summary>Recorded samples.</summary>
    public long Count { get; private set; }

    /// <summary>Records the time since <paramref name="startTicks"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    /// <param name="startTicks">Start.</param>
    /// <param name="nowTicks">End.</param>
    public void Record(long startTicks, long nowTicks)
    {
        var us = (nowTicks - startTicks) * 1_000_000 / Stopwatch.Frequency;
        _counts[Bucket(Math.Max(0, us))]++;
        Count++;
    }

    /// <summary>Adds another histogram's samples.</summary>
    /// <param name="other">Histogram.</param>
    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++) _counts[i] += other._counts[i];
        Count += other.Count;
    }

    /// <summary>Clears all samples.</summary>
    public void Reset()
    {
        Array.Clear(_counts);
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
        var target = (long)Math.Ceiling(q * total);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= target) return UpperBound(i);
        }

        return UpperBound(_counts.Length - 1);
    }

    private static int Bucket(long us)
    {
        if (us < Sub) return (int)us;
        var log = 63 - (int)long.LeadingZeroCount(us);
        var sub = (int)((us >> (log - 3)) & (Sub - 1));
        return Math.Min((log - 2) * Sub + sub, 64 * Sub - 1);
    }

    private static double UpperBound(int bucket)
    {
        if (bucket < Sub) return bucket + 1;
        var log = bucket / Sub + 2;
        var sub = bucket % Sub;
        return (double)(Sub + sub + 1) * (1L << (log - 3));
    }
}
