using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Training.Gpu;

/// <summary>Where each parameter tensor sits in the flat device vector (tensors back to back in <see cref="LstmModel.Parameters"/> order).</summary>
internal sealed class ParameterLayout
{
    public ParameterLayout(LstmConfig cfg)
    {
        var ps = new LstmModel(cfg).Parameters();
        Offsets = new int[ps.Count];
        Lengths = new int[ps.Count];
        var at = 0;
        for (var p = 0; p < ps.Count; p++)
        {
            Offsets[p] = at;
            Lengths[p] = ps[p].Values.Length;
            at += Lengths[p];
        }

        Total = at;
        Layers = cfg.Layers;
    }

    public int[] Offsets { get; }

    public int[] Lengths { get; }

    public int Total { get; }

    private int Layers { get; }

    public int WeightIh(int l) => 4 * l;

    public int WeightHh(int l) => 4 * l + 1;

    public int BiasIh(int l) => 4 * l + 2;

    public int BiasHh(int l) => 4 * l + 3;

    public int HeadWeight => 4 * Layers;

    public int HeadBias => 4 * Layers + 1;

    /// <summary>Copies the model's tensors into one flat array.</summary>
    public float[] Flatten(LstmModel model)
    {
        var flat = new float[Total];
        var ps = model.Parameters();
        for (var p = 0; p < ps.Count; p++) ps[p].Values.CopyTo(flat, Offsets[p]);
        return flat;
    }

    /// <summary>Copies a flat array back into the model's tensors.</summary>
    public void Scatter(ReadOnlySpan<float> flat, LstmModel model)
    {
        var ps = model.Parameters();
        for (var p = 0; p < ps.Count; p++) flat.Slice(Offsets[p], Lengths[p]).CopyTo(ps[p].Values);
    }
}
