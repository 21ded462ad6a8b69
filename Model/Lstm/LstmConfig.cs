namespace StreamLstm.Model.Lstm;

/// <summary>Sizes of a stacked LSTM with a Gaussian forecast head (PyTorch <c>nn.LSTM</c> + <c>nn.Linear(H, 2K)</c>).</summary>
/// <param name="InputSize">I: features per time step.</param>
/// <param name="HiddenSize">H: hidden units per layer.</param>
/// <param name="Layers">L: stacked layers.</param>
/// <param name="Horizons">K: forecast horizons; the head emits K means then K log-sigmas.</param>
public sealed record LstmConfig(int InputSize, int HiddenSize, int Layers, int Horizons)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the first size that is out of range.</summary>
    public void Validate()
    {
        if (InputSize < 1) throw new ArgumentException($"InputSize must be >= 1 (was {InputSize})");
        if (HiddenSize < 1) throw new ArgumentException($"HiddenSize must be >= 1 (was {HiddenSize})");
        if (Layers < 1) throw new ArgumentException($"Layers must be >= 1 (was {Layers})");
        if (Horizons < 1) throw new ArgumentException($"Horizons must be >= 1 (was {Horizons})");
    }

    /// <summary>Input width of layer <paramref name="layer"/> (I for layer 0, H above).</summary>
    /// <param name="layer">Layer index.</param>
    /// <returns>The layer's input width.</returns>
    public int LayerInputSize(int layer) => layer == 0 ? InputSize : HiddenSize;
}
