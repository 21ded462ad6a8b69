using System.Runtime.InteropServices;

namespace StreamLstm.Streaming.Online.Scheduling;

/// <summary>How far the trainer threads step back from the serving threads (<c>Online:TrainerPriority</c>).</summary>
public enum TrainerPriority
{
    /// <summary>Linux <c>SCHED_IDLE</c>: the thread runs only when a core would otherwise be idle (falls back to nice 19).</summary>
    Idle,

    /// <summary>Nice 19 (the lowest normal-policy priority): a small share of a core when serving threads want it.</summary>
    Low,

    /// <summary>Left as the runtime made it.</summary>
    Normal,
}

/// <summary>What <see cref="ThreadScheduling.LowerCurrentThread"/> did to the calling thread.</summary>
/// <param name="Requested">The setting.</param>
/// <param name="Applied">What holds now: <c>SCHED_IDLE</c>, <c>nice 19</c> or <c>none</c>.</param>
/// <param name="Policy">The thread's Linux scheduling policy read back (<c>sched_getscheduler</c>; -1 elsewhere).</param>
/// <param name="Nice">The thread's nice value read back (<c>getpriority</c>; 0 elsewhere).</param>
/// <param name="ThreadId">The kernel thread id (<c>gettid</c>; 0 elsewhere).</param>
/// <param name="Note">Why something requested was not applied (empty when all was).</param>
public sealed record AppliedPriority(TrainerPriority Requested, string Applied, int Policy, int Nice, int ThreadId, string Note)
{
    /// <summary>One line for the log.</summary>
    /// <returns>The description.</returns>
    public override string ToString() =>
        $"{Requested.ToString().ToLowerInvariant()} -> {Applied} (tid {ThreadId}, policy {ThreadScheduling.PolicyName(Policy)}, nice {Nice}){(Note.Length > 0 ? "; " + Note : "")}";
}

/// <summary>
/// Lowers the calling thread's scheduling priority through the Linux scheduler. .NET's <see cref="Thread.Priority"/> does
/// nothing for an unprivileged process on Linux, but any thread may lower its own priority: <c>SCHED_IDLE</c>
/// (<c>sched_setscheduler</c> on the thread's own id) or nice 19 (<c>setpriority(PRIO_PROCESS, tid, 19)</c>; on Linux the
/// nice value is per thread). A no-op on other systems. Lowering cannot be undone without privileges, so use it only on
/// threads that stay trainer threads.
/// </summary>
public static partial class ThreadScheduling
{
    /// <summary>Linux <c>SCHED_OTHER</c>.</summary>
    public const int SchedOther = 0;

    /// <summary>Linux <c>SCHED_BATCH</c>.</summary>
    public const int SchedBatch = 3;

    /// <summary>Linux <c>SCHED_IDLE</c>.</summary>
    public const int SchedIdle = 5;

    private const int PrioProcess = 0;
    private const int LowestNice = 19;

    /// <summary>Applies <paramref name="priority"/> to the calling thread and reads back what holds.</summary>
    /// <param name="priority">The setting.</param>
    /// <returns>What was applied.</returns>
    public static AppliedPriority LowerCurrentThread(TrainerPriority priority)
    {
        if (!OperatingSystem.IsLinux()) return new AppliedPriority(priority, "none", -1, 0, 0, priority == TrainerPriority.Normal ? "" : "not Linux: left as is");
        var tid = GetTid();
        var note = "";
        if (priority == TrainerPriority.Idle)
        {
            // sched_param is one int (the static priority, 0 for SCHED_IDLE).
            var param = 0;
            if (SchedSetScheduler(tid, SchedIdle, ref param) != 0) note = $"SCHED_IDLE refused (errno {Marshal.GetLastPInvokeError()}), nice 19 instead";
        }

        var (policy, nice) = ReadThread(tid);
        if (priority != TrainerPriority.Normal && policy != SchedIdle && nice < LowestNice && SetPriority(PrioProcess, tid, LowestNice) != 0)
        {
            note += (note.Length > 0 ? "; " : "") + $"nice 19 refused (errno {Marshal.GetLastPInvokeError()})";
        }

        (policy, nice) = ReadThread(tid);
        var applied = policy == SchedIdle ? "SCHED_IDLE" : nice >= LowestNice ? "nice 19" : "none";
        return new AppliedPriority(priority, applied, policy, nice, tid, note);
    }

    /// <summary>The calling thread's kernel id, scheduling policy and nice value (Linux; elsewhere (0, -1, 0)).</summary>
    /// <returns>Thread id, policy, nice.</returns>
    public static (int ThreadId, int Policy, int Nice) ReadCurrentThread()
    {
        if (!OperatingSystem.IsLinux()) return (0, -1, 0);
        var tid = GetTid();
        var (policy, nice) = ReadThread(tid);
        return (tid, policy, nice);
    }

    /// <summary>A policy's name.</summary>
    /// <param name="policy">Linux policy number.</param>
    /// <returns>The name.</returns>
    public static string PolicyName(int policy) => policy switch
    {
        SchedOther => "SCHED_OTHER",
        SchedBatch => "SCHED_BATCH",
        SchedIdle => "SCHED_IDLE",
        -1 => "n/a",
        _ => policy.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static (int Policy, int Nice) ReadThread(int tid)
    {
        var policy = SchedGetScheduler(tid);
        // getpriority may return -1 as a valid value: errno (cleared by the stub) tells the error apart.
        var nice = GetPriority(PrioProcess, tid);
        if (nice == -1 && Marshal.GetLastPInvokeError() != 0) nice = 0;
        return (policy, nice);
    }

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SchedSetScheduler(int pid, int policy, ref int param);

    [LibraryImport("libc", EntryPoint = "sched_getscheduler", SetLastError = true)]
    private static partial int SchedGetScheduler(int pid);

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int prio);

    [LibraryImport("libc", EntryPoint = "getpriority", SetLastError = true)]
    private static partial int GetPriority(int which, int who);
}
