using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using StreamLstm.Model.Training.Gpu;

namespace StreamLstm.Model.Tests.Training.Gpu;

/// <summary>
/// Our tiled GEMM and the reduction on a CPU accelerator with 16-thread groups, so 4×4 tiles, partial edge tiles and
/// split-K slices are exercised (the trainer's default CPU accelerator runs 1×1 tiles).
/// </summary>
public sealed class GemmKernelTests : IDisposable
{
    private readonly ILGPU.Context _context;
    private readonly Accelerator _acc;
    private readonly GpuKernels _k;

    public GemmKernelTests()
    {
        (_context, _acc) = GpuAccelerators.OpenCpu(new CPUDevice(4, 4, 1));
        _k = new GpuKernels(_acc);
    }

    [Theory]
    [InlineData(7, 9, 5, false, false)]
    [InlineData(13, 6, 11, true, false)]
    [InlineData(3, 5, 1100, false, true)]
    [InlineData(4, 4, 2049, true, true)]
    public void Gemm_MatchesNaiveProduct_WithTransposedOperands(int m, int n, int k, bool accumulate, bool transposeA)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        var a = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var b = Enumerable.Range(0, k * n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var c0 = Enumerable.Range(0, m * n).Select(_ => (float)rng.NextDouble()).ToArray();
        // A stored [m, k] or, transposed, [k, m]; B stored transposed [n, k].
        var aStore = transposeA ? Transpose(a, m, k) : a;
        var bStore = Transpose(b, k, n);
        using var da = _acc.Allocate1D(aStore);
        using var db = _acc.Allocate1D(bStore);
        using var dc = _acc.Allocate1D(c0);
        _k.Gemm(m, n, k, da.View, transposeA ? 1 : k, transposeA ? m : 1, db.View, 1, k, dc.View, n, accumulate);
        var c = dc.GetAsArray1D();
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var expected = accumulate ? c0[i * n + j] : 0.0;
                for (var q = 0; q < k; q++) expected += (double)a[i * k + q] * b[q * n + j];
                Assert.True(Math.Abs(c[i * n + j] - expected) <= 1e-5 * Math.Max(1, Math.Sqrt(k)), $"C[{i},{j}] = {c[i * n + j]}, expected {expected}");
            }
        }
    }

    [Fact]
    public void ColumnSum_ThroughOnesVector()
    {
        const int rows = 37, cols = 6;
        var d = Enumerable.Range(0, rows * cols).Select(i => (float)(i % 7 - 3)).ToArray();
        using var dd = _acc.Allocate1D(d);
        using var dst = _acc.Allocate1D<float>(cols);
        _k.Gemm(1, cols, rows, _k.Ones, 0, 0, dd.View, cols, 1, dst.View, cols, false);
        var sums = dst.GetAsArray1D();
        for (var j = 0; j < cols; j++) Assert.Equal(Enumerable.Range(0, rows).Sum(r => d[r * cols + j]), sums[j]);
    }

    [Fact]
    public void Reduce_SumsAndSumsSquares_InFloat64()
    {
        var v = Enumerable.Range(0, 1001).Select(i => (float)(i % 13) - 6.5f).ToArray();
        using var dv = _acc.Allocate1D(v);
        using var stats = _acc.Allocate1D<double>(3);
        _k.Reduce(dv.View, v.Length, false, 0, 0.5, stats.View);
        _k.Reduce(dv.View, v.Length, true, 1, 1, stats.View);
        var s = stats.GetAsArray1D();
        Assert.Equal(v.Sum(x => (double)x) * 0.5, s[0], 9);
        Assert.Equal(v.Sum(x => (double)x * x), s[1], 9);
    }

    private static float[] Transpose(float[] src, int rows, int cols)
    {
        var t = new float[src.Length];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < cols; c++) t[c * rows + r] = src[r * cols + c];
        }

        return t;
    }

    public void Dispose()
    {
        _k.Dispose();
        _acc.Dispose();
        _context.Dispose();
    }
}
