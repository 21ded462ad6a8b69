using System.Globalization;
using System.Text.Json.Nodes;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// CPU time per thread of this process, from <c>/proc/self/task/*/schedstat</c> (nanoseconds on the CPU) and <c>comm</c>
/// (the thread's name, 15 characters): two snapshots give where a run's CPU went — our named threads, the thread pool
/// (workers), librdkafka's <c>rdk:*</c> threads (client and mock broker), the GC. Linux only; elsewhere it is empty.
/// </summary>
internal sealed class ThreadCpuProfile
{
    private readonly Dictionary<int, (string Name, long Ns)> _start;
    private readonly TimeSpan _gcPause;
    private readonly int[] _collections;
    private readonly long _allocated;

    private ThreadCpuProfile()
    {
        _start = Snapshot();
        _gcPause = GC.GetTotalPauseDuration();
        _collections = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
        _allocated = GC.GetTotalAllocatedBytes(false);
    }

    /// <summary>Takes the starting snapshot.</summary>
    public static ThreadCpuProfile Start() => new();

    /// <summary>CPU ns per thread group since <see cref="Start"/> (threads that ended in between are not counted).</summary>
    public Result Stop()
    {
        var end = Snapshot();
        var groups = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (tid, (name, ns)) in end)
        {
            var before = _start.TryGetValue(tid, out var s) && s.Name == name ? s.Ns : 0;
            var group = Group(name);
            groups[group] = groups.GetValueOrDefault(group) + (ns - before);
        }

        var gc = GC.GetTotalPauseDuration() - _gcPause;
        int[] collections = [GC.CollectionCount(0) - _collections[0], GC.CollectionCount(1) - _collections[1], GC.CollectionCount(2) - _collections[2]];
        return new Result(groups, gc, collections) { AllocatedBytes = GC.GetTotalAllocatedBytes(false) - _allocated };
    }

    /// <summary>Thread names with their numbers dropped (<c>rdk:broker3</c> → <c>rdk:broker</c>), so like threads add up.</summary>
    private static string Group(string name)
    {
        var trimmed = name.TrimEnd();
        var end = trimmed.Length;
        while (end > 0 && (char.IsAsciiDigit(trimmed[end - 1]) || trimmed[end - 1] == '-' || trimmed[end - 1] == '#')) end--;
        return end == 0 ? trimmed : trimmed[..end];
    }

    /// <summary>CPU ns so far per thread id, with the thread's name.</summary>
    internal static Dictionary<int, (string Name, long Ns)> Snapshot()
    {
        var map = new Dictionary<int, (string Name, long Ns)>();
        const string root = "/proc/self/task";
        if (!Directory.Exists(root)) return map;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            try
            {
                var tid = int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture);
                var sched = File.ReadAllText(Path.Combine(dir, "schedstat"));
                var ns = long.Parse(sched.AsSpan(0, sched.IndexOf(' ')), CultureInfo.InvariantCulture);
                var name = File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd('\n');
                map[tid] = (name, ns);
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

        /// <summary>One line per group with its µs per event, largest first.</summary>
        public string Format(long events) =>
            string.Join("; ", Groups.Where(g => g.Value > 0).OrderByDescending(g => g.Value).Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key} {g.Value / 1e3 / events:N2}")))
            + string.Create(CultureInfo.InvariantCulture, $" | total {TotalNs / 1e3 / events:N2} µs/event; GC pause {GcPause.TotalMilliseconds:N0} ms ({GcPause.TotalMicroseconds / events:N2} µs/event), gen0/1/2 {Collections[0]}/{Collections[1]}/{Collections[2]}, allocated {(double)AllocatedBytes / events:N0} B/event");

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
            };
        }
    }
}
