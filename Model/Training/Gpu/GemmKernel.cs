using ILGPU;

namespace StreamLstm.Model.Training.Gpu;

/// <summary>Sizes and strides of one <see cref="GemmKernel.Run"/> launch (strides let one kernel read any transpose).</summary>
internal struct GemmShape
{
    /// <summary>Rows of C.</summary>
    public int M;

    /// <summary>Columns of C.</summary>
    public int N;

    /// <summary>Inner dimension.</summary>
    public int K;

    /// <summary>Inner-dimension length handled by one grid z slice (split-K).</summary>
    public int KChunk;

    /// <summary>A(m, k) = a[m·ARow + k·ACol] (both 0: A is all a[0], e.g. a ones vector).</summary>
    public int ARow;

    /// <summary>See <see cref="ARow"/>.</summary>
    public int ACol;

    /// <summary>B(k, n) = b[k·BRow + n·BCol].</summary>
    public int BRow;

    /// <summary>See <see cref="BRow"/>.</summary>
    public int BCol;

    /// <summary>Row stride of C.</summary>
    public int Ldc;

    /// <summary>Distance between the C slices of consecutive z (split-K partials; 0 without splitting).</summary>
    public int SplitStride;

    /// <summary>1: C += A·B; 0: C = A·B.</summary>
    public int Accumulate;
}

/// <summary>Our tiled single-precision GEMM and the fixed-order reduction of its split-K partials.</summary>
internal static class GemmKernel
{
    /// <summary>
    /// C = A·B (or C += A·B) with shared-memory tiles of TS×TS, TS = Group.DimX (a launch parameter: 16 on CUDA,
    /// 4 on the CPU accelerator).
    /// Indexing: Group.IdxX = column n within the tile, Group.IdxY = row m within the tile; Grid.IdxX = column tile,
    /// Grid.IdxY = row tile, Grid.IdxZ = split-K slice covering k ∈ [z·KChunk, min(K, (z+1)·KChunk)); the thread writes
    /// C[z·SplitStride + m·Ldc + n]. Each thread sums its k in increasing order, so results are deterministic.
    /// Dynamic shared memory: 2·TS² floats (the A tile, then the B tile).
    /// </summary>
    public static void Run(GemmShape s, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        var ts = Group.DimX;
        var tile = SharedMemory.GetDynamic<float>();
        int tx = Group.IdxX, ty = Group.IdxY;
        var m = Grid.IdxY * ts + ty;
        var n = Grid.IdxX * ts + tx;
        var k0 = Grid.IdxZ * s.KChunk;
        var k1 = k0 + s.KChunk < s.K ? k0 + s.KChunk : s.K;
        var bOffset = ts * ts;
        var acc = 0f;
        for (var kt = k0; kt < k1; kt += ts)
        {
            var ka = kt + tx;
            tile[ty * ts + tx] = m < s.M && ka < k1 ? a[m * s.ARow + ka * s.ACol] : 0f;
            var kb = kt + ty;
            tile[bOffset + ty * ts + tx] = n < s.N && kb < k1 ? b[kb * s.BRow + n * s.BCol] : 0f;
            Group.Barrier();
            for (var q = 0; q < ts; q++) acc += tile[ty * ts + q] * tile[bOffset + q * ts + tx];
            Group.Barrier();
        }

        if (m < s.M && n < s.N)
        {
            var at = Grid.IdxZ * s.SplitStride + m * s.Ldc + n;
            c[at] = s.Accumulate != 0 ? c[at] + acc : acc;
        }
    }

    /// <summary>
    /// dst[i] = (accumulate ? dst[i] : 0) + Σ_z parts[z·count + i], z = 0 … splits−1 in order (deterministic split-K sum).
    /// Indexing: one thread per output element i ∈ [0, count).
    /// </summary>
    public static void SumSplits(Index1D i, ArrayView<float> parts, int splits, int count, ArrayView<float> dst, int accumulate)
    {
        var sum = accumulate != 0 ? dst[i] : 0f;
        for (var z = 0; z < splits; z++) sum += parts[z * count + i];
        dst[i] = sum;
    }
}
