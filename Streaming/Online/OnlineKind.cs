using System.Collections.Concurrent;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Weights;
using StreamLstm.Streaming.Online.Replay;
using StreamLstm.Streaming.Registry;

namespace StreamLstm.Streaming.Online;

/// <summary>
/// Online learning's shared state for one source kind: the replay buffer every worker feeds, the serving model (which the
/// trainer replaces on promotion; each worker swaps to it between two micro-batches) and the swap counters.
/// </summary>
public sealed class OnlineKind
{
    private LstmModel _serving;
    private long _swaps;
    private long _rewarmed;
    private long _fresh;
    private readonly ConcurrentDictionary<string, LstmModel> _known = new(StringComparer.Ordinal);
    private readonly string _registry;

    /// <summary>Creates the kind's online state.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="serving">The model serving at start.</param>
    /// <param name="options">Settings.</param>
    public OnlineKind(SourceKind kind, LstmModel serving, OnlineOptions options)
    {
        ArgumentNullException.ThrowIfNull(serving);
        ArgumentNullException.ThrowIfNull(options);
        Kind = kind;
        _serving = serving;
        RewarmSteps = options.RewarmSteps;
        _registry = options.RegistryDirectory;
        Remember(serving);
        var cfg = serving.Config;
        Replay = new ReplayBuffer(cfg.InputSize, cfg.Horizons, cfg.Layers, cfg.HiddenSize, options.Window, options.SnapshotEvery, options.MaxKeys);
    }

    /// <summary>Source kind.</summary>
    public SourceKind Kind { get; }

    /// <summary>The replay buffer.</summary>
    public ReplayBuffer Replay { get; }

    /// <summary>Steps of replayed inputs a swap re-warms each key's state over.</summary>
    public int RewarmSteps { get; }

    /// <summary>The model that should serve; workers still on another one swap before their next micro-batch.</summary>
    public LstmModel Serving => Volatile.Read(ref _serving);

    /// <summary>Worker swaps done (one per worker and promotion).</summary>
    public long Swaps => Interlocked.Read(ref _swaps);

    /// <summary>Keys whose state was re-warmed from their replayed inputs.</summary>
    public long RewarmedKeys => Interlocked.Read(ref _rewarmed);

    /// <summary>Keys that had no replayed history at a swap and started from zero state (flagged).</summary>
    public long FreshKeys => Interlocked.Read(ref _fresh);

    /// <summary>Makes <paramref name="model"/> the serving model (same sizes as the current one).</summary>
    /// <param name="model">The promoted model.</param>
    public void Publish(LstmModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Config != Serving.Config) throw new ArgumentException($"A promoted model must keep the serving model's sizes ({Serving.Config}).", nameof(model));
        Remember(model);
        Volatile.Write(ref _serving, model);
    }

    /// <summary>Makes a version known to <see cref="Resolve"/> without serving it (a model loaded elsewhere).</summary>
    /// <param name="model">The model.</param>
    public void Remember(LstmModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _known[model.Metadata.Version] = model;
    }

    /// <summary>
    /// The model of <paramref name="version"/>, for a partition whose checkpoint or recorded swap names it: one served or
    /// remembered by this process, else the registry's immutable file of that version; null when neither has it.
    /// </summary>
    /// <param name="version">Model version.</param>
    /// <returns>The model, or null.</returns>
    public LstmModel? Resolve(string version)
    {
        ArgumentNullException.ThrowIfNull(version);
        if (_known.TryGetValue(version, out var model)) return model;
        if (string.IsNullOrWhiteSpace(_registry)) return null;
        try
        {
            var path = new ModelRegistry(_registry).PathOf(version);
            if (!File.Exists(path)) return null;
            model = ModelFile.Load(path);
            return _known.GetOrAdd(version, model);
        }
        catch (Exception ex) when (ex is RegistryException or IOException or UnauthorizedAccessException or InvalidDataException or FormatException)
        {
            return null;
        }
    }

    internal void CountSwap() => Interlocked.Increment(ref _swaps);

    internal void CountRewarm(int rewarmed, int fresh)
    {
        Interlocked.Add(ref _rewarmed, rewarmed);
        Interlocked.Add(ref _fresh, fresh);
    }
}

/// <summary>Online learning's state for every kind the pipeline serves.</summary>
public sealed class OnlineLearning
{
    private readonly Dictionary<SourceKind, OnlineKind> _kinds;

    /// <summary>Creates the state for each kind in <paramref name="models"/>.</summary>
    /// <param name="models">Serving model per kind.</param>
    /// <param name="options">Settings.</param>
    public OnlineLearning(IReadOnlyDictionary<SourceKind, LstmModel> models, OnlineOptions options)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _kinds = models.ToDictionary(m => m.Key, m => new OnlineKind(m.Key, m.Value, options));
    }

    /// <summary>Settings.</summary>
    public OnlineOptions Options { get; }

    /// <summary>Every kind's state.</summary>
    public IReadOnlyCollection<OnlineKind> Kinds => _kinds.Values;

    /// <summary>The state of <paramref name="kind"/>, or null when the pipeline does not serve it.</summary>
    /// <param name="kind">Kind.</param>
    /// <returns>The state.</returns>
    public OnlineKind? For(SourceKind kind) => _kinds.GetValueOrDefault(kind);
}
