using System.Text.Json;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Weights;

namespace StreamLstm.Streaming.Registry;

/// <summary>
/// A directory of immutable model versions: <c>versions/VERSION.safetensors</c> (each with its lineage in the metadata) and
/// <c>registry.json</c> (the serving version per kind and the promotion history). Every file is written atomically, owner-only;
/// a version file is never overwritten. Not safe for two writers at once (the CLI is run by one operator at a time).
/// </summary>
public sealed class ModelRegistry
{
    /// <summary>Default registry directory (<c>Models:Registry</c>).</summary>
    public const string DefaultDirectory = "artifacts/models";

    /// <summary>Kinds a registry serves.</summary>
    public static readonly IReadOnlyList<string> Kinds = ["tick", "vitals", "audio"];

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
    private readonly TimeProvider _time;

    /// <summary>Opens (does not create) the registry at <paramref name="directory"/>.</summary>
    /// <param name="directory">Registry directory.</param>
    /// <param name="time">Clock for creation and promotion times.</param>
    public ModelRegistry(string directory, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = Path.GetFullPath(directory);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Registry directory (absolute).</summary>
    public string Directory { get; }

    /// <summary>Path of the index file.</summary>
    public string IndexPath => Path.Combine(Directory, "registry.json");

    private string VersionsDirectory => Path.Combine(Directory, "versions");

    /// <summary>Path a version's file has (whether or not it exists).</summary>
    /// <param name="version">Version name.</param>
    /// <returns>The file path.</returns>
    public string PathOf(string version)
    {
        CheckVersionName(version);
        return Path.Combine(VersionsDirectory, version + ".safetensors");
    }

    /// <summary>Adds a model as a new version. Its metadata gets the version, kind, parent and (if unset) creation time.</summary>
    /// <param name="model">The model (its metadata is replaced with the stored one).</param>
    /// <param name="kind">Kind it serves.</param>
    /// <param name="version">Version name; null: the model's own version when usable, else <c>KIND-yyyyMMddTHHmmssfffZ</c>.</param>
    /// <param name="parent">Parent version (empty: keep the model's own).</param>
    /// <returns>The stored version name.</returns>
    /// <exception cref="RegistryException">Bad kind or name, or the version exists already.</exception>
    public string Save(LstmModel model, string kind, string? version = null, string? parent = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        CheckKind(kind);
        var now = _time.GetUtcNow();
        var own = model.Metadata.Version;
        version = string.IsNullOrWhiteSpace(version)
            ? (own != "0" && IsValidName(own) && !File.Exists(PathOf(own)) ? own : $"{kind}-{now:yyyyMMdd'T'HHmmssfff'Z'}")
            : version;
        var path = PathOf(version);
        if (File.Exists(path)) throw new RegistryException($"version '{version}' already exists in {Directory}; versions are immutable: choose another --version.");
        if (!string.IsNullOrEmpty(parent) && !File.Exists(PathOf(parent))) throw new RegistryException($"parent version '{parent}' is not in {Directory}.");
        if (model.Metadata.Metrics.Values.Any(v => !double.IsFinite(v))) throw new RegistryException("metrics must be finite numbers.");
        model.Metadata = model.Metadata with
        {
            Version = version,
            Kind = kind,
            ParentVersion = string.IsNullOrEmpty(parent) ? model.Metadata.ParentVersion : parent,
            CreatedAt = model.Metadata.CreatedAt ?? now,
        };
        PrivateFile.EnsureDirectory(Directory);
        PrivateFile.EnsureDirectory(VersionsDirectory);
        try
        {
            PrivateFile.WriteAtomic(path, ModelFile.ToBytes(model), overwrite: false);
        }
        catch (IOException e) when (File.Exists(path))
        {
            throw new RegistryException($"version '{version}' already exists in {Directory}; versions are immutable: choose another --version.", e);
        }

        return version;
    }

    /// <summary>Adds an existing safetensors model file as a new version (the file is validated and copied, not moved).</summary>
    /// <param name="file">Model file.</param>
    /// <param name="kind">Kind it serves.</param>
    /// <param name="version">Version name (null: see <see cref="Save"/>).</param>
    /// <param name="parent">Parent version.</param>
    /// <returns>The stored version name.</returns>
    /// <exception cref="SafetensorsException">The file is not a usable model.</exception>
    public string Register(string file, string kind, string? version = null, string? parent = null) =>
        Save(ModelFile.Load(file), kind, version, parent);

    /// <summary>Every stored version, oldest first, with whether it serves.</summary>
    /// <param name="kind">Only this kind (null: all).</param>
    /// <returns>Entries.</returns>
    public IReadOnlyList<RegistryEntry> List(string? kind = null)
    {
        if (kind is not null) CheckKind(kind);
        if (!System.IO.Directory.Exists(VersionsDirectory)) return [];
        var index = ReadIndex();
        var serving = index.Kinds.Values.Select(k => k.Serving).ToHashSet(StringComparer.Ordinal);
        return System.IO.Directory.EnumerateFiles(VersionsDirectory, "*.safetensors")
            .Select(p => (Version: Path.GetFileNameWithoutExtension(p), Path: p))
            .Where(v => IsValidName(v.Version))
            .Select(v => new RegistryEntry(v.Version, v.Path, ModelFile.Load(v.Path).Metadata, serving.Contains(v.Version)))
            .Where(e => kind is null || e.Metadata.Kind == kind)
            .OrderBy(e => e.Metadata.CreatedAt ?? DateTimeOffset.MinValue)
            .ThenBy(e => e.Version, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The version serving <paramref name="kind"/>, or null when none was promoted.</summary>
    /// <param name="kind">Kind.</param>
    /// <returns>Version name or null.</returns>
    public string? ServingVersion(string kind)
    {
        CheckKind(kind);
        return ReadIndex().Kinds.TryGetValue(kind, out var k) && k.Serving.Length > 0 ? k.Serving : null;
    }

    /// <summary>The file of the version serving <paramref name="kind"/>, or null when none.</summary>
    /// <param name="kind">Kind.</param>
    /// <returns>Path or null.</returns>
    /// <exception cref="RegistryException">The index names a version whose file is missing.</exception>
    public string? ServingPath(SourceKind kind)
    {
        var version = ServingVersion(kind.ToWireName());
        if (version is null) return null;
        var path = PathOf(version);
        return File.Exists(path) ? path : throw new RegistryException($"{IndexPath} says '{version}' serves {kind.ToWireName()}, but {path} is missing.");
    }

    /// <summary>Makes <paramref name="version"/> serve its kind; the version it replaces can be rolled back to.</summary>
    /// <param name="version">Version.</param>
    /// <returns>The kind and the version replaced (empty when none); Replaced equals Version when it already served.</returns>
    /// <exception cref="RegistryException">Unknown version, or its file names no kind.</exception>
    public (string Kind, string Replaced) Promote(string version)
    {
        var path = PathOf(version);
        if (!File.Exists(path)) throw new RegistryException($"unknown version '{version}': no {path}. See `streamlstm model list`.");
        var kind = ModelFile.Load(path).Metadata.Kind;
        if (!Kinds.Contains(kind)) throw new RegistryException($"version '{version}' has no kind in its metadata (got '{kind}'); register it again with --kind.");
        var index = ReadIndex();
        var k = index.Kinds.TryGetValue(kind, out var existing) ? existing : index.Kinds[kind] = new KindServing();
        if (k.Serving == version) return (kind, version);
        var replaced = k.Serving;
        if (replaced.Length > 0) k.Previous.Add(replaced);
        k.Serving = version;
        index.History.Add(new ServingChange(_time.GetUtcNow(), "promote", kind, version, replaced));
        WriteIndex(index);
        return (kind, replaced);
    }

    /// <summary>Returns <paramref name="kind"/> to the version served before the current one.</summary>
    /// <param name="kind">Kind.</param>
    /// <returns>The version now serving and the one it replaced.</returns>
    /// <exception cref="RegistryException">Unknown kind, or nothing to roll back to.</exception>
    public (string Version, string Replaced) Rollback(string kind)
    {
        CheckKind(kind);
        var index = ReadIndex();
        if (!index.Kinds.TryGetValue(kind, out var k) || k.Serving.Length == 0) throw new RegistryException($"nothing to roll back: no version serves {kind}.");
        if (k.Previous.Count == 0) throw new RegistryException($"nothing to roll back: '{k.Serving}' is the first version that served {kind}.");
        var back = k.Previous[^1];
        if (!File.Exists(PathOf(back))) throw new RegistryException($"cannot roll back {kind} to '{back}': its file is missing.");
        k.Previous.RemoveAt(k.Previous.Count - 1);
        var replaced = k.Serving;
        k.Serving = back;
        index.History.Add(new ServingChange(_time.GetUtcNow(), "rollback", kind, back, replaced));
        WriteIndex(index);
        return (back, replaced);
    }

    /// <summary>Reads <c>registry.json</c> (an empty index when absent).</summary>
    /// <returns>The index.</returns>
    /// <exception cref="RegistryException">The file is unreadable or corrupt.</exception>
    public RegistryIndex ReadIndex()
    {
        if (!File.Exists(IndexPath)) return new RegistryIndex();
        try
        {
            return JsonSerializer.Deserialize<RegistryIndex>(File.ReadAllBytes(IndexPath)) ?? new RegistryIndex();
        }
        catch (JsonException e)
        {
            throw new RegistryException($"{IndexPath} is corrupt: {e.Message}", e);
        }
    }

    private void WriteIndex(RegistryIndex index)
    {
        PrivateFile.EnsureDirectory(Directory);
        PrivateFile.WriteAtomic(IndexPath, JsonSerializer.SerializeToUtf8Bytes(index, JsonOptions), overwrite: true);
    }

    /// <summary>Throws unless <paramref name="kind"/> is <c>tick</c>, <c>vitals</c> or <c>audio</c>.</summary>
    /// <param name="kind">Kind.</param>
    public static void CheckKind(string kind)
    {
        if (!Kinds.Contains(kind)) throw new RegistryException($"unknown kind '{kind}': use one of {string.Join(", ", Kinds)}.");
    }

    private static void CheckVersionName(string version)
    {
        if (!IsValidName(version))
        {
            throw new RegistryException($"bad version name '{version}': use 1-128 letters, digits, '.', '_' or '-', not starting with '.' or '-'.");
        }
    }

    private static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 128 && name[0] != '.' && name[0] != '-'
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
}
