using System.Globalization;
using System.Text.Json.Nodes;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// CPU time per thread of this process, from <c>/proc/self/task/*/schedstat</c> (nanoseconds on the CPU, nanoseconds
/// runnable but waiting for a CPU) and <c>comm</c> (the thread's name, 15 characters): two snapshots give where a run's CPU
/// went — our named threads, the thread pool (workers), librdkafka's <c>rdk:*</c> threads (client and mock broker), the GC —
/// and, per thread, how much of the window it was on a CPU, runnable but waiting for one (the machine's load), or blocked
/// (waiting on something: a lock, a poll, input). Linux only; elsewhere it is empty.
/// </summary>
internal sealed class ThreadCpuProfile
{
    private readonly Dictionary<int, (string Name, long Ns, long WaitNs)> _start;
    private readonly long _startTicks = System.Diagnostics.Stopwatch.GetTimestamp();
    private readonly TimeSpan _gcPause;
    private readonly int[] _collections;
    private readonly long _allocated;
    private readonly TimeSpan _processCpu;

    private ThreadCpuProfile()
    {
        _processCpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        _start = Snapshot();
        _gcPause = GC.GetTotalPauseDuration();
        _collections = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
        _allocated = GC.GetTotalAllocatedBytes(false);
    }

    /// <summary>Takes the starting snapshot.</summary>
    public static ThreadCpuProfile Start() => new();

    /// <summary>
    /// CPU ns per thread group since <see cref="Start"/>. Threads that ended in between (a pipeline's workers end with their
    /// run, before the snapshot) have no <c>/proc</c> entry left: their CPU is the process's CPU time less the live threads',
    /// shown as the group <see cref="EndedThreads"/>.
    /// </summary>
    public Result Stop()
    {
        var end = Snapshot();
        var processNs = (long)(System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - _processCpu).TotalNanoseconds;
        var wallNs = (long)System.Diagnostics.Stopwatch.GetElapsedTime(_startTicks).TotalNanoseconds;
        var groups = new Dictionary<string, long>(StringComparer.Ordinal);
        var waits = new Dictionary<string, long>(StringComparer.Ordinal);
        var threads = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (tid, (name, ns, waitNs)) in end)
        {
            var known = _start.TryGetValue(tid, out var s) && s.Name == name;
            var group = Group(name);
            groups[group] = groups.GetValueOrDefault(group) + (ns - (known ? s.Ns : 0));
            waits[group] = waits.GetValueOrDefault(group) + (waitNs - (known ? s.WaitNs : 0));
            threads[group] = threads.GetValueOrDefault(group) + 1;
        }

        // The process figure counts in clock ticks (10 ms); a remainder under two ticks is rounding, not a thread.
        var ended = processNs - groups.Values.Sum();
        if (ended > 20_000_000) groups[EndedThreads] = ended;

        var gc = GC.GetTotalPauseDuration() - _gcPause;
        int[] collections = [GC.CollectionCount(0) - _collections[0], GC.CollectionCount(1) - _collections[1], GC.CollectionCount(2) - _collections[2]];
        return new Result(groups, gc, collections) { AllocatedBytes = GC.GetTotalAllocatedBytes(false) - _allocated, WallNs = wallNs, RunQueueNs = waits, Threads = threads };
    }

    /// <summary>The group of threads that ended inside the window (by the process's CPU time; see <see cref="Stop"/>).</summary>
    public const string EndedThreads = "(ended threads)";

    /// <summary>Thread names with their numbers dropped (<c>rdk:broker3</c> → <c>rdk:broker</c>), so like threads add up.</summary>
    private static string Group(string name)
    {
        var trimmed = name.TrimEnd();
        var end = trimmed.Length;
        while (end > 0 && (char.IsAsciiDigit(trimmed[end - 1]) || trimmed[end - 1] == '-' || trimmed[end - 1] == '#')) end--;
        return end == 0 ? trimmed : trimmed[..end];
    }

    /// <summary>CPU ns and run-queue wait ns so far per thread id, with the thread's name.</summary>
    internal static Dictionary<int, (string Name, long Ns, long WaitNs)> Snapshot()
    {
        var map = new Dictionary<int, (string Name, long Ns, long WaitNs)>();
        const string root = "/proc/self/task";
        if (!Directory.Exists(root)) return map;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            try
            {
                var tid = int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture);
                var sched = File.ReadAllText(Path.Combine(dir, "schedstat"));
                // "on-CPU ns, runnable-waiting ns, timeslices".
                var first = sched.IndexOf(' ');
                var second = sched.IndexOf(' ', first + 1);
                var ns = long.Parse(sched.AsSpan(0, first), CultureInfo.InvariantCulture);
                var waitNs = long.Parse(sched.AsSpan(first + 1, second - first - 1), CultureInfo.InvariantCulture);
                var name = File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd('\n');
                map[tid] = (name, ns, waitNs);
            }
            catch (IOException)
            {
                // The thread ended between listing and reading.
            }
            catch (FormatException)
            {
            }
        }

        return map;
    }

    /// <summary>One run's CPU by thread group, GC pause and collections.</summary>
    /// <param name="Groups">CPU ns per thread group.</param>
    /// <param name="GcPause">Time the runtime was paused for GC.</param>
    /// <param name="Collections">Gen0, gen1, gen2 collections.</param>
    public sealed record Result(Dictionary<string, long> Groups, TimeSpan GcPause, int[] Collections)
    {
        /// <summary>Bytes allocated on the managed heap in between (all threads).</summary>
        public long AllocatedBytes { get; init; }

        /// <summary>All threads' CPU ns.</summary>
        public long TotalNs => Groups.Values.Sum();

        /// <summary>Wall-clock ns of the window.</summary>
        public long WallNs { get; init; }

        /// <summary>Ns per thread group runnable but waiting for a CPU (the machine's load, not our waits).</summary>
        public Dictionary<string, long> RunQueueNs { get; init; } = [];

        /// <summary>Threads per group alive at the end of the window.</summary>
        public Dictionary<string, int> Threads { get; init; } = [];

        /// <summary>Cores the process used on average over the window (all threads' CPU time ÷ wall time).</summary>
        public double CoresUsed => WallNs > 0 ? (double)TotalNs / WallNs : 0;

        /// <summary>Cores' worth of time the process's threads were runnable but not running (waiting for a CPU).</summary>
        public double CoresWaitingForCpu => WallNs > 0 ? (double)RunQueueNs.Values.Sum() / WallNs : 0;

        /// <summary>
        /// Fractions of the window one thread group spent on a CPU, runnable waiting for one, and blocked (the rest: waiting
        /// on a lock, a poll, input), per thread of the group (so the three add up to 1 for a single thread).
        /// </summary>
        public (double Running, double Runnable, double Blocked) Split(string group)
        {
            if (WallNs <= 0 || !Threads.TryGetValue(group, out var n) || n == 0) return (0, 0, 0);
            var run = (double)Groups.GetValueOrDefault(group) / WallNs / n;
            var wait = (double)RunQueueNs.GetValueOrDefault(group) / WallNs / n;
            return (run, wait, Math.Max(0, 1 - run - wait));
        }

        /// <summary>One line: cores used, cores' worth waiting for a CPU, and the consumer thread's split.</summary>
        public string FormatWall(string consumerThread) =>
            string.Create(CultureInfo.InvariantCulture, $"process used {CoresUsed:0.00} of {Environment.ProcessorCount} cores, waited for a CPU {CoresWaitingForCpu:0.00} cores' worth")
            + (Threads.ContainsKey(consumerThread) ? string.Create(CultureInfo.InvariantCulture, $"; {consumerThread} running {Split(consumerThread).Running:P0}, runnable {Split(consumerThread).Runnable:P0}, blocked {Split(consumerThread).Blocked:P0}") : "");

        /// <summary>One line per group with its µs per event, largest first.</summary>
        public string Format(long events) =>
            string.Join("; ", Groups.Where(g => g.Value > 0).OrderByDescending(g => g.Value).Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key} {g.Value / 1e3 / events:N2}")))
            + string.Create(CultureInfo.InvariantCulture, $" | total {TotalNs / 1e3 / events:N2} µs/event; GC pause {GcPause.TotalMilliseconds:N0} ms ({GcPause.TotalMicroseconds / events:N2} µs/event), gen0/1/2 {Collections[0]}/{Collections[1]}/{Collections[2]}, allocated {(double)AllocatedBytes / events:N0} B/event");

        private JsonObject RunQueue(long events)
        {
            var o = new JsonObject();
            foreach (var (k, v) in RunQueueNs.Where(g => g.Value > 0).OrderByDescending(g => g.Value)) o[k] = Math.Round(v / 1e3 / events, 3);
            return o;
        }

        /// <summary>The same as JSON (µs per event per group).</summary>
        public JsonObject ToJson(long events)
        {
            var groups = new JsonObject();
            foreach (var (k, v) in Groups.Where(g => g.Value > 0).OrderByDescending(g => g.Value)) groups[k] = Math.Round(v / 1e3 / events, 3);
            return new JsonObject
            {
                ["cpu_us_per_event_by_thread"] = groups,
                ["cpu_us_per_event"] = Math.Round(TotalNs / 1e3 / events, 3),
                ["gc_pause_ms"] = Math.Round(GcPause.TotalMilliseconds, 1),
                ["gc_collections"] = new JsonArray(Collections[0], Collections[1], Collections[2]),
                ["allocated_bytes_per_event"] = Math.Round((double)AllocatedBytes / events, 1),
                ["wall_s"] = Math.Round(WallNs / 1e9, 3),
                ["cores_used"] = Math.Round(CoresUsed, 3),
                ["cores_waiting_for_cpu"] = Math.Round(CoresWaitingForCpu, 3),
                ["run_queue_us_per_event_by_thread"] = RunQueue(events),
            };
        }
    }
}
