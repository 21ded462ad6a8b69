namespace StreamLstm.Model.Lstm;

/// <summary>
/// Parameters of a stacked LSTM plus Gaussian head, float32, in PyTorch's layout and gate order (i, f, g, o):
/// <c>weight_ih_l{l}</c> <c>[4H, in]</c>, <c>weight_hh_l{l}</c> <c>[4H, H]</c>, <c>bias_ih_l{l}</c>, <c>bias_hh_l{l}</c> <c>[4H]</c>,
/// <c>head.weight</c> <c>[2K, H]</c>, <c>head.bias</c> <c>[2K]</c>. Head outputs <c>[0,K)</c> are μ, <c>[K,2K)</c> are log σ.
/// Immutable once handed to a stepper (steppers pack their own copies).
/// </summary>
public sealed class LstmModel
{
    /// <summary>Creates a model with zeroed parameters.</summary>
    /// <param name="config">Sizes.</param>
    /// <param name="metadata">Feature names, normalisation and version (defaults when null).</param>
    public LstmModel(LstmConfig config, ModelMetadata? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        Metadata = metadata ?? new ModelMetadata();
        var h4 = 4 * config.HiddenSize;
        WeightIh = new float[config.Layers][];
        WeightHh = new float[config.Layers][];
        BiasIh = new float[config.Layers][];
        BiasHh = new float[config.Layers][];
        for (var l = 0; l < config.Layers; l++)
        {
            WeightIh[l] = new float[h4 * config.LayerInputSize(l)];
            WeightHh[l] = new float[h4 * config.HiddenSize];
            BiasIh[l] = new float[h4];
            BiasHh[l] = new float[h4];
        }

        HeadWeight = new float[2 * config.Horizons * config.HiddenSize];
        HeadBias = new float[2 * config.Horizons];
    }

    /// <summary>Sizes.</summary>
    public LstmConfig Config { get; }

    /// <summary>Feature names, normalisation, version.</summary>
    public ModelMetadata Metadata { get; set; }

    /// <summary>Per layer, <c>weight_ih_l{l}</c> row-major <c>[4H, in]</c>.</summary>
    public float[][] WeightIh { get; }

    /// <summary>Per layer, <c>weight_hh_l{l}</c> row-major <c>[4H, H]</c>.</summary>
    public float[][] WeightHh { get; }

    /// <summary>Per layer, <c>bias_ih_l{l}</c> <c>[4H]</c>.</summary>
    public float[][] BiasIh { get; }

    /// <summary>Per layer, <c>bias_hh_l{l}</c> <c>[4H]</c>.</summary>
    public float[][] BiasHh { get; }

    /// <summary><c>head.weight</c> row-major <c>[2K, H]</c>.</summary>
    public float[] HeadWeight { get; }

    /// <summary><c>head.bias</c> <c>[2K]</c>.</summary>
    public float[] HeadBias { get; }

    /// <summary>
    /// PyTorch's default initialisation: every LSTM and head parameter uniform in ±1/√H, from a seeded generator
    /// (deterministic for a seed, not bit-equal to PyTorch's generator).
    /// </summary>
    /// <param name="config">Sizes.</param>
    /// <param name="seed">Random seed.</param>
    /// <returns>A new model.</returns>
    public static LstmModel CreateRandom(LstmConfig config, int seed)
    {
        var model = new LstmModel(config);
        var rng = new Random(seed);
        var bound = 1.0 / Math.Sqrt(config.HiddenSize);
        foreach (var p in model.Parameters())
        {
            var span = p.Values;
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
            }
        }

        return model;
    }

    /// <summary>Every parameter tensor with its PyTorch name and shape, in a fixed order.</summary>
    /// <returns>Named tensors sharing this model's arrays.</returns>
    public IReadOnlyList<NamedTensor> Parameters()
    {
        var list = new List<NamedTensor>(4 * Config.Layers + 2);
        var h4 = 4 * Config.HiddenSize;
        for (var l = 0; l < Config.Layers; l++)
        {
            list.Add(new NamedTensor($"weight_ih_l{l}", [h4, Config.LayerInputSize(l)], WeightIh[l]));
            list.Add(new NamedTensor($"weight_hh_l{l}", [h4, Config.HiddenSize], WeightHh[l]));
            list.Add(new NamedTensor($"bias_ih_l{l}", [h4], BiasIh[l]));
            list.Add(new NamedTensor($"bias_hh_l{l}", [h4], BiasHh[l]));
        }

        list.Add(new NamedTensor("head.weight", [2 * Config.Horizons, Config.HiddenSize], HeadWeight));
        list.Add(new NamedTensor("head.bias", [2 * Config.Horizons], HeadBias));
        return list;
    }
}

/// <summary>A named float32 tensor view over an array.</summary>
/// <param name="Name">PyTorch parameter name.</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="Values">Row-major values.</param>
public sealed record NamedTensor(string Name, int[] Shape, float[] Values);

/// <summary>What a model file says besides its tensors.</summary>
public sealed record ModelMetadata
{
    /// <summary>Model version written to every forecast.</summary>
    public string Version { get; init; } = "0";

    /// <summary>Names of the I input features, in order.</summary>
    public IReadOnlyList<string> FeatureNames { get; init; } = [];

    /// <summary>Per-feature mean used for normalisation (empty: none).</summary>
    public IReadOnlyList<float> FeatureMean { get; init; } = [];

    /// <summary>Per-feature standard deviation used for normalisation (empty: none).</summary>
    public IReadOnlyList<float> FeatureStd { get; init; } = [];

    /// <summary>Target scale: forecasts are in units of target × <see cref="TargetScale"/> + <see cref="TargetOffset"/>.</summary>
    public float TargetScale { get; init; } = 1f;

    /// <summary>Target offset (see <see cref="TargetScale"/>).</summary>
    public float TargetOffset { get; init; }

    /// <summary>Free-form extra entries kept round-trip.</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();

    /// <summary>Version this model was derived from (fine-tuned or retrained from); empty for a model trained from scratch.</summary>
    public string ParentVersion { get; init; } = "";

    /// <summary>Source kind the model serves (<c>tick</c>, <c>vitals</c>, <c>audio</c>); empty when unknown.</summary>
    public string Kind { get; init; } = "";

    /// <summary>Start of the data it was trained on (a timestamp or an offset, as text); empty when unknown.</summary>
    public string TrainedFrom { get; init; } = "";

    /// <summary>End of the data it was trained on (a timestamp or an offset, as text); empty when unknown.</summary>
    public string TrainedTo { get; init; } = "";

    /// <summary>Evaluation metrics by name (e.g. <c>nll</c>, <c>rmse</c>); empty when none were recorded.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    /// <summary>When this version was created; null for files written before creation times were recorded.</summary>
    public DateTimeOffset? CreatedAt { get; init; }
}
