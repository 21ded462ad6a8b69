using System.Diagnostics;
using System.Runtime.InteropServices;

namespace StreamLstm.Streaming.Online.Scheduling;

/// <summary>
/// The calling thread's own CPU time: <c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c> on Linux, so time the thread spent
/// waiting for a core (or sleeping) is not counted. Elsewhere it falls back to the wall time since the process started
/// (<see cref="IsThreadCpuTime"/> false), which makes a CPU-share cap a wall-clock duty cycle.
/// </summary>
public static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    /// <summary>True when <see cref="Current"/> measures the thread's CPU time (Linux).</summary>
    public static bool IsThreadCpuTime { get; } = OperatingSystem.IsLinux();

    /// <summary>CPU time the calling thread has used (see the class remarks for other systems).</summary>
    /// <returns>The time.</returns>
    public static unsafe TimeSpan Current()
    {
        if (!IsThreadCpuTime) return Stopwatch.GetElapsedTime(0);
        // timespec on 64-bit Linux: two longs (seconds, nanoseconds).
        long* ts = stackalloc long[2];
        if (ClockGetTime(ClockThreadCpuTimeId, ts) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed.");
        return TimeSpan.FromTicks(ts[0] * TimeSpan.TicksPerSecond + ts[1] / 100);
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static unsafe partial int ClockGetTime(int clock, long* timespec);
}
