using System.Runtime.CompilerServices;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Numerics;

namespace StreamLstm.Model.Training;

/// <summary>Outputs of a forward/backward pass besides the gradients.</summary>
/// <param name="Loss">Weighted mean Gaussian NLL (the plain mean over B·T·K without mask and weights).</param>
public sealed record BackpropResult(double Loss);

/// <summary>
/// Forward and full backward pass (backpropagation through time over the T steps given, through every layer and the head)
/// of the Gaussian NLL, over a batch of sequences. Sequences run in parallel in fixed chunks whose float64 gradient sums are
/// added in chunk order, so the result is the same for any thread count.
/// </summary>
public sealed class Backprop
{
    /// <summary>Sequences per chunk (fixed, so the reduction order never depends on threads).</summary>
    public const int ChunkSize = 8;

    private readonly LstmConfig _cfg;
    private readonly int _threads;
    private readonly ParallelOptions _parallel;
    private float[][] _wt = [];
    private float[][] _bias = [];
    private float[][] _wcat = [];
    private float[] _headW = [];
    private float[] _headB = [];
    private readonly Stack<Workspace> _pool = new();
    private double[][][] _chunkGrads = [];

    /// <summary>Creates a pass for a model's sizes.</summary>
    /// <param name="config">Sizes.</param>
    /// <param name="threads">Worker threads (1 = caller's thread).</param>
    /// <param name="scheduler">Where parallel chunks run (null: the thread pool).</param>
    public Backprop(LstmConfig config, int threads = 1, TaskScheduler? scheduler = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _cfg = config;
        _threads = threads;
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = threads, TaskScheduler = scheduler ?? TaskScheduler.Default };
    }

    /// <summary>
    /// Runs forward and backward. Gradients are written (not added) to <paramref name="grads"/>.
    /// </summary>
    /// <param name="model">Parameters.</param>
    /// <param name="x">Inputs <c>[B, T, I]</c>.</param>
    /// <param name="y">Targets <c>[B, T, K]</c>.</param>
    /// <param name="batch">B.</param>
    /// <param name="steps">T.</param>
    /// <param name="h0">Initial hidden states <c>[L, B, H]</c> (empty: zeros).</param>
    /// <param name="c0">Initial cell states <c>[L, B, H]</c> (empty: zeros).</param>
    /// <param name="grads">Receives d loss / d parameter.</param>
    /// <param name="outputs">Optional forward outputs: <c>mu</c>, <c>logSigma</c> <c>[B, T, K]</c>, <c>seq</c> <c>[B, T, H]</c>, <c>hn</c>, <c>cn</c> <c>[L, B, H]</c> (any may be null).</param>
    /// <param name="mask">Per-element loss mask <c>[B, T, K]</c> (null: ones).</param>
    /// <param name="weights">Per-sequence loss weights <c>[B]</c> (null: ones).</param>
    /// <param name="dropout">Dropout between layers (default: none).</param>
    /// <returns>The loss.</returns>
    public BackpropResult Run(LstmModel model, float[] x, float[] y, int batch, int steps, float[]? h0, float[]? c0, Gradients grads,
        ForwardOutputs? outputs = null, float[]? mask = null, float[]? weights = null, DropoutMask dropout = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(grads);
        if (model.Config != _cfg || grads.Config != _cfg) throw new ArgumentException("Model, gradients and pass must have the same sizes.");
        int inp = _cfg.InputSize, hid = _cfg.HiddenSize, k = _cfg.Horizons, layers = _cfg.Layers;
        if (batch < 1 || steps < 1) throw new ArgumentException("Batch and steps must be >= 1.");
        if (x.Length != batch * steps * inp) throw new ArgumentException($"x has {x.Length} values; [B, T, I] needs {batch * steps * inp}.", nameof(x));
        if (y.Length != batch * steps * k) throw new ArgumentException($"y has {y.Length} values; [B, T, K] needs {batch * steps * k}.", nameof(y));
        if (h0 is { Length: > 0 } && h0.Length != layers * batch * hid) throw new ArgumentException("h0 must be [L, B, H].", nameof(h0));
        if (c0 is { Length: > 0 } && c0.Length != layers * batch * hid) throw new ArgumentException("c0 must be [L, B, H].", nameof(c0));
        Pack(model);
        var chunks = (batch + ChunkSize - 1) / ChunkSize;
        EnsureChunks(chunks, grads);
        var lossPerChunk = new double[chunks];
        if (mask is not null && mask.Length != y.Length) throw new ArgumentException("mask must be [B, T, K].", nameof(mask));
        if (weights is not null && weights.Length != batch) throw new ArgumentException("weights must be [B].", nameof(weights));
        var denominator = new TrainingBatch(batch, steps, x, y) { Mask = mask, Weights = weights }.LossDenominator(k);
        var scale = denominator > 0 ? 1.0 / denominator : 0.0;
        var job = new Job(x, y, batch, steps, h0, c0, scale, outputs, mask, weights, dropout);

        if (_threads == 1 || chunks == 1)
        {
            for (var ch = 0; ch < chunks; ch++) lossPerChunk[ch] = RunChunk(job, ch);
        }
        else
        {
            Parallel.For(0, chunks, _parallel, ch => lossPerChunk[ch] = RunChunk(job, ch));
        }

        // Fixed-order reduction: chunk 0, 1, 2, … whatever thread computed each.
        grads.Clear();
        var loss = 0.0;
        for (var ch = 0; ch < chunks; ch++)
        {
            loss += lossPerChunk[ch];
            var cg = _chunkGrads[ch];
            for (var p = 0; p < cg.Length; p++)
            {
                var dst = grads.Values[p];
                var src = cg[p];
                for (var i = 0; i < dst.Length; i++) dst[i] += src[i];
            }
        }

        return new BackpropResult(loss);
    }

    private sealed record Job(float[] X, float[] Y, int Batch, int Steps, float[]? H0, float[]? C0, double Scale, ForwardOutputs? Outputs,
        float[]? Mask, float[]? Weights, DropoutMask Dropout);

    private void Pack(LstmModel model)
    {
        var cfg = _cfg;
        var g4 = 4 * cfg.HiddenSize;
        if (_wt.Length != cfg.Layers)
        {
            _wt = new float[cfg.Layers][];
            _wcat = new float[cfg.Layers][];
            _bias = new float[cfg.Layers][];
            for (var l = 0; l < cfg.Layers; l++)
            {
                _wt[l] = new float[(cfg.LayerInputSize(l) + cfg.HiddenSize) * g4];
                _wcat[l] = new float[(cfg.LayerInputSize(l) + cfg.HiddenSize) * g4];
                _bias[l] = new float[g4];
            }
        }

        for (var l = 0; l < cfg.Layers; l++)
        {
            var inSize = cfg.LayerInputSize(l);
            var hid = cfg.HiddenSize;
            var wt = _wt[l];
            var wc = _wcat[l];
            var kl = inSize + hid;
            for (var r = 0; r < g4; r++)
            {
                for (var kk = 0; kk < inSize; kk++) wt[kk * g4 + r] = wc[r * kl + kk] = model.WeightIh[l][r * inSize + kk];
                for (var kk = 0; kk < hid; kk++) wt[(inSize + kk) * g4 + r] = wc[r * kl + inSize + kk] = model.WeightHh[l][r * hid + kk];
                _bias[l][r] = model.BiasIh[l][r] + model.BiasHh[l][r];
            }
        }

        _headW = model.HeadWeight;
        _headB = model.HeadBias;
    }

    private void EnsureChunks(int chunks, Gradients grads)
    {
        if (_chunkGrads.Length >= chunks) return;
        var old = _chunkGrads.Length;
        Array.Resize(ref _chunkGrads, chunks);
        for (var ch = old; ch < chunks; ch++) _chunkGrads[ch] = grads.Values.Select(v => new double[v.Length]).ToArray();
    }

    private Workspace Rent(int steps)
    {
        lock (_pool)
        {
            while (_pool.Count > 0)
            {
                var w = _pool.Pop();
                if (w.Steps >= steps) return w;
            }
        }

        return new Workspace(_cfg, steps);
    }

    private void Return(Workspace w)
    {
        lock (_pool) _pool.Push(w);
    }

    private double RunChunk(Job job, int chunk)
    {
        var ws = Rent(job.Steps);
        try
        {
            var first = chunk * ChunkSize;
            var count = Math.Min(job.Batch, first + ChunkSize) - first;
            var loss = Chunk(job, first, count, ws);
            AddChunkGrads(ws, _chunkGrads[chunk]);
            return loss;
        }
        finally
        {
            Return(ws);
        }
    }

    /// <summary>
    /// Forward then backward over sequences [first, first + count) in lockstep, as small matrix products
    /// (gates = Z·Wᵀ, dZ = dA·W, dWᵀ += Zᵀ·dA). Leaves the chunk's float gradients in the workspace; returns its scaled loss.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double Chunk(Job job, int first, int count, Workspace ws)
    {
        var cfg = _cfg;
        int inp = cfg.InputSize, hid = cfg.HiddenSize, k = cfg.Horizons, layers = cfg.Layers, steps = job.Steps, batch = job.Batch;
        int g4 = 4 * hid, k2 = 2 * k, n = count;
        var sh = ChunkSize * hid;                       // one (t, l) block of h or c: [S][H]
        var sz = ChunkSize * ws.KMax;                   // one (t, l) block of Z: [S][K_l]
        var sg = ChunkSize * g4;                        // one (t, l) block of gates: [S][4H]
        var hs = ws.H;
        var cs = ws.C;
        for (var l = 0; l < layers; l++)
        {
            for (var s = 0; s < n; s++)
            {
                var src = (l * batch + first + s) * hid;
                var dst = hs.AsSpan(l * sh + s * hid, hid);
                var cdst = cs.AsSpan(l * sh + s * hid, hid);
                if (job.H0 is { Length: > 0 }) job.H0.AsSpan(src, hid).CopyTo(dst);
                else dst.Clear();
                if (job.C0 is { Length: > 0 }) job.C0.AsSpan(src, hid).CopyTo(cdst);
                else cdst.Clear();
            }
        }

        // Forward: activations (Z, gates, c, h) kept for the backward pass.
        for (var t = 0; t < steps; t++)
        {
            for (var l = 0; l < layers; l++)
            {
                var inSize = cfg.LayerInputSize(l);
                var kl = inSize + hid;
                var z = ws.Z.AsSpan((t * layers + l) * sz, sz);
                var g = ws.Gates.AsSpan((t * layers + l) * sg, sg);
                for (var s = 0; s < n; s++)
                {
                    var zs = z.Slice(s * kl, kl);
                    if (l == 0) job.X.AsSpan(((first + s) * steps + t) * inp, inp).CopyTo(zs);
                    else hs.AsSpan(((t + 1) * layers + l - 1) * sh + s * hid, hid).CopyTo(zs);
                    if (l > 0 && job.Dropout.Active)
                    {
                        for (var j = 0; j < hid; j++) zs[j] *= job.Dropout.Factor(l - 1, first + s, t, j);
                    }
                    hs.AsSpan((t * layers + l) * sh + s * hid, hid).CopyTo(zs[inSize..]);
                    _bias[l].CopyTo(g.Slice(s * g4, g4));
                }

                Gemm.MulAdd(z, kl, 1, _wt[l], g4, g, g4, n, kl, g4);
                for (var s = 0; s < n; s++)
                {
                    var a = g.Slice(s * g4, g4);
                    VecMath.Sigmoid(a[..(2 * hid)]);
                    VecMath.Tanh(a.Slice(2 * hid, hid), a.Slice(2 * hid, hid));
                    VecMath.Sigmoid(a.Slice(3 * hid, hid));
                    var cPrev = cs.AsSpan((t * layers + l) * sh + s * hid, hid);
                    var cNew = cs.AsSpan(((t + 1) * layers + l) * sh + s * hid, hid);
                    var hNew = hs.AsSpan(((t + 1) * layers + l) * sh + s * hid, hid);
                    for (var j = 0; j < hid; j++) cNew[j] = a[hid + j] * cPrev[j] + a[j] * a[2 * hid + j];
                    VecMath.Tanh(cNew, hNew);
                    for (var j = 0; j < hid; j++) hNew[j] *= a[3 * hid + j];
                }
            }

            for (var s = 0; s < n; s++)
            {
                var top = hs.AsSpan(((t + 1) * layers + layers - 1) * sh + s * hid, hid);
                var o = ws.Out.AsSpan((t * ChunkSize + s) * k2, k2);
                for (var q = 0; q < k2; q++) o[q] = _headB[q] + VecMath.Dot(_headW.AsSpan(q * hid, hid), top);
            }
        }

        if (job.Outputs is { } outs) CopyOutputs(outs, ws, first, n, batch, steps);

        // Backward.
        ws.ClearGrads();
        var dh = ws.Dh;
        var dc = ws.Dc;
        Array.Clear(dh);
        Array.Clear(dc);
        var da = ws.Da;
        var dz = ws.Dz;
        var loss = 0.0;
        for (var t = steps - 1; t >= 0; t--)
        {
            for (var s = 0; s < n; s++)
            {
                var o = ws.Out.AsSpan((t * ChunkSize + s) * k2, k2);
                var yRow = job.Y.AsSpan(((first + s) * steps + t) * k, k);
                var dout = ws.DOut;
                var weighted = job.Mask is not null || job.Weights is not null;
                for (var q = 0; q < k; q++)
                {
                    var f = weighted ? (job.Weights?[first + s] ?? 1f) * (job.Mask?[((first + s) * steps + t) * k + q] ?? 1f) : 1f;
                    if (weighted && f == 0)
                    {
                        dout[q] = dout[k + q] = 0;
                        continue;
                    }

                    loss += f * GaussianNll.Element(yRow[q], o[q], o[k + q]);
                    var (dmu, dls) = GaussianNll.Derivatives(yRow[q], o[q], o[k + q]);
                    dout[q] = (float)(f * dmu * job.Scale);
                    dout[k + q] = (float)(f * dls * job.Scale);
                }

                var top = hs.AsSpan(((t + 1) * layers + layers - 1) * sh + s * hid, hid);
                var dhTop = dh.AsSpan((layers - 1) * sh + s * hid, hid);
                for (var q = 0; q < k2; q++)
                {
                    ws.GHeadB[q] += dout[q];
                    VecMath.Axpy(dout[q], top, ws.GHeadW.AsSpan(q * hid, hid));
                    VecMath.Axpy(dout[q], _headW.AsSpan(q * hid, hid), dhTop);
                }
            }

            for (var l = layers - 1; l >= 0; l--)
            {
                var inSize = cfg.LayerInputSize(l);
                var kl = inSize + hid;
                var z = ws.Z.AsSpan((t * layers + l) * sz, sz);
                var g = ws.Gates.AsSpan((t * layers + l) * sg, sg);
                var gb = ws.GBias[l];
                for (var s = 0; s < n; s++)
                {
                    var a = g.Slice(s * g4, g4);
                    var cPrev = cs.AsSpan((t * layers + l) * sh + s * hid, hid);
                    var cNew = cs.AsSpan(((t + 1) * layers + l) * sh + s * hid, hid);
                    var dhl = dh.AsSpan(l * sh + s * hid, hid);
                    var dcl = dc.AsSpan(l * sh + s * hid, hid);
                    var das = da.AsSpan(s * g4, g4);
                    var tc = ws.Tc.AsSpan(0, hid);
                    VecMath.Tanh(cNew, tc);
                    for (var j = 0; j < hid; j++)
                    {
                        float ig = a[j], fg = a[hid + j], gg = a[2 * hid + j], og = a[3 * hid + j];
                        var dcj = dcl[j] + dhl[j] * og * (1 - tc[j] * tc[j]);
                        das[j] = dcj * gg * ig * (1 - ig);
                        das[hid + j] = dcj * cPrev[j] * fg * (1 - fg);
                        das[2 * hid + j] = dcj * ig * (1 - gg * gg);
                        das[3 * hid + j] = dhl[j] * tc[j] * og * (1 - og);
                        dcl[j] = dcj * fg;
                    }

                    for (var r = 0; r < g4; r++) gb[r] += das[r];
                }

                // dWᵀ[K×4H] += Zᵀ[K×S] · dA[S×4H]; dZ[S×K] = dA[S×4H] · W[4H×K].
                Gemm.MulAdd(z, 1, kl, da, g4, ws.GWt[l], g4, kl, n, g4);
                var dzs = dz.AsSpan(0, n * kl);
                dzs.Clear();
                Gemm.MulAdd(da, g4, 1, _wcat[l], kl, dzs, kl, n, g4, kl);
                for (var s = 0; s < n; s++)
                {
                    dz.AsSpan(s * kl + inSize, hid).CopyTo(dh.AsSpan(l * sh + s * hid, hid));
                    if (l > 0)
                    {
                        var below = dh.AsSpan((l - 1) * sh + s * hid, hid);
                        var from = dz.AsSpan(s * kl, hid);
                        if (job.Dropout.Active)
                        {
                            for (var j = 0; j < hid; j++) below[j] += from[j] * job.Dropout.Factor(l - 1, first + s, t, j);
                        }
                        else
                        {
                            for (var j = 0; j < hid; j++) below[j] += from[j];
                        }
                    }
                }
            }
        }

        return loss * job.Scale;
    }

    private void CopyOutputs(ForwardOutputs outs, Workspace ws, int first, int n, int batch, int steps)
    {
        int hid = _cfg.HiddenSize, k = _cfg.Horizons, layers = _cfg.Layers, sh = ChunkSize * hid;
        for (var s = 0; s < n; s++)
        {
            var b = first + s;
            for (var t = 0; t < steps; t++)
            {
                var o = ws.Out.AsSpan((t * ChunkSize + s) * 2 * k, 2 * k);
                if (outs.Mu is not null) o[..k].CopyTo(outs.Mu.AsSpan((b * steps + t) * k, k));
                if (outs.LogSigma is not null) o.Slice(k, k).CopyTo(outs.LogSigma.AsSpan((b * steps + t) * k, k));
                if (outs.Seq is not null) ws.H.AsSpan(((t + 1) * layers + layers - 1) * sh + s * hid, hid).CopyTo(outs.Seq.AsSpan((b * steps + t) * hid, hid));
            }

            for (var l = 0; l < layers; l++)
            {
                if (outs.Hn is not null) ws.H.AsSpan((steps * layers + l) * sh + s * hid, hid).CopyTo(outs.Hn.AsSpan((l * batch + b) * hid, hid));
                if (outs.Cn is not null) ws.C.AsSpan((steps * layers + l) * sh + s * hid, hid).CopyTo(outs.Cn.AsSpan((l * batch + b) * hid, hid));
            }
        }
    }

    /// <summary>Writes a chunk's float gradients (transposed layout) into its float64 sums (PyTorch layout).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddChunkGrads(Workspace ws, double[][] cg)
    {
        var cfg = _cfg;
        int hid = cfg.HiddenSize, g4 = 4 * hid;
        var p = 0;
        for (var l = 0; l < cfg.Layers; l++)
        {
            var inSize = cfg.LayerInputSize(l);
            var gw = ws.GWt[l];
            double[] wih = cg[p], whh = cg[p + 1], bih = cg[p + 2], bhh = cg[p + 3];
            for (var kk = 0; kk < inSize; kk++)
            {
                for (var r = 0; r < g4; r++) wih[r * inSize + kk] = gw[kk * g4 + r];
            }

            for (var kk = 0; kk < hid; kk++)
            {
                for (var r = 0; r < g4; r++) whh[r * hid + kk] = gw[(inSize + kk) * g4 + r];
            }

            for (var r = 0; r < g4; r++)
            {
                bih[r] = ws.GBias[l][r];
                bhh[r] = ws.GBias[l][r];
            }

            p += 4;
        }

        var hw = cg[p];
        for (var i = 0; i < hw.Length; i++) hw[i] = ws.GHeadW[i];
        var hb = cg[p + 1];
        for (var i = 0; i < hb.Length; i++) hb[i] = ws.GHeadB[i];
    }

    private sealed class Workspace
    {
        public Workspace(LstmConfig cfg, int steps)
        {
            Steps = steps;
            int hid = cfg.HiddenSize, layers = cfg.Layers, g4 = 4 * hid, s = ChunkSize;
            KMax = Math.Max(cfg.InputSize, hid) + hid;
            H = new float[(steps + 1) * layers * s * hid];
            C = new float[(steps + 1) * layers * s * hid];
            Z = new float[steps * layers * s * KMax];
            Gates = new float[steps * layers * s * g4];
            Out = new float[steps * s * 2 * cfg.Horizons];
            Dh = new float[layers * s * hid];
            Dc = new float[layers * s * hid];
            Da = new float[s * g4];
            Dz = new float[s * KMax];
            Tc = new float[hid];
            DOut = new float[2 * cfg.Horizons];
            GWt = new float[layers][];
            GBias = new float[layers][];
            for (var l = 0; l < layers; l++)
            {
                GWt[l] = new float[(cfg.LayerInputSize(l) + hid) * g4];
                GBias[l] = new float[g4];
            }

            GHeadW = new float[2 * cfg.Horizons * hid];
            GHeadB = new float[2 * cfg.Horizons];
        }

        public int Steps { get; }

        public int KMax { get; }

        public float[] H { get; }

        public float[] C { get; }

        public float[] Z { get; }

        public float[] Gates { get; }

        public float[] Out { get; }

        public float[] Dh { get; }

        public float[] Dc { get; }

        public float[] Da { get; }

        public float[] Dz { get; }

        public float[] Tc { get; }

        public float[] DOut { get; }

        public float[][] GWt { get; }

        public float[][] GBias { get; }

        public float[] GHeadW { get; }

        public float[] GHeadB { get; }

        public void ClearGrads()
        {
            foreach (var g in GWt) Array.Clear(g);
            foreach (var g in GBias) Array.Clear(g);
            Array.Clear(GHeadW);
            Array.Clear(GHeadB);
        }
    }
}

/// <summary>Optional forward outputs of <see cref="Backprop.Run"/>; null arrays are skipped.</summary>
public sealed class ForwardOutputs
{
    /// <summary>Means <c>[B, T, K]</c>.</summary>
    public float[]? Mu { get; init; }

    /// <summary>Log standard deviations <c>[B, T, K]</c>.</summary>
    public float[]? LogSigma { get; init; }

    /// <summary>Top-layer h at every step <c>[B, T, H]</c>.</summary>
    public float[]? Seq { get; init; }

    /// <summary>Final hidden states <c>[L, B, H]</c>.</summary>
    public float[]? Hn { get; init; }

    /// <summary>Final cell states <c>[L, B, H]</c>.</summary>
    public float[]? Cn { get; init; }
}
