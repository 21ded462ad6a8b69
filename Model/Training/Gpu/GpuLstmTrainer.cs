using ILGPU;
using ILGPU.Runtime;
using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Training.Gpu;

/// <summary>
/// The GPU trainer on ILGPU: weights, Adam moments, activations and gradients stay on the device; per step the host sends
/// the batch and reads back three numbers (loss, Σg², clip factor). Each layer's input projection for the whole window is
/// one GEMM, the recurrence runs one kernel per step forward and backward, weight gradients are GEMMs over every row and
/// step, then the Gaussian NLL head, global-norm clipping and Adam run as kernels. No atomics: every sum has a fixed
/// order, so a run is deterministic on a given accelerator. The same kernels run on CUDA and on ILGPU's CPU accelerator.
/// </summary>
public sealed class GpuLstmTrainer : TrainerBase
{
    private const int MaxCachedShapes = 4;
    private readonly Context _context;
    private readonly Accelerator _acc;
    private readonly GpuKernels _k;
    private readonly ParameterLayout _layout;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _w;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _g;
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _m;
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _v;
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _stats;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _whhT;
    private MemoryBuffer1D<float, Stride1D.Dense>? _best;
    private readonly Dictionary<(int B, int T), GpuWorkspace> _workspaces = [];
    private readonly double[] _hostStats = new double[3];
    private int _step;

    /// <summary>Creates a trainer for <paramref name="model"/>, uploading its parameters (the model is written back by <see cref="SyncModel"/> and <see cref="TrainerBase.Fit"/>).</summary>
    /// <param name="model">Model to train.</param>
    /// <param name="options">Settings (validated here; <see cref="TrainingOptions.Threads"/> is not used).</param>
    /// <param name="target">Accelerator.</param>
    public GpuLstmTrainer(LstmModel model, TrainingOptions options, GpuTarget target = GpuTarget.Best)
        : base(model, options)
    {
        (_context, _acc) = GpuAccelerators.Open(target);
        try
        {
            _k = new GpuKernels(_acc);
            _layout = new ParameterLayout(model.Config);
            _w = _acc.Allocate1D(_layout.Flatten(model));
            _g = _acc.Allocate1D<float>(_layout.Total);
            _m = _acc.Allocate1D<double>(_layout.Total);
            _v = _acc.Allocate1D<double>(_layout.Total);
            _m.MemSetToZero();
            _v.MemSetToZero();
            _stats = _acc.Allocate1D<double>(3);
            _whhT = _acc.Allocate1D<float>((long)model.Config.Layers * 4 * model.Config.HiddenSize * model.Config.HiddenSize);
        }
        catch
        {
            _acc.Dispose();
            _context.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public override string Device => IsCuda ? $"gpu: {_acc.Name}" : "gpu: ILGPU CPU accelerator (no CUDA device)";

    /// <summary>Whether the kernels run on a CUDA device.</summary>
    public bool IsCuda => _acc.AcceleratorType == AcceleratorType.Cuda;

    /// <inheritdoc/>
    public override int StepCount => _step;

    private LstmConfig Cfg => Model.Config;

    /// <inheritdoc/>
    protected override (double Loss, double GradNorm) Step(TrainingBatch batch, double learningRate, DropoutMask dropout)
    {
        var ws = Prepare(batch);
        ForwardLayers(ws, dropout);
        Head(ws, batch.LossDenominator(Cfg.Horizons));
        Backward(ws, dropout);
        _k.Reduce(_g.View, _layout.Total, true, OptimizerKernels.SquaresSlot, 1.0, _stats.View);
        _k.ClipFactor(Options.ClipNorm, _stats.View);
        _step++;
        var args = new AdamArgs
        {
            LearningRate = learningRate, Beta1 = Options.Beta1, Beta2 = Options.Beta2, Epsilon = Options.Epsilon,
            Correction1 = 1 - Math.Pow(Options.Beta1, _step), Correction2 = 1 - Math.Pow(Options.Beta2, _step),
        };
        _k.Adam(_layout.Total, args, _w.View, _g.View, _m.View, _v.View, _stats.View);
        _stats.View.CopyToCPU(_hostStats);
        return (_hostStats[OptimizerKernels.LossSlot], Math.Sqrt(_hostStats[OptimizerKernels.SquaresSlot]));
    }

    /// <inheritdoc/>
    public override double ComputeGradients(TrainingBatch batch, Gradients grads, ForwardOutputs? outputs = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(grads);
        batch.Validate(Cfg);
        if (grads.Config != Cfg) throw new ArgumentException("Gradients must have the model's sizes.");
        var ws = Prepare(batch);
        ForwardLayers(ws, DropoutMask.None);
        Head(ws, batch.LossDenominator(Cfg.Horizons));
        Backward(ws, DropoutMask.None);
        var flat = new float[_layout.Total];
        _g.View.CopyToCPU(flat);
        for (var p = 0; p < grads.Values.Length; p++)
        {
            var dst = grads.Values[p];
            var at = _layout.Offsets[p];
            for (var i = 0; i < dst.Length; i++) dst[i] = flat[at + i];
        }

        if (outputs is not null) CopyOutputs(ws, outputs);
        _stats.View.CopyToCPU(_hostStats);
        return _hostStats[OptimizerKernels.LossSlot];
    }

    /// <inheritdoc/>
    public override double Evaluate(SeriesDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var cfg = Cfg;
        double sum = 0;
        long n = 0;
        // Series of one length run as one batch: a window per series, from zero state.
        foreach (var group in Enumerable.Range(0, data.Series.Count).Where(s => data.Length(s) > 0).GroupBy(data.Length))
        {
            var rows = group.ToArray();
            var len = group.Key;
            var x = new float[rows.Length * len * cfg.InputSize];
            var y = new float[rows.Length * len * cfg.Horizons];
            for (var r = 0; r < rows.Length; r++) data.Copy(rows[r], 0, len, r, x, y);
            var batch = new TrainingBatch(rows.Length, len, x, y);
            var ws = Prepare(batch);
            ForwardLayers(ws, DropoutMask.None);
            var count = (double)rows.Length * len * cfg.Horizons;
            Head(ws, count);
            _stats.View.CopyToCPU(_hostStats);
            sum += _hostStats[OptimizerKernels.LossSlot] * count;
            n += (long)count;
        }

        return n == 0 ? double.NaN : sum / n;
    }

    /// <inheritdoc/>
    public override AdamState SaveOptimizerState()
    {
        var m = new double[_layout.Total];
        var v = new double[_layout.Total];
        _m.View.CopyToCPU(m);
        _v.View.CopyToCPU(v);
        return new AdamState(_step, Split(m), Split(v));
    }

    /// <inheritdoc/>
    public override void LoadOptimizerState(AdamState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.M.Length != _layout.Offsets.Length || state.V.Length != _layout.Offsets.Length) throw new ArgumentException("Adam state has a different parameter count.");
        var m = new double[_layout.Total];
        var v = new double[_layout.Total];
        for (var p = 0; p < _layout.Offsets.Length; p++)
        {
            if (state.M[p].Length != _layout.Lengths[p] || state.V[p].Length != _layout.Lengths[p]) throw new ArgumentException($"Adam state for parameter {p} has a different size.");
            state.M[p].CopyTo(m, _layout.Offsets[p]);
            state.V[p].CopyTo(v, _layout.Offsets[p]);
        }

        _m.View.CopyFromCPU(m);
        _v.View.CopyFromCPU(v);
        _step = state.Step;
    }

    /// <inheritdoc/>
    public override void SyncModel()
    {
        var flat = new float[_layout.Total];
        _w.View.CopyToCPU(flat);
        _layout.Scatter(flat, Model);
    }

    /// <summary>Uploads the model's current parameters (after changing them on the host).</summary>
    public void UploadModel() => _w.View.CopyFromCPU(_layout.Flatten(Model));

    /// <inheritdoc/>
    protected override object SnapshotParameters()
    {
        _best ??= _acc.Allocate1D<float>(_layout.Total);
        _w.View.CopyTo(_best.View);
        return _best;
    }

    /// <inheritdoc/>
    protected override void RestoreParameters(object snapshot) => ((MemoryBuffer1D<float, Stride1D.Dense>)snapshot).View.CopyTo(_w.View);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var ws in _workspaces.Values) ws.Dispose();
            _workspaces.Clear();
            _best?.Dispose();
            _w.Dispose();
            _g.Dispose();
            _m.Dispose();
            _v.Dispose();
            _stats.Dispose();
            _whhT.Dispose();
            _k.Dispose();
            _acc.Dispose();
            _context.Dispose();
        }

        base.Dispose(disposing);
    }

    private ArrayView<float> W(int p) => _w.View.SubView(_layout.Offsets[p], _layout.Lengths[p]);

    private ArrayView<float> G(int p) => _g.View.SubView(_layout.Offsets[p], _layout.Lengths[p]);

    private double[][] Split(double[] flat) =>
        _layout.Offsets.Select((at, p) => flat.AsSpan(at, _layout.Lengths[p]).ToArray()).ToArray();

    private GpuWorkspace Workspace(int batch, int steps)
    {
        if (_workspaces.TryGetValue((batch, steps), out var ws)) return ws;
        if (_workspaces.Count >= MaxCachedShapes)
        {
            foreach (var old in _workspaces.Values) old.Dispose();
            _workspaces.Clear();
        }

        ws = new GpuWorkspace(_acc, Cfg, batch, steps);
        _workspaces[(batch, steps)] = ws;
        return ws;
    }

    /// <summary>Uploads a batch (relaid out time-major on the host) and sets each layer's initial state, running the warm-up on the device.</summary>
    private GpuWorkspace Prepare(TrainingBatch batch)
    {
        var cfg = Cfg;
        int b = batch.Batch, t = batch.Steps, k = cfg.Horizons;
        GpuWorkspace? warm = null;
        if (batch.WarmupSteps > 0)
        {
            warm = Workspace(b, batch.WarmupSteps);
            UploadInputs(warm, batch.WarmupX!, b, batch.WarmupSteps);
            SetInitialState(warm, batch.H0, batch.C0);
            ForwardLayers(warm, DropoutMask.None);
        }

        var ws = Workspace(b, t);
        UploadInputs(ws, batch.X, b, t);
        ToTimeMajor(batch.Y, ws.HostY, b, t, k);
        ws.Y.CopyFromCPU(ws.HostY);
        if (batch.Mask is not null)
        {
            ToTimeMajor(batch.Mask, ws.HostMask, b, t, k);
            ws.Mask.CopyFromCPU(ws.HostMask);
        }

        if (batch.Weights is not null) ws.Weights.CopyFromCPU(batch.Weights);
        ws.HasMask = batch.Mask is not null;
        ws.HasWeights = batch.Weights is not null;
        if (warm is null)
        {
            SetInitialState(ws, batch.H0, batch.C0);
        }
        else
        {
            var state = b * cfg.HiddenSize;
            for (var l = 0; l < cfg.Layers; l++)
            {
                warm.H[l].SubView((long)warm.Steps * state, state).CopyTo(ws.H[l].SubView(0, state));
                warm.C[l].SubView((long)warm.Steps * state, state).CopyTo(ws.C[l].SubView(0, state));
            }
        }

        return ws;
    }

    private void UploadInputs(GpuWorkspace ws, float[] x, int b, int t)
    {
        ToTimeMajor(x, ws.HostX, b, t, Cfg.InputSize);
        ws.X.CopyFromCPU(ws.HostX);
    }

    private void SetInitialState(GpuWorkspace ws, float[]? h0, float[]? c0)
    {
        var state = ws.Batch * Cfg.HiddenSize;
        for (var l = 0; l < Cfg.Layers; l++)
        {
            if (h0 is { Length: > 0 }) ws.H[l].SubView(0, state).CopyFromCPU(h0.AsSpan(l * state, state).ToArray());
            else ws.H[l].SubView(0, state).MemSetToZero();
            if (c0 is { Length: > 0 }) ws.C[l].SubView(0, state).CopyFromCPU(c0.AsSpan(l * state, state).ToArray());
            else ws.C[l].SubView(0, state).MemSetToZero();
        }
    }

    /// <summary>[B, T, F] → [T, B, F].</summary>
    private static void ToTimeMajor(float[] src, float[] dst, int b, int t, int f)
    {
        for (var row = 0; row < b; row++)
        {
            for (var s = 0; s < t; s++) src.AsSpan((row * t + s) * f, f).CopyTo(dst.AsSpan((s * b + row) * f, f));
        }
    }

    private DropoutArgs DropoutFor(GpuWorkspace ws, DropoutMask d, int lowerLayer) => new()
    {
        Batch = ws.Batch, Hidden = Cfg.HiddenSize, Layer = lowerLayer, Seed = d.Seed, Step = d.Step, Threshold = d.Threshold, Scale = d.KeepScale,
    };

    /// <summary>Layer l's input rows <c>[T·B, in]</c>: x for layer 0, else the (dropped) output of layer l − 1.</summary>
    private ArrayView<float> LayerInput(GpuWorkspace ws, int l, DropoutMask dropout)
    {
        if (l == 0) return ws.X;
        var rows = ws.Batch * ws.Steps;
        return dropout.Active ? ws.Dropped[l] : ws.H[l - 1].SubView((long)ws.Batch * Cfg.HiddenSize, (long)rows * Cfg.HiddenSize);
    }

    private void ForwardLayers(GpuWorkspace ws, DropoutMask dropout)
    {
        var cfg = Cfg;
        int b = ws.Batch, t = ws.Steps, hid = cfg.HiddenSize, g4 = 4 * hid, rows = b * t, state = b * hid;
        for (var l = 0; l < cfg.Layers; l++)
        {
            var inSize = cfg.LayerInputSize(l);
            var whhT = _whhT.View.SubView((long)l * g4 * hid, g4 * hid);
            _k.Transpose(g4, hid, W(_layout.WeightHh(l)), whhT);
            if (l > 0 && dropout.Active)
            {
                _k.Dropout(rows * hid, DropoutFor(ws, dropout, l - 1), ws.H[l - 1].SubView(state, (long)rows * hid), ws.Dropped[l]);
            }

            // The whole window's input projection at once: gates[T·B, 4H] = input[T·B, in] · W_ihᵀ.
            _k.Gemm(rows, g4, inSize, LayerInput(ws, l, dropout), inSize, 1, W(_layout.WeightIh(l)), 1, inSize, ws.Gates[l], g4, false);
            for (var s = 0; s < t; s++)
            {
                _k.Forward(b, hid, ws.Gates[l].SubView((long)s * b * g4, b * g4), whhT, W(_layout.BiasIh(l)), W(_layout.BiasHh(l)),
                    ws.H[l].SubView((long)s * state, state), ws.C[l].SubView((long)s * state, state),
                    ws.H[l].SubView((long)(s + 1) * state, state), ws.C[l].SubView((long)(s + 1) * state, state));
            }
        }
    }

    /// <summary>Head output, per-element loss and its gradient, and the mean loss into stats[0].</summary>
    private void Head(GpuWorkspace ws, double denominator)
    {
        var cfg = Cfg;
        int b = ws.Batch, rows = b * ws.Steps, hid = cfg.HiddenSize, k = cfg.Horizons;
        var top = ws.H[cfg.Layers - 1].SubView((long)b * hid, (long)rows * hid);
        _k.Gemm(rows, 2 * k, hid, top, hid, 1, W(_layout.HeadWeight), 1, hid, ws.Output, 2 * k, false);
        var inv = denominator > 0 ? 1.0 / denominator : 0.0;
        var args = new NllArgs { Batch = b, Horizons = k, InvDenominator = inv, HasMask = ws.HasMask ? 1 : 0, HasWeights = ws.HasWeights ? 1 : 0 };
        _k.GaussianNll(rows * k, args, ws.Output, W(_layout.HeadBias), ws.Y, ws.Mask, ws.Weights, ws.Loss, ws.DOutput);
        _k.Reduce(ws.Loss, rows * k, false, OptimizerKernels.LossSlot, inv, _stats.View);
    }

    private void Backward(GpuWorkspace ws, DropoutMask dropout)
    {
        var cfg = Cfg;
        int b = ws.Batch, t = ws.Steps, hid = cfg.HiddenSize, g4 = 4 * hid, k2 = 2 * cfg.Horizons, rows = b * t, state = b * hid, top = cfg.Layers - 1;
        var topSeq = ws.H[top].SubView(state, (long)rows * hid);
        // Head: dH_top = dOut · W_head, dW_head = dOutᵀ · h_top, db_head = column sums of dOut.
        _k.Gemm(rows, hid, k2, ws.DOutput, k2, 1, W(_layout.HeadWeight), hid, 1, ws.DH[top], hid, false);
        _k.Gemm(k2, hid, rows, ws.DOutput, 1, k2, topSeq, hid, 1, G(_layout.HeadWeight), hid, false);
        _k.Gemm(1, k2, rows, _k.Ones, 0, 0, ws.DOutput, k2, 1, G(_layout.HeadBias), k2, false);
        for (var l = top; l >= 0; l--)
        {
            var inSize = cfg.LayerInputSize(l);
            ws.Dc.MemSetToZero();
            for (var s = t - 1; s >= 0; s--)
            {
                var dA = ws.DA[l].SubView((long)s * b * g4, b * g4);
                var dANext = s < t - 1 ? ws.DA[l].SubView((long)(s + 1) * b * g4, b * g4) : dA;
                _k.Backward(b, hid, s < t - 1, W(_layout.WeightHh(l)), ws.Gates[l].SubView((long)s * b * g4, b * g4),
                    ws.C[l].SubView((long)s * state, state), ws.C[l].SubView((long)(s + 1) * state, state),
                    ws.DH[l].SubView((long)s * state, state), dANext, dA, ws.Dc);
            }

            // Weight gradients over every row and step at once: dW_ih = dAᵀ · input, dW_hh = dAᵀ · h_{t−1}, db = Σ rows of dA.
            _k.Gemm(g4, inSize, rows, ws.DA[l], 1, g4, LayerInput(ws, l, dropout), inSize, 1, G(_layout.WeightIh(l)), inSize, false);
            _k.Gemm(g4, hid, rows, ws.DA[l], 1, g4, ws.H[l], hid, 1, G(_layout.WeightHh(l)), hid, false);
            _k.Gemm(1, g4, rows, _k.Ones, 0, 0, ws.DA[l], g4, 1, G(_layout.BiasIh(l)), g4, false);
            G(_layout.BiasIh(l)).CopyTo(G(_layout.BiasHh(l)));
            if (l > 0)
            {
                // Gradient into the layer below: dInput = dA · W_ih, back through its dropout mask.
                _k.Gemm(rows, hid, g4, ws.DA[l], g4, 1, W(_layout.WeightIh(l)), hid, 1, ws.DH[l - 1], hid, false);
                if (dropout.Active) _k.Dropout(rows * hid, DropoutFor(ws, dropout, l - 1), ws.DH[l - 1], ws.DH[l - 1]);
            }
        }
    }

    private void CopyOutputs(GpuWorkspace ws, ForwardOutputs outs)
    {
        var cfg = Cfg;
        int b = ws.Batch, t = ws.Steps, hid = cfg.HiddenSize, k = cfg.Horizons, state = b * hid;
        if (outs.Mu is not null || outs.LogSigma is not null)
        {
            var o = new float[t * b * 2 * k];
            ws.Output.SubView(0, o.Length).CopyToCPU(o);
            for (var row = 0; row < b; row++)
            {
                for (var s = 0; s < t; s++)
                {
                    var src = o.AsSpan((s * b + row) * 2 * k, 2 * k);
                    src[..k].CopyTo(outs.Mu.AsSpan((row * t + s) * k));
                    src[k..].CopyTo(outs.LogSigma.AsSpan((row * t + s) * k));
                }
            }
        }

        if (outs.Seq is not null)
        {
            var seq = new float[t * state];
            ws.H[cfg.Layers - 1].SubView(state, seq.Length).CopyToCPU(seq);
            for (var row = 0; row < b; row++)
            {
                for (var s = 0; s < t; s++) seq.AsSpan((s * b + row) * hid, hid).CopyTo(outs.Seq.AsSpan((row * t + s) * hid));
            }
        }

        var last = new float[state];
        for (var l = 0; l < cfg.Layers; l++)
        {
            if (outs.Hn is not null)
            {
                ws.H[l].SubView((long)t * state, state).CopyToCPU(last);
                last.CopyTo(outs.Hn, l * state);
            }

            if (outs.Cn is not null)
            {
                ws.C[l].SubView((long)t * state, state).CopyToCPU(last);
                last.CopyTo(outs.Cn, l * state);
            }
        }
    }
}
