namespace StreamLstm.Streaming.Online.Scheduling;

/// <summary>
/// Keeps a group of threads' CPU time at or below a number of cores. The owner calls <see cref="Throttle"/> between units
/// of work (optimizer steps); the limiter keeps a balance, <c>allowed cores × wall time − CPU time used</c>, capped at
/// <see cref="Burst"/> so idle time does not bank an unbounded burst, and when the balance is negative pauses until it is
/// back to zero. CPU time, not wall time, is what is limited: a trainer that waits for a core (the serving threads have it,
/// or it runs under <c>SCHED_IDLE</c>) is not also paused for the time it did not get.
/// </summary>
public sealed class CpuShareLimiter
{
    private readonly Func<TimeSpan> _cpuTime;
    private readonly TimeProvider _time;
    private readonly long _startWall;
    private readonly TimeSpan _startCpu;
    private long _lastWall;
    private TimeSpan _lastCpu;
    private double _balanceSeconds;

    /// <summary>Creates a limiter; time and CPU time count from now.</summary>
    /// <param name="cores">Cores' worth of CPU time allowed per second of wall time (e.g. 0.5; ≥ the thread count: no limit).</param>
    /// <param name="cpuTime">CPU time used so far by the limited threads (e.g. <see cref="ThreadCpuClock.Current"/> on the one trainer thread).</param>
    /// <param name="time">Wall clock (pauses wait on it).</param>
    /// <param name="burst">Largest balance idle time may bank (default 100 ms of CPU time).</param>
    public CpuShareLimiter(double cores, Func<TimeSpan> cpuTime, TimeProvider time, TimeSpan? burst = null)
    {
        ArgumentNullException.ThrowIfNull(cpuTime);
        ArgumentNullException.ThrowIfNull(time);
        if (!(cores > 0) || double.IsInfinity(cores)) throw new ArgumentOutOfRangeException(nameof(cores), cores, "Cores must be > 0.");
        Cores = cores;
        Burst = burst ?? TimeSpan.FromMilliseconds(100);
        _cpuTime = cpuTime;
        _time = time;
        _startWall = _lastWall = time.GetTimestamp();
        _startCpu = _lastCpu = cpuTime();
    }

    /// <summary>Cores' worth of CPU time allowed.</summary>
    public double Cores { get; }

    /// <summary>Largest banked balance.</summary>
    public TimeSpan Burst { get; }

    /// <summary>Total pause time asked for so far.</summary>
    public TimeSpan Paused { get; private set; }

    /// <summary>CPU time used since the limiter was made.</summary>
    public TimeSpan CpuTime => _cpuTime() - _startCpu;

    /// <summary>Wall time since the limiter was made.</summary>
    public TimeSpan Elapsed => _time.GetElapsedTime(_startWall);

    /// <summary>CPU time used per second of wall time since the limiter was made (cores' worth).</summary>
    public double MeasuredCores => Elapsed > TimeSpan.Zero ? CpuTime / Elapsed : 0;

    /// <summary>Accounts the CPU and wall time since the previous call and returns how long to pause now (zero: within the share).</summary>
    /// <returns>The pause.</returns>
    public TimeSpan NextPause()
    {
        var now = _time.GetTimestamp();
        var cpu = _cpuTime();
        _balanceSeconds += _time.GetElapsedTime(_lastWall, now).TotalSeconds * Cores - (cpu - _lastCpu).TotalSeconds;
        _balanceSeconds = Math.Min(_balanceSeconds, Burst.TotalSeconds);
        _lastWall = now;
        _lastCpu = cpu;
        if (_balanceSeconds >= 0) return TimeSpan.Zero;
        // Pausing for d seconds earns d·Cores: exactly the debt. The next call accounts the pause as wall time.
        var pause = TimeSpan.FromSeconds(-_balanceSeconds / Cores);
        Paused += pause;
        return pause;
    }

    /// <summary>Pauses the calling thread as long as <see cref="NextPause"/> says (returns early when cancelled).</summary>
    /// <param name="ct">Cancels the pause.</param>
    public void Throttle(CancellationToken ct)
    {
        var pause = NextPause();
        if (pause <= TimeSpan.Zero || ct.IsCancellationRequested) return;
        try
        {
            Task.Delay(pause, _time, ct).Wait(ct);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the caller checks the token.
        }
    }
}
