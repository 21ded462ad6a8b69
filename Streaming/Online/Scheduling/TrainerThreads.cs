using System.Collections.Concurrent;

namespace StreamLstm.Streaming.Online.Scheduling;

/// <summary>
/// The trainer's own threads, every one at the trainer's lowered priority (<see cref="ThreadScheduling.LowerCurrentThread"/>):
/// the threads that run fine-tunes (<see cref="Start"/>) and, as a <see cref="TaskScheduler"/>, <c>threads − 1</c> helper
/// threads for a batch's parallel chunks (<see cref="Model.Training.TrainingOptions.Scheduler"/>), so no trainer work
/// lands on the thread pool at the serving threads' priority. The helpers add the CPU time they spend to
/// <see cref="HelperCpuTime"/>, which the CPU-share cap counts with the fine-tuning thread's own.
/// </summary>
public sealed class TrainerThreads : TaskScheduler, IDisposable
{
    [ThreadStatic]
    private static TrainerThreads? s_owner;

    private readonly BlockingCollection<Task> _queue = new();
    private readonly Thread[] _helpers;
    private long _helperCpuTicks;
    private int _disposed;

    /// <summary>Starts <paramref name="threads"/> − 1 helper threads.</summary>
    /// <param name="threads">Trainer threads in all (<see cref="OnlineOptions.MaxCores"/>).</param>
    /// <param name="priority">Priority every trainer thread lowers itself to.</param>
    public TrainerThreads(int threads, TrainerPriority priority)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Priority = priority;
        _helpers = new Thread[threads - 1];
        for (var i = 0; i < _helpers.Length; i++)
        {
            _helpers[i] = new Thread(HelperLoop) { IsBackground = true, Name = $"online-trainer-{i + 1}" };
            _helpers[i].Start();
        }
    }

    /// <summary>The priority trainer threads lower themselves to.</summary>
    public TrainerPriority Priority { get; }

    /// <summary>CPU time the helper threads have spent on tasks.</summary>
    public TimeSpan HelperCpuTime => TimeSpan.FromTicks(Interlocked.Read(ref _helperCpuTicks));

    /// <inheritdoc />
    public override int MaximumConcurrencyLevel => _helpers.Length + 1;

    /// <summary>The scheduler for a fine-tune's parallel chunks (null when there are no helpers: the batch runs on the caller).</summary>
    public TaskScheduler? Scheduler => _helpers.Length > 0 ? this : null;

    /// <summary>Starts a dedicated trainer thread: it lowers its own priority, then runs <paramref name="body"/> with what was applied.</summary>
    /// <param name="body">The thread's work.</param>
    /// <param name="name">Thread name.</param>
    /// <returns>The started thread.</returns>
    public Thread Start(Action<AppliedPriority> body, string name = "online-trainer")
    {
        ArgumentNullException.ThrowIfNull(body);
        var thread = new Thread(() =>
        {
            s_owner = this;
            body(ThreadScheduling.LowerCurrentThread(Priority));
        }) { IsBackground = true, Name = name };
        thread.Start();
        return thread;
    }

    /// <inheritdoc />
    protected override void QueueTask(Task task) => _queue.Add(task);

    // A trainer thread (helper or fine-tuning thread) may run a chunk itself; any other thread queues it.
    /// <inheritdoc />
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => s_owner == this && TryExecuteTask(task);

    /// <inheritdoc />
    protected override IEnumerable<Task> GetScheduledTasks() => _queue.ToArray();

    private void HelperLoop()
    {
        s_owner = this;
        ThreadScheduling.LowerCurrentThread(Priority);
        try
        {
            foreach (var task in _queue.GetConsumingEnumerable())
            {
                var before = ThreadCpuClock.Current();
                TryExecuteTask(task);
                Interlocked.Add(ref _helperCpuTicks, (ThreadCpuClock.Current() - before).Ticks);
            }
        }
        catch (ObjectDisposedException)
        {
            // Disposed while waiting.
        }
    }

    /// <summary>Stops the helper threads once their queued chunks are done.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _queue.CompleteAdding();
        foreach (var t in _helpers) t.Join(TimeSpan.FromSeconds(10));
        _queue.Dispose();
    }
}
