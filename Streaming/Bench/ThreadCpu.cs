using System.Globalization;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// CPU time per thread of this process from <c>/proc/self/task</c> (Linux; empty elsewhere), so a bench can say which thread
/// (a worker, the consumer, a librdkafka broker or mock-cluster thread) used the cores during a window.
/// </summary>
internal static class ThreadCpu
{
    /// <summary>CPU seconds so far per thread id, with the thread's name.</summary>
    public static Dictionary<int, (string Name, double Seconds)> Snapshot()
    {
        var result = new Dictionary<int, (string, double)>();
        const string root = "/proc/self/task";
        if (!Directory.Exists(root)) return result;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                // Fields after the name (which may hold spaces) start after the last ')': state is field 3, utime 14, stime 15.
                var close = stat.LastIndexOf(')');
                var open = stat.IndexOf('(', StringComparison.Ordinal);
                var fields = stat[(close + 2)..].Split(' ');
                var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                result[int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture)] = (stat[(open + 1)..close], ticks / 100.0);
            }
            catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException or UnauthorizedAccessException)
            {
                // The thread ended between listing and reading: it is left out.
            }
        }

        return result;
    }

    /// <summary>"thread/process" cores between two snapshots for threads named <paramref name="name"/>.</summary>
    public static string Cores(Dictionary<int, (string Name, double Seconds)> before, Dictionary<int, (string Name, double Seconds)> after, double seconds, string name)
    {
        double named = 0, all = 0;
        foreach (var (tid, (n, cpu)) in after)
        {
            var used = cpu - (before.TryGetValue(tid, out var b) ? b.Seconds : 0);
            all += used;
            if (n == name) named += used;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{named / seconds:0.00}/{all / seconds:0.00}");
    }

    /// <summary>The busiest thread names between two snapshots, as "name cores" over <paramref name="seconds"/>, and the process total.</summary>
    public static string Busiest(Dictionary<int, (string Name, double Seconds)> before, Dictionary<int, (string Name, double Seconds)> after, double seconds, int top = 6)
    {
        if (after.Count == 0 || seconds <= 0) return "thread cpu n/a";
        var used = after.Select(kv => (kv.Value.Name, Cpu: kv.Value.Seconds - (before.TryGetValue(kv.Key, out var b) ? b.Seconds : 0)))
            .GroupBy(t => t.Name).Select(g => (Name: g.Key, Cpu: g.Sum(t => t.Cpu), Threads: g.Count())).OrderByDescending(t => t.Cpu).ToList();
        var total = used.Sum(t => t.Cpu) / seconds;
        return string.Create(CultureInfo.InvariantCulture, $"process {total:0.00} cores; busiest threads (cores): ")
            + string.Join(", ", used.Take(top).Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Name}{(t.Threads > 1 ? $"×{t.Threads}" : "")} {t.Cpu / seconds:0.00}")));
    }
}
