using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Training;

/// <summary>Adam (Kingma &amp; Ba, as <c>torch.optim.Adam</c> without weight decay) over every model parameter; float64 moments.</summary>
public sealed class AdamOptimizer
{
    private readonly IReadOnlyList<NamedTensor> _params;
    private readonly double[][] _m;
    private readonly double[][] _v;
    private int _t;

    /// <summary>Creates the optimizer for <paramref name="model"/>'s parameters (updated in place).</summary>
    /// <param name="model">Model.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Second-moment decay.</param>
    /// <param name="epsilon">Denominator guard.</param>
    public AdamOptimizer(LstmModel model, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(model);
        _params = model.Parameters();
        _m = _params.Select(p => new double[p.Values.Length]).ToArray();
        _v = _params.Select(p => new double[p.Values.Length]).ToArray();
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    /// <summary>Step size (may be changed between steps).</summary>
    public double LearningRate { get; set; }

    /// <summary>First-moment decay.</summary>
    public double Beta1 { get; }

    /// <summary>Second-moment decay.</summary>
    public double Beta2 { get; }

    /// <summary>Denominator guard.</summary>
    public double Epsilon { get; }

    /// <summary>Steps taken.</summary>
    public int StepCount => _t;

    /// <summary>A copy of the moments and step count, to resume training later.</summary>
    /// <returns>The state.</returns>
    public AdamState Export() => new(_t, _m.Select(a => (double[])a.Clone()).ToArray(), _v.Select(a => (double[])a.Clone()).ToArray());

    /// <summary>Continues from <paramref name="state"/> (from <see cref="Export"/> of an optimizer of the same sizes).</summary>
    /// <param name="state">State.</param>
    public void Import(AdamState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.M.Length != _m.Length || state.V.Length != _v.Length) throw new ArgumentException("Adam state has a different parameter count.");
        for (var p = 0; p < _m.Length; p++)
        {
            if (state.M[p].Length != _m[p].Length || state.V[p].Length != _v[p].Length) throw new ArgumentException($"Adam state for {_params[p].Name} has a different size.");
            state.M[p].CopyTo(_m[p], 0);
            state.V[p].CopyTo(_v[p], 0);
        }

        _t = state.Step;
    }

    /// <summary>Applies one update from <paramref name="grads"/>.</summary>
    /// <param name="grads">Gradients in <see cref="LstmModel.Parameters"/> order.</param>
    public void Step(Gradients grads)
    {
        ArgumentNullException.ThrowIfNull(grads);
        _t++;
        var c1 = 1 - Math.Pow(Beta1, _t);
        var c2 = 1 - Math.Pow(Beta2, _t);
        for (var p = 0; p < _params.Count; p++)
        {
            var w = _params[p].Values;
            var g = grads.Values[p];
            double[] m = _m[p], v = _v[p];
            for (var i = 0; i < w.Length; i++)
            {
                m[i] = Beta1 * m[i] + (1 - Beta1) * g[i];
                v[i] = Beta2 * v[i] + (1 - Beta2) * g[i] * g[i];
                var update = LearningRate * (m[i] / c1) / (Math.Sqrt(v[i] / c2) + Epsilon);
                w[i] = (float)(w[i] - update);
            }
        }
    }
}
