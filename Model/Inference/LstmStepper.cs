using System.Runtime.Intrinsics;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;

namespace StreamLstm.Model.Inference;

/// <summary>
/// The hot path: advances a list of slots by one time step in place and writes μ and log σ for each.
/// Packs the weights once at construction; <see cref="Step"/> allocates nothing. Results are bit-identical
/// whatever the thread count. One stepper per worker thread (it owns scratch buffers).
/// </summary>
public sealed unsafe class LstmStepper : IDisposable
{
    /// <summary>Below this many slots per thread a batch runs on the caller's thread only.</summary>
    public const int MinSlotsPerThread = 64;

    private readonly VectorPack _pack;
    private readonly float[][] _scratch;
    private readonly StepWorkers? _workers;

    /// <summary>Packs <paramref name="model"/>'s weights for batches of up to <paramref name="maxBatch"/> slots.</summary>
    /// <param name="model">Model (its arrays are copied).</param>
    /// <param name="maxBatch">Largest batch <see cref="Step"/> will be given.</param>
    /// <param name="threads">Threads used for large batches (1 = caller's thread only).</param>
    public LstmStepper(LstmModel model, int maxBatch, int threads = 1)
        : this(model, maxBatch, threads, StepKernelKind.Auto)
    {
    }

    /// <summary>Packs <paramref name="model"/>'s weights for a given kernel.</summary>
    /// <param name="model">Model (its arrays are copied).</param>
    /// <param name="maxBatch">Largest batch <see cref="Step"/> will be given.</param>
    /// <param name="threads">Threads used for large batches (1 = caller's thread only).</param>
    /// <param name="kernel">Kernel; <see cref="StepKernelKind.Auto"/> picks the widest the hardware accelerates.</param>
    public LstmStepper(LstmModel model, int maxBatch, int threads, StepKernelKind kernel)
        : this(model, maxBatch, threads, kernel, WeightPrecision.Float32)
    {
    }

    /// <summary>Packs <paramref name="model"/>'s weights for a given kernel and weight precision.</summary>
    /// <param name="model">Model (its arrays are copied).</param>
    /// <param name="maxBatch">Largest batch <see cref="Step"/> will be given.</param>
    /// <param name="threads">Threads used for large batches (1 = caller's thread only).</param>
    /// <param name="kernel">Kernel; <see cref="StepKernelKind.Auto"/> picks the widest the hardware accelerates.</param>
    /// <param name="precision">
    /// How gate weights are stored. <see cref="WeightPrecision.BFloat16"/> halves the bytes the one-key path streams and
    /// changes results (every batch size computes with the same rounded weights, so results stay independent of the
    /// batch split and thread count).
    /// </param>
    public LstmStepper(LstmModel model, int maxBatch, int threads, StepKernelKind kernel, WeightPrecision precision)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBatch);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        if (kernel == StepKernelKind.Auto) kernel = StepKernels.Best;
        if (!StepKernels.IsSupported(kernel)) throw new PlatformNotSupportedException($"Kernel {kernel} is not hardware-accelerated here.");
        Config = model.Config;
        MaxBatch = maxBatch;
        Threads = threads;
        Kernel = kernel;
        if (!Enum.IsDefined(precision)) throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown weight precision.");
        Precision = precision;
        _pack = new VectorPack(model, Lanes(kernel), RowGroup(kernel), precision);
        var scratchSize = kernel switch
        {
            StepKernelKind.Vector512 => StepKernel<Vec512Ops, Vector512<float>>.ScratchSize(_pack),
            StepKernelKind.Vector256 => StepKernel<Vec256Ops, Vector256<float>>.ScratchSize(_pack),
            StepKernelKind.Vector128 => StepKernel<Vec128Ops, Vector128<float>>.ScratchSize(_pack),
            _ => StepKernel<ScalarOps, float>.ScratchSize(_pack),
        };
        _scratch = new float[threads][];
        for (var t = 0; t < threads; t++) _scratch[t] = new float[scratchSize];
        if (threads > 1) _workers = new StepWorkers(threads - 1, RunPart);
    }

    /// <summary>The model's sizes.</summary>
    public LstmConfig Config { get; }

    /// <summary>Largest batch accepted by <see cref="Step"/>.</summary>
    public int MaxBatch { get; }

    /// <summary>Threads used for large batches.</summary>
    public int Threads { get; }

    /// <summary>The kernel in use.</summary>
    public StepKernelKind Kernel { get; }

    /// <summary>How the gate weights are stored.</summary>
    public WeightPrecision Precision { get; }

    /// <summary>
    /// Advances <paramref name="slots"/> (B distinct slots) by one step.
    /// </summary>
    /// <param name="slab">State storage.</param>
    /// <param name="slots">B slot indices.</param>
    /// <param name="x">Inputs, <c>[B, I]</c> row-major.</param>
    /// <param name="mu">Output means, <c>[B, K]</c>.</param>
    /// <param name="logSigma">Output log standard deviations, <c>[B, K]</c>.</param>
    public void Step(StateSlab slab, ReadOnlySpan<int> slots, ReadOnlySpan<float> x, Span<float> mu, Span<float> logSigma)
    {
        ArgumentNullException.ThrowIfNull(slab);
        var cfg = Config;
        var b = slots.Length;
        if (b > MaxBatch) throw new ArgumentException($"Batch of {b} exceeds the stepper's maximum {MaxBatch}.", nameof(slots));
        if (slab.Layers != cfg.Layers || slab.Hidden != cfg.HiddenSize)
        {
            throw new ArgumentException($"Slab is {slab.Layers}x{slab.Hidden}, model is {cfg.Layers}x{cfg.HiddenSize}.", nameof(slab));
        }

        if (x.Length < b * cfg.InputSize) throw new ArgumentException($"x needs {b * cfg.InputSize} values.", nameof(x));
        if (mu.Length < b * cfg.Horizons) throw new ArgumentException($"mu needs {b * cfg.Horizons} values.", nameof(mu));
        if (logSigma.Length < b * cfg.Horizons) throw new ArgumentException($"logSigma needs {b * cfg.Horizons} values.", nameof(logSigma));
        for (var s = 0; s < b; s++)
        {
            if (!slab.IsAllocated(slots[s])) throw new ArgumentException($"Slot {slots[s]} (batch row {s}) is not allocated.", nameof(slots));
        }

        // Every slot stepped changes: mark it for the next checkpoint (on the caller's thread; the slab is not thread-safe).
        for (var s = 0; s < b; s++) slab.MarkDirty(slots[s]);

        var parts = _workers is null ? 1 : Math.Min(Threads, b / MinSlotsPerThread);
        if (parts <= 1)
        {
            RunRange(slab, slots, x, mu, logSigma, _scratch[0]);
            return;
        }

        fixed (int* ps = slots)
        fixed (float* px = x, pm = mu, pl = logSigma)
        {
            _job = new Job(slab, ps, px, pm, pl, b, parts);
            var workers = _workers!;
            workers.Run(parts - 1);
            try
            {
                RunPart(0);
            }
            finally
            {
                workers.Wait();
                _job = default;
            }
        }
    }

    /// <summary>Bytes allocated so far on the worker threads (tests).</summary>
    internal long WorkerAllocatedBytes => _workers?.AllocatedBytes ?? 0;

    /// <summary>Batch parts run on worker threads so far (tests).</summary>
    internal long WorkerParts => _workers?.PartsRun ?? 0;

    /// <summary>Stops the worker threads (only used when <see cref="Threads"/> &gt; 1).</summary>
    public void Dispose() => _workers?.Dispose();

    private Job _job;

    private readonly struct Job(StateSlab slab, int* slots, float* x, float* mu, float* logSigma, int batch, int parts)
    {
        public readonly StateSlab Slab = slab;
        public readonly int* Slots = slots;
        public readonly float* X = x;
        public readonly float* Mu = mu;
        public readonly float* LogSigma = logSigma;
        public readonly int Batch = batch;
        public readonly int Parts = parts;
    }

    private void RunPart(int part)
    {
        var j = _job;
        // Contiguous ranges; each slot's arithmetic is the same in any range, so the split never changes results.
        var start = (int)((long)j.Batch * part / j.Parts);
        var end = (int)((long)j.Batch * (part + 1) / j.Parts);
        int inp = Config.InputSize, k = Config.Horizons;
        RunRange(j.Slab, new ReadOnlySpan<int>(j.Slots + start, end - start), new ReadOnlySpan<float>(j.X + start * inp, (end - start) * inp),
            new Span<float>(j.Mu + start * k, (end - start) * k), new Span<float>(j.LogSigma + start * k, (end - start) * k), _scratch[part]);
    }

    private void RunRange(StateSlab slab, ReadOnlySpan<int> slots, ReadOnlySpan<float> x, Span<float> mu, Span<float> logSigma, float[] scratch)
    {
        // One generic kernel; the JIT specialises it per operations struct.
        switch (Kernel)
        {
            case StepKernelKind.Vector512:
                StepKernel<Vec512Ops, Vector512<float>>.Run(_pack, slab, slots, x, mu, logSigma, scratch);
                break;
            case StepKernelKind.Vector256:
                StepKernel<Vec256Ops, Vector256<float>>.Run(_pack, slab, slots, x, mu, logSigma, scratch);
                break;
            case StepKernelKind.Vector128:
                StepKernel<Vec128Ops, Vector128<float>>.Run(_pack, slab, slots, x, mu, logSigma, scratch);
                break;
            default:
                StepKernel<ScalarOps, float>.Run(_pack, slab, slots, x, mu, logSigma, scratch);
                break;
        }
    }

    private static int RowGroup(StepKernelKind kernel) => kernel switch
    {
        StepKernelKind.Vector512 => StepKernel<Vec512Ops, Vector512<float>>.RowGroup,
        StepKernelKind.Vector256 => StepKernel<Vec256Ops, Vector256<float>>.RowGroup,
        StepKernelKind.Vector128 => StepKernel<Vec128Ops, Vector128<float>>.RowGroup,
        _ => StepKernel<ScalarOps, float>.RowGroup,
    };

    private static int Lanes(StepKernelKind kernel) => kernel switch
    {
        StepKernelKind.Vector512 => Vec512Ops.Lanes,
        StepKernelKind.Vector256 => Vec256Ops.Lanes,
        StepKernelKind.Vector128 => Vec128Ops.Lanes,
        _ => ScalarOps.Lanes,
    };
}
