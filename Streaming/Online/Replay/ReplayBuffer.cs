using StreamLstm.Model.State;

namespace StreamLstm.Streaming.Online.Replay;

/// <summary>
/// The replay buffer of one source kind: a <see cref="KeyRing"/> per key (at most <c>maxKeys</c>; beyond it the least
/// recently fed key's ring is handed to the new key, so memory is bounded: <see cref="BytesPerKey"/> × maxKeys).
/// Workers feed it once per micro-batch under its lock (<see cref="BeginFeed"/> … <see cref="EndFeed"/>), copying a few
/// floats per event and allocating nothing except a ring for a key seen for the first time; the trainer copies windows
/// out with <see cref="Sample"/>. Targets are not stored: head k's target at step t is input <c>TargetFeature</c> of
/// event t+k+1, as the feature extractors define it.
/// </summary>
public sealed partial class ReplayBuffer
{
    private const float HalfLog2Pi = 0.9189385f;
    private readonly object _gate = new();
    private readonly Dictionary<string, KeyRing> _keys = new(StringComparer.Ordinal);
    // Every ring made, for the trainer to read without the lock (rings are reused, never dropped; replaced only by a load).
    private KeyRing[] _rings = [];
    private int _ringCount;
    // Seqlock over the rings: odd while a feed (or a load, or a snapshot reset) may be writing them. The trainer copies
    // optimistically and retries when it changed, so a worker never waits for the trainer (which runs at idle priority).
    private int _version;
    private long _seq;
    private double _nllSum;
    private long _nllCount;
    private long _events;

    /// <summary>Creates an empty buffer.</summary>
    /// <param name="inputs">I.</param>
    /// <param name="horizons">K.</param>
    /// <param name="layers">L.</param>
    /// <param name="hidden">H.</param>
    /// <param name="window">W: events per key.</param>
    /// <param name="snapshotEvery">S: events between (h, c) snapshots.</param>
    /// <param name="maxKeys">Keys held at most.</param>
    /// <param name="targetFeature">Input index of the forecast target (0 for every kind today).</param>
    public ReplayBuffer(int inputs, int horizons, int layers, int hidden, int window, int snapshotEvery, int maxKeys, int targetFeature = 0)
    {
        if (inputs < 1 || horizons < 1 || layers < 1 || hidden < 1) throw new ArgumentException("Sizes must be >= 1.");
        if (snapshotEvery < 1 || window < snapshotEvery) throw new ArgumentException($"window ({window}) must be >= snapshotEvery ({snapshotEvery}) >= 1.");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxKeys, 1);
        if ((uint)targetFeature >= (uint)inputs) throw new ArgumentOutOfRangeException(nameof(targetFeature));
        Inputs = inputs;
        Horizons = horizons;
        Layers = layers;
        Hidden = hidden;
        Window = window;
        SnapshotEvery = snapshotEvery;
        MaxKeys = maxKeys;
        TargetFeature = targetFeature;
    }

    /// <summary>I.</summary>
    public int Inputs { get; }

    /// <summary>K.</summary>
    public int Horizons { get; }

    /// <summary>L.</summary>
    public int Layers { get; }

    /// <summary>H.</summary>
    public int Hidden { get; }

    /// <summary>W.</summary>
    public int Window { get; }

    /// <summary>S.</summary>
    public int SnapshotEvery { get; }

    /// <summary>Most keys held.</summary>
    public int MaxKeys { get; }

    /// <summary>Input index of the target.</summary>
    public int TargetFeature { get; }

    /// <summary>Floats of one (h) or (c) state: L·H.</summary>
    public int StateFloats => Layers * Hidden;

    /// <summary>Bytes one key's ring takes.</summary>
    public long BytesPerKey => sizeof(float) * ((long)Window * (Inputs + 1) + 2L * (Window / SnapshotEvery) * StateFloats) + sizeof(long) * (Window / SnapshotEvery);

    /// <summary>Keys held.</summary>
    public int KeyCount
    {
        get
        {
            lock (_gate) return _keys.Count;
        }
    }

    /// <summary>Rings handed from an idle key to a new one (the memory bound at work).</summary>
    public long Evictions { get; private set; }

    /// <summary>Takes the feed lock (one per micro-batch); every <see cref="RingFor"/>/<see cref="Record"/>/<see cref="Forecast"/> call sits inside it.</summary>
    public void BeginFeed()
    {
        Monitor.Enter(_gate);
        Interlocked.Increment(ref _version); // odd: writing (a full fence, so no ring write moves before it)
    }

    /// <summary>Releases the feed lock.</summary>
    public void EndFeed()
    {
        Interlocked.Increment(ref _version); // even: consistent again
        Monitor.Exit(_gate);
    }

    /// <summary>True when <paramref name="ring"/> (cached by the caller) still belongs to <paramref name="key"/>.</summary>
    /// <param name="ring">Cached ring (may be null).</param>
    /// <param name="key">The key (the same string instance the caller holds).</param>
    /// <returns>Whether the cached ring can be used.</returns>
    public static bool Owns(KeyRing? ring, string key) => ring is not null && (ReferenceEquals(ring.Key, key) || string.Equals(ring.Key, key, StringComparison.Ordinal));

    /// <summary>The ring of <paramref name="key"/>, creating it (or taking over the least recently fed one at the cap). Under the feed lock.</summary>
    /// <param name="key">Key.</param>
    /// <returns>The ring.</returns>
    public KeyRing RingFor(string key)
    {
        if (_keys.TryGetValue(key, out var ring)) return ring;
        if (_keys.Count >= MaxKeys)
        {
            // Bounded memory: the key fed least recently gives its ring up (a scan, only when a new key arrives at the cap).
            KeyRing? oldest = null;
            foreach (var r in _keys.Values)
            {
                if (oldest is null || r.LastSeq < oldest.LastSeq) oldest = r;
            }

            _keys.Remove(oldest!.Key);
            oldest.Reset(key);
            Evictions++;
            ring = oldest;
        }
        else
        {
            ring = new KeyRing(Inputs, Window, SnapshotEvery, StateFloats);
            ring.Reset(key);
            AddRing(ring);
        }

        _keys[key] = ring;
        return ring;
    }

    // Publishes a new ring to lock-free readers: the array before the count, so a reader that sees the count sees the ring.
    private void AddRing(KeyRing ring)
    {
        var rings = _rings;
        if (_ringCount == rings.Length)
        {
            Array.Resize(ref rings, Math.Max(16, rings.Length * 2));
        }

        rings[_ringCount] = ring;
        Volatile.Write(ref _rings, rings);
        Volatile.Write(ref _ringCount, _ringCount + 1);
    }

    private void ReplaceRings(KeyRing[] rings)
    {
        Volatile.Write(ref _ringCount, 0);
        Volatile.Write(ref _rings, rings);
        Volatile.Write(ref _ringCount, rings.Length);
    }

    /// <summary>
    /// Records one event of the key in <paramref name="slot"/> before it is stepped: its inputs, its surprise under the
    /// key's previous forecast, and (every S events) the key's (h, c) as it is now. Under the feed lock; allocates nothing.
    /// </summary>
    /// <param name="ring">The key's ring.</param>
    /// <param name="x">The event's I normalised inputs.</param>
    /// <param name="slab">State slab holding the key's (h, c) before this event's step.</param>
    /// <param name="slot">The key's slot.</param>
    /// <param name="eventMs">The event's time (Unix ms): the key's recency when a sample ranks keys.</param>
    public void Record(KeyRing ring, ReadOnlySpan<float> x, StateSlab slab, int slot, long eventMs)
    {
        ArgumentNullException.ThrowIfNull(ring);
        ArgumentNullException.ThrowIfNull(slab);
        var pos = ring.Pos;
        if (ring.UntilSnapshot == 0)
        {
            ring.CaptureSnapshot(slab, slot, StateFloats, SnapshotEvery);
            ring.UntilSnapshot = SnapshotEvery;
        }

        ring.UntilSnapshot--;
        ring.Pos = pos + 1 == Window ? 0 : pos + 1;
        x[..Inputs].CopyTo(ring.X.AsSpan(pos * Inputs, Inputs));
        var surprise = 0f;
        if (ring.HasForecast)
        {
            var z = (x[TargetFeature] - ring.LastMu) / MathF.Exp(ring.LastLogSigma);
            surprise = 0.5f * z * z + ring.LastLogSigma + HalfLog2Pi;
            if (float.IsFinite(surprise))
            {
                _nllSum += surprise;
                _nllCount++;
            }
            else
            {
                surprise = 0f;
            }
        }

        ring.Surprise[pos] = surprise;
        ring.Count++;
        ring.LastSeq = ++_seq;
        ring.LastEventMs = eventMs;
        _events++;
    }

    /// <summary>Keeps the key's new one-step forecast (normalised) to score its next event's surprise. Under the feed lock.</summary>
    /// <param name="ring">The key's ring.</param>
    /// <param name="mu">Head 0's mean.</param>
    /// <param name="logSigma">Head 0's log standard deviation.</param>
    public static void Forecast(KeyRing ring, float mu, float logSigma)
    {
        ArgumentNullException.ThrowIfNull(ring);
        ring.LastMu = mu;
        ring.LastLogSigma = logSigma;
        ring.HasForecast = true;
    }

    /// <summary>Events fed and the mean surprise (NLL) since the previous call: what the triggers watch.</summary>
    /// <returns>Events, and the mean NLL (NaN when none was scored).</returns>
    public (long Events, double MeanNll) TakeStats()
    {
        lock (_gate)
        {
            var result = (_events, _nllCount == 0 ? double.NaN : _nllSum / _nllCount);
            _events = 0;
            _nllSum = 0;
            _nllCount = 0;
            return result;
        }
    }

    /// <summary>Forgets every key's snapshots (after a hot swap their (h, c) belong to the old model).</summary>
    public void InvalidateSnapshots()
    {
        lock (_gate)
        {
            Interlocked.Increment(ref _version);
            foreach (var r in _keys.Values) r.InvalidateSnapshots();
            Interlocked.Increment(ref _version);
        }
    }

    /// <summary>
    /// Copies the last <paramref name="steps"/> inputs of the key of <paramref name="ring"/> (oldest first) into <paramref name="x"/>:
    /// what a hot swap re-warms the key's state over.
    /// </summary>
    /// <param name="ring">The key's ring (under the feed lock, or while no worker feeds it).</param>
    /// <param name="steps">Steps wanted; fewer are copied when the key has fewer.</param>
    /// <param name="x">Destination, at least steps·I floats.</param>
    /// <returns>Steps copied.</returns>
    public int LastInputs(KeyRing ring, int steps, Span<float> x)
    {
        ArgumentNullException.ThrowIfNull(ring);
        var n = (int)Math.Min(Math.Min(steps, ring.Count), Window);
        for (var i = 0; i < n; i++)
        {
            var abs = ring.Count - n + i;
            ring.X.AsSpan((int)(abs % Window) * Inputs, Inputs).CopyTo(x.Slice(i * Inputs, Inputs));
        }

        return n;
    }
}
