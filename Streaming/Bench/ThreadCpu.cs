using System.Globalization;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// CPU time per thread of this process (Linux; empty elsewhere), so a bench can say which thread
/// (a worker, the consumer, a librdkafka broker or mock-cluster thread) used the cores during a window.
/// </summary>
internal static class ThreadCpu
{
    /// <summary>CPU seconds so far per thread id, with the thread's name (read by <see cref="ThreadCpuProfile"/>).</summary>
    public static Dictionary<int, (string Name, double Seconds)> Snapshot() =>
        ThreadCpuProfile.Snapshot().ToDictionary(kv => kv.Key, kv => (kv.Value.Name, kv.Value.Ns / 1e9));

    /// <summary>"thread/process" cores between two snapshots for threads named <paramref name="name"/>.</summary>
    public static string Cores(Dictionary<int, (string Name, double Seconds)> before, Dictionary<int, (string Name, double Seconds)> after, double seconds, string name)
    {
        var (named, all) = CoreValues(before, after, seconds, name);
        return string.Create(CultureInfo.InvariantCulture, $"{named:0.00}/{all:0.00}");
    }

    /// <summary>Cores used between two snapshots by the threads named <paramref name="name"/> and by the whole process.</summary>
    public static (double Named, double Process) CoreValues(Dictionary<int, (string Name, double Seconds)> before, Dictionary<int, (string Name, double Seconds)> after, double seconds, string name)
    {
        double named = 0, all = 0;
        foreach (var (tid, (n, cpu)) in after)
        {
            var used = cpu - (before.TryGetValue(tid, out var b) ? b.Seconds : 0);
            all += used;
            if (n == name) named += used;
        }

        return (named / seconds, all / seconds);
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
