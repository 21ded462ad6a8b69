using ILGPU;
using ILGPU.Runtime;
using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Training.Gpu;

/// <summary>
/// Device activations and gradients for windows of one shape (B, T), all time-major: a row index is t·B + b.
/// Per layer: gates <c>[T·B, 4H]</c> (input projection, then activated gates), h and c <c>[(T+1)·B, H]</c> (row block 0 is
/// the initial state), dA <c>[T·B, 4H]</c>, dH <c>[T·B, H]</c> (gradient arriving from above), the dropped input of layers
/// above 0 <c>[T·B, H]</c>; the head output and its gradient <c>[T·B, 2K]</c>; targets, mask and per-element loss <c>[T·B·K]</c>.
/// </summary>
internal sealed class GpuWorkspace : IDisposable
{
    private readonly List<MemoryBuffer1D<float, Stride1D.Dense>> _owned = [];

    public GpuWorkspace(Accelerator acc, LstmConfig cfg, int batch, int steps)
    {
        Batch = batch;
        Steps = steps;
        int b = batch, t = steps, hid = cfg.HiddenSize, k = cfg.Horizons, layers = cfg.Layers;
        X = New(acc, (long)t * b * cfg.InputSize);
        Y = New(acc, (long)t * b * k);
        Mask = New(acc, (long)t * b * k);
        Weights = New(acc, b);
        Loss = New(acc, (long)t * b * k);
        Output = New(acc, (long)t * b * 2 * k);
        DOutput = New(acc, (long)t * b * 2 * k);
        Dc = New(acc, (long)b * hid);
        Gates = new ArrayView<float>[layers];
        H = new ArrayView<float>[layers];
        C = new ArrayView<float>[layers];
        DA = new ArrayView<float>[layers];
        DH = new ArrayView<float>[layers];
        Dropped = new ArrayView<float>[layers];
        for (var l = 0; l < layers; l++)
        {
            Gates[l] = New(acc, (long)t * b * 4 * hid);
            H[l] = New(acc, (long)(t + 1) * b * hid);
            C[l] = New(acc, (long)(t + 1) * b * hid);
            DA[l] = New(acc, (long)t * b * 4 * hid);
            DH[l] = New(acc, (long)t * b * hid);
            Dropped[l] = l > 0 ? New(acc, (long)t * b * hid) : default;
        }

        HostX = new float[t * b * cfg.InputSize];
        HostY = new float[t * b * k];
        HostMask = new float[t * b * k];
    }

    public int Batch { get; }

    public int Steps { get; }

    public ArrayView<float> X { get; }

    public ArrayView<float> Y { get; }

    public ArrayView<float> Mask { get; }

    public ArrayView<float> Weights { get; }

    public ArrayView<float> Loss { get; }

    public ArrayView<float> Output { get; }

    public ArrayView<float> DOutput { get; }

    public ArrayView<float> Dc { get; }

    public ArrayView<float>[] Gates { get; }

    public ArrayView<float>[] H { get; }

    public ArrayView<float>[] C { get; }

    public ArrayView<float>[] DA { get; }

    public ArrayView<float>[] DH { get; }

    public ArrayView<float>[] Dropped { get; }

    /// <summary>Whether the current batch bound a mask.</summary>
    public bool HasMask { get; set; }

    /// <summary>Whether the current batch bound per-row weights.</summary>
    public bool HasWeights { get; set; }

    /// <summary>Host staging for the batch-major → time-major relayout of x.</summary>
    public float[] HostX { get; }

    /// <summary>Host staging for y.</summary>
    public float[] HostY { get; }

    /// <summary>Host staging for the mask.</summary>
    public float[] HostMask { get; }

    private ArrayView<float> New(Accelerator acc, long length)
    {
        var buffer = acc.Allocate1D<float>(Math.Max(1, length));
        _owned.Add(buffer);
        return buffer.View;
    }

    public void Dispose()
    {
        foreach (var b in _owned) b.Dispose();
        _owned.Clear();
    }
}
