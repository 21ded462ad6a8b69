using System.Globalization;
using System.Text.Json;
using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Weights;

/// <summary>
/// Loads and saves an <see cref="LstmModel"/> as safetensors with PyTorch's tensor names
/// (<c>weight_ih_l0</c> …, <c>head.weight</c>, <c>head.bias</c>) and a <c>__metadata__</c> block holding the sizes,
/// feature names, normalisation and model version. Loading validates every tensor before building the model: no partial load.
/// </summary>
public static class ModelFile
{
    /// <summary>Metadata key of the format version this code writes.</summary>
    public const string FormatVersion = "streamlstm-lstm-1";

    /// <summary>Loads a model file.</summary>
    /// <param name="path">File path.</param>
    /// <param name="prefix">Prefix of the parameter names (e.g. <c>param.</c> in reference fixtures).</param>
    /// <returns>The model.</returns>
    /// <exception cref="SafetensorsException">The file is unreadable, corrupt, or a tensor is missing or misshapen (named in the message).</exception>
    public static LstmModel Load(string path, string prefix = "")
    {
        var content = SafetensorsFile.Read(path);
        try
        {
            return FromContent(content, prefix);
        }
        catch (SafetensorsException e)
        {
            throw new SafetensorsException(e.TensorName, $"{path}: {e.Message}");
        }
    }

    /// <summary>Builds a model from parsed safetensors content. Sizes come from the tensor shapes (metadata sizes are cross-checked when present).</summary>
    /// <param name="content">Parsed file.</param>
    /// <param name="prefix">Prefix of the parameter names.</param>
    /// <param name="requireHead">When false and the head is absent, the model gets a zero head with one horizon (inference peers ship LSTM weights only).</param>
    /// <returns>The model.</returns>
    public static LstmModel FromContent(SafetensorsContent content, string prefix = "", bool requireHead = true)
    {
        ArgumentNullException.ThrowIfNull(content);
        prefix ??= "";
        var t = content.Tensors;
        var wih0 = Get(t, prefix + "weight_ih_l0");
        if (wih0.Shape.Length != 2 || wih0.Shape[0] % 4 != 0 || wih0.Shape[0] == 0 || wih0.Shape[1] < 1)
        {
            throw new SafetensorsException(wih0.Name, $"Tensor '{wih0.Name}' has shape [{string.Join(", ", wih0.Shape)}]; expected [4H, I].");
        }

        var hidden = wih0.Shape[0] / 4;
        var input = wih0.Shape[1];
        var layers = 0;
        while (t.ContainsKey($"{prefix}weight_ih_l{layers}")) layers++;
        var headName = prefix + "head.weight";
        int horizons;
        var hasHead = t.TryGetValue(headName, out var headW);
        if (hasHead)
        {
            if (headW!.Shape.Length != 2 || headW.Shape[0] % 2 != 0 || headW.Shape[0] == 0)
            {
                throw new SafetensorsException(headName, $"Tensor '{headName}' has shape [{string.Join(", ", headW.Shape)}]; expected [2K, {hidden}].");
            }

            horizons = headW.Shape[0] / 2;
        }
        else if (requireHead)
        {
            throw new SafetensorsException(headName, $"Missing tensor '{headName}'.");
        }
        else
        {
            horizons = 1;
        }

        var meta = content.Metadata;
        CheckMeta(meta, "input_size", input);
        CheckMeta(meta, "hidden_size", hidden);
        CheckMeta(meta, "num_layers", layers);
        if (hasHead) CheckMeta(meta, "horizons", horizons);

        var config = new LstmConfig(input, hidden, layers, horizons);
        var model = new LstmModel(config, ReadMetadata(meta));
        // Validate and convert all tensors first, then copy: a failure leaves nothing half-loaded.
        var loaded = new List<(float[] Dest, float[] Values)>();
        foreach (var p in model.Parameters())
        {
            if (!hasHead && p.Name.StartsWith("head.", StringComparison.Ordinal)) continue;
            var st = Get(t, prefix + p.Name);
            if (!st.Shape.SequenceEqual(p.Shape))
            {
                throw new SafetensorsException(st.Name,
                    $"Tensor '{st.Name}' has shape [{string.Join(", ", st.Shape)}]; expected [{string.Join(", ", p.Shape)}] for I={input}, H={hidden}, L={layers}, K={horizons}.");
            }

            var values = st.ToSingle();
            for (var i = 0; i < values.Length; i++)
            {
                if (!float.IsFinite(values[i])) throw new SafetensorsException(st.Name, $"Tensor '{st.Name}' holds a non-finite value at index {i}.");
            }

            loaded.Add((p.Values, values));
        }

        foreach (var (dest, values) in loaded) values.CopyTo(dest, 0);
        return model;
    }

    /// <summary>Saves a model as float32 safetensors with its metadata.</summary>
    /// <param name="model">Model.</param>
    /// <param name="path">Destination (written to a temporary file, then moved into place).</param>
    public static void Save(LstmModel model, string path)
    {
        var bytes = ToBytes(model);
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Serialises a model as float32 safetensors.</summary>
    /// <param name="model">Model.</param>
    /// <returns>File bytes.</returns>
    public static byte[] ToBytes(LstmModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var tensors = model.Parameters()
            .Select(p => (p.Name, p.Shape, (ReadOnlyMemory<double>)p.Values.Select(v => (double)v).ToArray()));
        return SafetensorsFile.Serialize(tensors, WriteMetadata(model));
    }

    private static SafeTensor Get(IReadOnlyDictionary<string, SafeTensor> t, string name) =>
        t.TryGetValue(name, out var v) ? v : throw new SafetensorsException(name, $"Missing tensor '{name}'.");

    private static void CheckMeta(IReadOnlyDictionary<string, string> meta, string key, int actual)
    {
        if (meta.TryGetValue(key, out var s) && int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v != actual)
        {
            throw new SafetensorsException($"Metadata says {key}={v} but the tensors imply {actual}.");
        }
    }

    private static Dictionary<string, string> WriteMetadata(LstmModel model)
    {
        var cfg = model.Config;
        var m = model.Metadata;
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var kv in m.Extra) d[kv.Key] = kv.Value;
        d["format"] = FormatVersion;
        d["input_size"] = cfg.InputSize.ToString(CultureInfo.InvariantCulture);
        d["hidden_size"] = cfg.HiddenSize.ToString(CultureInfo.InvariantCulture);
        d["num_layers"] = cfg.Layers.ToString(CultureInfo.InvariantCulture);
        d["horizons"] = cfg.Horizons.ToString(CultureInfo.InvariantCulture);
        d["gate_order"] = "i,f,g,o (PyTorch nn.LSTM)";
        d["version"] = m.Version;
        d["feature_names"] = JsonSerializer.Serialize(m.FeatureNames);
        d["feature_mean"] = JsonSerializer.Serialize(m.FeatureMean);
        d["feature_std"] = JsonSerializer.Serialize(m.FeatureStd);
        d["target_scale"] = m.TargetScale.ToString("R", CultureInfo.InvariantCulture);
        d["target_offset"] = m.TargetOffset.ToString("R", CultureInfo.InvariantCulture);
        // Lineage keys are written only when set, so files without them stay byte-identical to the older format.
        if (m.ParentVersion.Length > 0) d["parent_version"] = m.ParentVersion;
        if (m.Kind.Length > 0) d["kind"] = m.Kind;
        if (m.TrainedFrom.Length > 0) d["trained_from"] = m.TrainedFrom;
        if (m.TrainedTo.Length > 0) d["trained_to"] = m.TrainedTo;
        if (m.Metrics.Count > 0) d["metrics"] = JsonSerializer.Serialize(m.Metrics.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
        if (m.CreatedAt is { } created) d["created_at"] = created.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);
        return d;
    }

    private static readonly HashSet<string> KnownKeys =
    [
        "format", "input_size", "hidden_size", "num_layers", "horizons", "gate_order", "version", "feature_names",
        "feature_mean", "feature_std", "target_scale", "target_offset", "parent_version", "kind", "trained_from", "trained_to", "metrics",
        "created_at",
    ];

    private static ModelMetadata ReadMetadata(IReadOnlyDictionary<string, string> meta)
    {
        try
        {
            var extra = meta.Where(kv => !KnownKeys.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            return new ModelMetadata
            {
                Version = meta.GetValueOrDefault("version", "0"),
                FeatureNames = meta.TryGetValue("feature_names", out var fn) ? JsonSerializer.Deserialize<string[]>(fn) ?? [] : [],
                FeatureMean = meta.TryGetValue("feature_mean", out var fm) ? JsonSerializer.Deserialize<float[]>(fm) ?? [] : [],
                FeatureStd = meta.TryGetValue("feature_std", out var fs) ? JsonSerializer.Deserialize<float[]>(fs) ?? [] : [],
                TargetScale = meta.TryGetValue("target_scale", out var ts) ? float.Parse(ts, CultureInfo.InvariantCulture) : 1f,
                TargetOffset = meta.TryGetValue("target_offset", out var to) ? float.Parse(to, CultureInfo.InvariantCulture) : 0f,
                Extra = extra,
                ParentVersion = meta.GetValueOrDefault("parent_version", ""),
                Kind = meta.GetValueOrDefault("kind", ""),
                TrainedFrom = meta.GetValueOrDefault("trained_from", ""),
                TrainedTo = meta.GetValueOrDefault("trained_to", ""),
                Metrics = meta.TryGetValue("metrics", out var mx) ? JsonSerializer.Deserialize<Dictionary<string, double>>(mx) ?? new Dictionary<string, double>() : new Dictionary<string, double>(),
                CreatedAt = meta.TryGetValue("created_at", out var ca)
                    ? DateTimeOffset.Parse(ca, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal)
                    : null,
            };
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            throw new SafetensorsException($"Corrupt metadata: {e.Message}", e);
        }
    }
}
