namespace StreamLstm.Model.Inference;

/// <summary>
/// Persistent background threads that each run one part of a batch when signalled: no allocation per batch
/// (unlike Parallel.For). Part 0 runs on the caller; worker w runs part w + 1.
/// </summary>
internal sealed class StepWorkers : IDisposable
{
    private readonly Action<int> _work;
    private readonly ManualResetEventSlim[] _start;
    private readonly CountdownEvent _done = new(1);
    private readonly Thread[] _threads;
    private volatile bool _stop;
    private Exception? _error;

    public StepWorkers(int count, Action<int> work)
    {
        _work = work;
        _start = new ManualResetEventSlim[count];
        _threads = new Thread[count];
        for (var i = 0; i < count; i++)
        {
            _start[i] = new ManualResetEventSlim(false, spinCount: 2000);
            var index = i;
            _threads[i] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"lstm-step-{i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>Starts parts 1..<paramref name="parts"/> on workers.</summary>
    public void Run(int parts)
    {
        _done.Reset(parts);
        for (var i = 0; i < parts; i++) _start[i].Set();
    }

    /// <summary>Waits for the parts started by <see cref="Run"/>.</summary>
    public void Wait()
    {
        _done.Wait();
        var e = Interlocked.Exchange(ref _error, null);
        if (e is not null) throw new InvalidOperationException("A step worker failed.", e);
    }

    public void Dispose()
    {
        _stop = true;
        foreach (var s in _start) s.Set();
        foreach (var t in _threads) t.Join();
        foreach (var s in _start) s.Dispose();
        _done.Dispose();
    }

    private void Loop(int index)
    {
        while (true)
        {
            _start[index].Wait();
            _start[index].Reset();
            if (_stop) return;
            try
            {
                _work(index + 1);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }
            finally
            {
                _done.Signal();
            }
        }
    }
}
