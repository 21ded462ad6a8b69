using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Training;

/// <summary>
/// Gradients of the loss with respect to every model parameter, float64, in PyTorch's layout and names
/// (same order and shapes as <see cref="LstmModel.Parameters"/>).
/// </summary>
public sealed class Gradients
{
    /// <summary>Creates zeroed gradients for a model of <paramref name="config"/>'s sizes.</summary>
    /// <param name="config">Sizes.</param>
    public Gradients(LstmConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        var shapes = new LstmModel(config).Parameters();
        Names = shapes.Select(p => p.Name).ToArray();
        Shapes = shapes.Select(p => p.Shape).ToArray();
        Values = shapes.Select(p => new double[p.Values.Length]).ToArray();
    }

    /// <summary>Sizes.</summary>
    public LstmConfig Config { get; }

    /// <summary>Parameter names, in <see cref="LstmModel.Parameters"/> order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Parameter shapes.</summary>
    public IReadOnlyList<int[]> Shapes { get; }

    /// <summary>Gradient values per parameter.</summary>
    public double[][] Values { get; }

    /// <summary>The gradient of the parameter called <paramref name="name"/>.</summary>
    /// <param name="name">PyTorch parameter name (e.g. <c>weight_hh_l0</c>, <c>head.bias</c>).</param>
    /// <returns>Its values.</returns>
    public double[] this[string name]
    {
        get
        {
            for (var i = 0; i < Names.Count; i++)
            {
                if (Names[i] == name) return Values[i];
            }

            throw new KeyNotFoundException($"No parameter '{name}'.");
        }
    }

    /// <summary>Sets every gradient to zero.</summary>
    public void Clear()
    {
        foreach (var v in Values) Array.Clear(v);
    }

    /// <summary>Euclidean norm over all gradients.</summary>
    /// <returns>The norm.</returns>
    public double Norm()
    {
        var s = 0.0;
        foreach (var v in Values)
        {
            foreach (var g in v) s += g * g;
        }

        return Math.Sqrt(s);
    }

    /// <summary>Multiplies every gradient by <paramref name="factor"/>.</summary>
    /// <param name="factor">Scale.</param>
    public void Scale(double factor)
    {
        foreach (var v in Values)
        {
            for (var i = 0; i < v.Length; i++) v[i] *= factor;
        }
    }

    /// <summary>PyTorch's <c>clip_grad_norm_</c>: scales the gradients so their norm is at most <paramref name="maxNorm"/>.</summary>
    /// <param name="maxNorm">Largest allowed norm.</param>
    /// <returns>The norm before clipping.</returns>
    public double ClipNorm(double maxNorm)
    {
        var norm = Norm();
        if (maxNorm > 0 && norm > maxNorm) Scale(maxNorm / (norm + 1e-6));
        return norm;
    }
}
