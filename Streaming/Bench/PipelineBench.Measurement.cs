using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Bench;

// What a run measures: its result row, worker waits, the thread-pool probe and the counting/timing outputs.
public static partial class PipelineBench
{
    private sealed record RunResult(double Seconds, double Rate, double P50, double P99, double MeanBatch, double CpuNsPerEvent = 0)
    {
        /// <summary>Where the CPU went (Kafka runs): per thread group, GC.</summary>
        public ThreadCpuProfile.Result? Profile { get; init; }

        /// <summary>Events the profile covers.</summary>
        public long ProfiledEvents { get; init; }

        /// <summary>Wall µs per event the workers spent inside each output's WriteAsync (serialize + produce calls).</summary>
        public double[] OutputUs { get; init; } = [];

        /// <summary>Wall µs per event the workers spent stepping (step + de-normalise + scoring).</summary>
        public double StepUs { get; init; }

        /// <summary>Where the pipeline waited (Kafka runs).</summary>
        public Waits? Wait { get; init; }
    }

    /// <summary>Off-CPU figures of one Kafka run.</summary>
    /// <param name="WorkerInputWait">Fraction of the workers' wall time spent waiting for input (starved).</param>
    /// <param name="InputWaits">How many times the workers found their input empty.</param>
    /// <param name="LanePauses">Consumer backpressure pauses (a lane at its capacity).</param>
    /// <param name="OutputQueueFullWait">Fraction of the workers' wall time spent waiting on a full producer queue.</param>
    /// <param name="Pool">How long a work item queued to the thread pool during the window waited for a pool thread.</param>
    private sealed record Waits(double WorkerInputWait, long InputWaits, long LanePauses, double OutputQueueFullWait, PoolProbe.Result Pool)
    {
        public string Format(ThreadCpuProfile.Result? cpu) =>
            string.Create(CultureInfo.InvariantCulture, $"workers waited for input {WorkerInputWait:P1} of their time ({InputWaits:N0} waits), on a full producer queue {OutputQueueFullWait:P1}; lane pauses {LanePauses:N0}; pool dispatch delay max {Pool.MaxMs:N1} ms, mean {Pool.MeanMs:N1} ms ({Pool.Probes} probes)")
            + (cpu is null ? "" : "; " + cpu.FormatWall("bench-consumer"));

        public JsonObject ToJson() => new()
        {
            ["worker_input_wait_fraction"] = Math.Round(WorkerInputWait, 4),
            ["worker_input_waits"] = InputWaits,
            ["lane_pauses"] = LanePauses,
            ["output_queue_full_wait_fraction"] = Math.Round(OutputQueueFullWait, 4),
            ["pool_dispatch_delay_ms_max"] = Math.Round(Pool.MaxMs, 2),
            ["pool_dispatch_delay_ms_mean"] = Math.Round(Pool.MeanMs, 2),
            ["pool_dispatch_probes"] = Pool.Probes,
        };
    }

    /// <summary>
    /// Measures how long the thread pool takes to start a queued work item: one probe at a time, queued from the window's
    /// own thread every 10 ms. Long delays mean every pool thread was held (e.g. by workers with full lanes) and
    /// the pool's other work (continuations, timers, the barrier's flush) waited for the pool to inject a thread.
    /// </summary>
    private sealed class PoolProbe
    {
        private long _queuedAt;
        private long _maxTicks;
        private long _sumTicks;
        private long _probes;

        /// <summary>Queues a probe unless one is still waiting for a thread.</summary>
        public void Tick()
        {
            if (Interlocked.Read(ref _queuedAt) != 0) return;
            Interlocked.Exchange(ref _queuedAt, Stopwatch.GetTimestamp());
            ThreadPool.UnsafeQueueUserWorkItem(static p => p.Ran(), this, preferLocal: false);
        }

        /// <summary>The figures so far; a probe still waiting counts with its delay until now.</summary>
        public Result Stop()
        {
            var queued = Interlocked.Read(ref _queuedAt);
            var pending = queued == 0 ? 0 : Stopwatch.GetTimestamp() - queued;
            var probes = Interlocked.Read(ref _probes) + (queued == 0 ? 0 : 1);
            var max = Math.Max(Interlocked.Read(ref _maxTicks), pending);
            var sum = Interlocked.Read(ref _sumTicks) + pending;
            return new Result(max * 1e3 / Stopwatch.Frequency, probes == 0 ? 0 : sum * 1e3 / Stopwatch.Frequency / probes, probes);
        }

        private void Ran()
        {
            var delay = Stopwatch.GetTimestamp() - Interlocked.Read(ref _queuedAt);
            Interlocked.Add(ref _sumTicks, delay);
            Interlocked.Increment(ref _probes);
            if (delay > Interlocked.Read(ref _maxTicks)) Interlocked.Exchange(ref _maxTicks, delay);
            Interlocked.Exchange(ref _queuedAt, 0);
        }

        /// <summary>Delay figures in milliseconds.</summary>
        public readonly record struct Result(double MaxMs, double MeanMs, long Probes);
    }

    /// <summary>The workers' input waits so far in ns, a wait in progress included up to now (Stopwatch ticks: the system clock).</summary>
    private static long InputWaitNsNow(StreamPipeline pipeline)
    {
        var now = Stopwatch.GetTimestamp();
        long ns = 0;
        foreach (var m in pipeline.Metrics)
        {
            ns += Interlocked.Read(ref m.InputWaitNs);
            var since = Volatile.Read(ref m.InputWaitSince);
            if (since != 0 && since < now) ns += (long)((now - since) * 1e9 / Stopwatch.Frequency);
        }

        return ns;
    }

    /// <summary>An output that adds up the wall time the workers spend inside it (the hand-off's own cost).</summary>
    private sealed class TimedOutput(IForecastOutput inner) : IForecastOutput
    {
        private long _ticks;

        public long Ticks => Interlocked.Read(ref _ticks);

        public async ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
        {
            var start = Stopwatch.GetTimestamp();
            await inner.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _ticks, Stopwatch.GetTimestamp() - start);
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    }

    private sealed class CountingOutput : IForecastOutput
    {
        // No spinning: the window's thread wakes every few ms to probe the pool, and a spin would show in the CPU profile.
        private readonly ManualResetEventSlim _reached = new(false, spinCount: 0);
        private long _count;
        private long _target = long.MaxValue;
        private long _reachedAt;

        public long Count => Interlocked.Read(ref _count);

        /// <summary>Stopwatch timestamp at which the last <see cref="Arm"/>ed target was reached, taken by the worker that reached it.</summary>
        public long ReachedAt => Interlocked.Read(ref _reachedAt);

        /// <summary>Sets the count <see cref="Wait"/> waits for (one waiter at a time) and forgets the last one's time.</summary>
        public void Arm(long target)
        {
            _reached.Reset();
            Interlocked.Exchange(ref _reachedAt, 0);
            Interlocked.Exchange(ref _target, target);
            if (Count >= target)
            {
                // Reached before the target was set: now is when it is known (a worker crossing it in between also writes it).
                Interlocked.CompareExchange(ref _reachedAt, Stopwatch.GetTimestamp(), 0);
                _reached.Set();
            }
        }

        /// <summary>
        /// Blocks until <see cref="Count"/> reaches the <see cref="Arm"/>ed target; false on timeout. The worker that reaches
        /// it sets the event itself, so the waiting thread is woken by the kernel, not by a thread-pool continuation that may
        /// have to wait for a free pool thread.
        /// </summary>
        public bool Wait(TimeSpan timeout, CancellationToken ct) => _reached.Wait(timeout, ct);

        public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
        {
            var count = Interlocked.Add(ref _count, batch.Count);
            var target = Interlocked.Read(ref _target);
            if (count >= target && count - batch.Count < target)
            {
                // Only the batch that crosses the target: one timestamp and one wake per target.
                Interlocked.Exchange(ref _reachedAt, Stopwatch.GetTimestamp());
                _reached.Set();
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
