using ILGPU;
using ILGPU.Runtime;

namespace StreamLstm.Model.Training.Gpu;

/// <summary>The trainer's kernels compiled for one accelerator, with launch helpers (grid sizes, split-K, the ones vector).</summary>
internal sealed class GpuKernels : IDisposable
{
    private readonly Accelerator _acc;
    private readonly Action<KernelConfig, GemmShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> _gemm;
    private readonly Action<Index1D, ArrayView<float>, int, int, ArrayView<float>, int> _sumSplits;
    private readonly Action<Index1D, StepArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> _forward;
    private readonly Action<Index1D, StepArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> _backward;
    private readonly Action<Index1D, DropoutArgs, ArrayView<float>, ArrayView<float>> _dropout;
    private readonly Action<Index1D, int, int, ArrayView<float>, ArrayView<float>> _transpose;
    private readonly Action<Index1D, NllArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> _nll;
    private readonly Action<KernelConfig, ReduceArgs, ArrayView<float>, ArrayView<double>> _reduce;
    private readonly Action<Index1D, double, ArrayView<double>> _clip;
    private readonly Action<Index1D, AdamArgs, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<double>, ArrayView<double>> _adam;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _ones;
    private MemoryBuffer1D<float, Stride1D.Dense> _partials;
    private readonly int _tile;
    private readonly int _reduceGroup;

    public GpuKernels(Accelerator accelerator)
    {
        _acc = accelerator;
        _gemm = accelerator.LoadStreamKernel<GemmShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(GemmKernel.Run);
        _sumSplits = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, int, ArrayView<float>, int>(GemmKernel.SumSplits);
        _forward = accelerator.LoadAutoGroupedStreamKernel<Index1D, StepArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(LstmKernels.Forward);
        _backward = accelerator.LoadAutoGroupedStreamKernel<Index1D, StepArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(LstmKernels.Backward);
        _transpose = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, int, ArrayView<float>, ArrayView<float>>(LstmKernels.Transpose);
        _dropout = accelerator.LoadAutoGroupedStreamKernel<Index1D, DropoutArgs, ArrayView<float>, ArrayView<float>>(LstmKernels.Dropout);
        _nll = accelerator.LoadAutoGroupedStreamKernel<Index1D, NllArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(HeadKernels.GaussianNll);
        _reduce = accelerator.LoadStreamKernel<ReduceArgs, ArrayView<float>, ArrayView<double>>(HeadKernels.Reduce);
        _clip = accelerator.LoadAutoGroupedStreamKernel<Index1D, double, ArrayView<double>>(OptimizerKernels.ClipFactor);
        _adam = accelerator.LoadAutoGroupedStreamKernel<Index1D, AdamArgs, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<double>, ArrayView<double>>(OptimizerKernels.Adam);
        _ones = accelerator.Allocate1D([1f]);
        _partials = accelerator.Allocate1D<float>(1);

        // 16×16 tiles where the device allows 256-thread groups (CUDA), else the largest square that fits (4×4 on the CPU accelerator).
        _tile = 16;
        while (_tile * _tile > accelerator.MaxNumThreadsPerGroup) _tile /= 2;
        _reduceGroup = 256;
        while (_reduceGroup > accelerator.MaxNumThreadsPerGroup) _reduceGroup /= 2;
    }

    /// <summary>A view whose every element reads as 1 (with zero strides): turns a GEMM into a column sum.</summary>
    public ArrayView<float> Ones => _ones.View;

    /// <summary>
    /// C[m·ldc + n] (+)= Σ_k A(m, k)·B(k, n), A(m, k) = a[m·aRow + k·aCol], B(k, n) = b[k·bRow + n·bCol]. Long inner
    /// dimensions with few outputs (weight gradients summed over every row and step) are split along k into slices
    /// computed in parallel and added in slice order.
    /// </summary>
    public void Gemm(int m, int n, int k, ArrayView<float> a, int aRow, int aCol, ArrayView<float> b, int bRow, int bCol,
        ArrayView<float> c, int ldc, bool accumulate)
    {
        var ts = _tile;
        var tilesM = (m + ts - 1) / ts;
        var tilesN = (n + ts - 1) / ts;
        var splits = 1;
        // Few output tiles but a long k: split so that about 1024 thread groups run, each over at least 256 k.
        while (splits < 256 && tilesM * tilesN * splits < 1024 && k / (splits * 2) >= 256) splits *= 2;
        var chunk = (k + splits - 1) / splits;
        chunk = (chunk + ts - 1) / ts * ts;
        splits = (k + chunk - 1) / chunk;
        var shape = new GemmShape
        {
            M = m, N = n, K = k, KChunk = chunk, ARow = aRow, ACol = aCol, BRow = bRow, BCol = bCol,
            Ldc = splits > 1 ? n : ldc, SplitStride = splits > 1 ? m * n : 0, Accumulate = splits > 1 ? 0 : (accumulate ? 1 : 0),
        };
        var config = new KernelConfig(new Index3D(tilesN, tilesM, splits), new Index3D(ts, ts, 1), SharedMemoryConfig.RequestDynamic<float>(2 * ts * ts));
        if (splits == 1)
        {
            _gemm(config, shape, a, b, c);
            return;
        }

        if (ldc != n) throw new ArgumentException("Split GEMMs write dense C.");
        if (_partials.Length < (long)splits * m * n)
        {
            _partials.Dispose();
            _partials = _acc.Allocate1D<float>((long)splits * m * n);
        }

        _gemm(config, shape, a, b, _partials.View);
        _sumSplits(m * n, _partials.View, splits, m * n, c, accumulate ? 1 : 0);
    }

    public void Transpose(int rows, int cols, ArrayView<float> src, ArrayView<float> dst) => _transpose(rows * cols, rows, cols, src, dst);

    public void Forward(int batch, int hidden, ArrayView<float> gates, ArrayView<float> whh, ArrayView<float> bih, ArrayView<float> bhh,
        ArrayView<float> hPrev, ArrayView<float> cPrev, ArrayView<float> hNext, ArrayView<float> cNext) =>
        _forward(batch * hidden, new StepArgs { Batch = batch, Hidden = hidden }, gates, whh, bih, bhh, hPrev, cPrev, hNext, cNext);

    public void Backward(int batch, int hidden, bool hasNext, ArrayView<float> whh, ArrayView<float> gates, ArrayView<float> cPrev, ArrayView<float> cNext,
        ArrayView<float> dHseq, ArrayView<float> dANext, ArrayView<float> dA, ArrayView<float> dc) =>
        _backward(batch * hidden, new StepArgs { Batch = batch, Hidden = hidden, HasNext = hasNext ? 1 : 0 }, whh, gates, cPrev, cNext, dHseq, dANext, dA, dc);

    public void Dropout(int count, DropoutArgs args, ArrayView<float> src, ArrayView<float> dst) => _dropout(count, args, src, dst);

    public void GaussianNll(int count, NllArgs args, ArrayView<float> output, ArrayView<float> headBias, ArrayView<float> y, ArrayView<float> mask,
        ArrayView<float> weights, ArrayView<float> loss, ArrayView<float> dOut) => _nll(count, args, output, headBias, y, mask, weights, loss, dOut);

    public void Reduce(ArrayView<float> values, int count, bool square, int slot, double scale, ArrayView<double> stats)
    {
        var config = new KernelConfig(new Index1D(1), new Index1D(_reduceGroup), SharedMemoryConfig.RequestDynamic<double>(_reduceGroup));
        _reduce(config, new ReduceArgs { Count = count, Square = square ? 1 : 0, Slot = slot, Scale = scale }, values, stats);
    }

    public void ClipFactor(double maxNorm, ArrayView<double> stats) => _clip(1, maxNorm, stats);

    public void Adam(int count, AdamArgs args, ArrayView<float> w, ArrayView<float> g, ArrayView<double> m, ArrayView<double> v, ArrayView<double> stats) =>
        _adam(count, args, w, g, m, v, stats);

    public void Dispose()
    {
        _ones.Dispose();
        _partials.Dispose();
    }
}
