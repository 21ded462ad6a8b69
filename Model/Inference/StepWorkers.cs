namespace StreamLstm.Model.Inference;

/// <summary>
/// Persistent background threads that each run one part of a batch when signalled: no allocation per batch
/// (unlike Parallel.For). Part 0 runs on the caller; worker w runs part w + 1. SemaphoreSlim allocates its
/// lock object up front, so blocking waits allocate nothing later either.
/// </summary>
internal sealed class StepWorkers : IDisposable
{
    private readonly Action<int> _work;
    private readonly SemaphoreSlim[] _start;
    private readonly SemaphoreSlim _done = new(0);
    private readonly Thread[] _threads;
    private volatile bool _stop;
    private Exception? _error;
    private int _running;
    private readonly long[] _allocated;
    private long _partsRun;

    public StepWorkers(int count, Action<int> work)
    {
        _work = work;
        _start = new SemaphoreSlim[count];
        _threads = new Thread[count];
        _allocated = new long[count];
        for (var i = 0; i < count; i++)
        {
            _start[i] = new SemaphoreSlim(0);
            var index = i;
            _threads[i] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"lstm-step-{i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>Starts parts 1..<paramref name="parts"/> on workers.</summary>
    public void Run(int parts)
    {
        _running = parts;
        for (var i = 0; i < parts; i++) _start[i].Release();
    }

    /// <summary>Waits for the parts started by <see cref="Run"/>.</summary>
    public void Wait()
    {
        for (var i = 0; i < _running; i++) _done.Wait();
        _running = 0;
        var e = Interlocked.Exchange(ref _error, null);
        if (e is not null) throw new InvalidOperationException("A step worker failed.", e);
    }

    /// <summary>Bytes the worker threads have allocated so far (as of their last finished part); lets tests prove the hand-off allocates nothing.</summary>
    public long AllocatedBytes
    {
        get
        {
            long sum = 0;
            for (var i = 0; i < _allocated.Length; i++) sum += Volatile.Read(ref _allocated[i]);
            return sum;
        }
    }

    /// <summary>Parts the workers have finished (tests).</summary>
    public long PartsRun => Interlocked.Read(ref _partsRun);

    public void Dispose()
    {
        _stop = true;
        foreach (var s in _start) s.Release();
        foreach (var t in _threads) t.Join();
        foreach (var s in _start) s.Dispose();
        _done.Dispose();
    }

    private void Loop(int index)
    {
        while (true)
        {
            _start[index].Wait();
            if (_stop) return;
            try
            {
                _work(index + 1);
                _allocated[index] = GC.GetAllocatedBytesForCurrentThread();
                Interlocked.Increment(ref _partsRun);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }
            finally
            {
                _done.Release();
            }
        }
    }
}
