using System.Collections.Concurrent;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>
/// A dedicated thread that runs one worker's async loop, with a <see cref="SynchronizationContext"/> that brings every
/// continuation of that loop back to it. Without it, a worker's loop moved onto a thread-pool thread at its first real
/// wait and kept that thread for as long as its lane had input: two saturated workers on two cores held the pool's whole
/// default minimum, and every other piece of pool work (the durability barrier's flush, timers, output continuations, the
/// host) waited up to a second for the pool to add a thread. The worker's own awaits use <c>ConfigureAwait(true)</c>;
/// code it calls keeps <c>ConfigureAwait(false)</c> and only borrows a pool thread for its own continuation.
/// </summary>
internal sealed class WorkerThread : SynchronizationContext
{
    private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _queue = [];

    private WorkerThread()
    {
    }

    /// <summary>Starts <paramref name="body"/> on a new background thread named <paramref name="name"/>.</summary>
    /// <param name="name">Thread name.</param>
    /// <param name="body">The loop.</param>
    /// <returns>Completes (or faults, or is cancelled) as <paramref name="body"/>'s task does, after the thread ran its last continuation.</returns>
    public static Task Run(string name, Func<Task> body)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var context = new WorkerThread();
        var thread = new Thread(() => context.Pump(body, done)) { IsBackground = true, Name = name };
        thread.Start();
        return done.Task;
    }

    /// <inheritdoc />
    public override void Post(SendOrPostCallback d, object? state)
    {
        // After the loop ended nothing of it is left to run here: a late continuation of code that captured this context
        // runs on the pool instead.
        if (!_queue.IsAddingCompleted)
        {
            try
            {
                _queue.Add((d, state));
                return;
            }
            catch (InvalidOperationException)
            {
            }
        }

        ThreadPool.UnsafeQueueUserWorkItem(s => d(s), state, preferLocal: false);
    }

    /// <inheritdoc />
    public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException("A worker thread only takes posted work.");

    /// <inheritdoc />
    public override SynchronizationContext CreateCopy() => this;

    private void Pump(Func<Task> body, TaskCompletionSource done)
    {
        SetSynchronizationContext(this);
        Task task;
        try
        {
            task = body();
        }
        catch (Exception ex)
        {
            done.SetException(ex);
            return;
        }

        _ = task.ContinueWith(_ => _queue.CompleteAdding(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        foreach (var (callback, state) in _queue.GetConsumingEnumerable())
        {
            callback(state);
        }

        if (task.IsFaulted) done.SetException(task.Exception!.InnerExceptions);
        else if (task.IsCanceled) done.SetCanceled();
        else done.SetResult();
    }
}
