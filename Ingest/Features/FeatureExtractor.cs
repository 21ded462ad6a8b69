using System.Buffers.Binary;
using System.Runtime.Intrinsics.X86;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Features;

/// <summary>
/// Turns a key's raw event values into model inputs and keeps the key's feature state, in chunks by slot
/// (the same slot index as the key's LSTM state): last timestamp, and per feature a decayed mean, variance and count.
/// Each feature is normalised with the statistics seen <em>before</em> the event (<c>z = (x − m) / s</c>, s from <see cref="Std"/>, clamped
/// to ±<see cref="ZClamp"/>), then the statistics are updated with weight <c>max(α, 1/(n+1))</c> (a plain running mean
/// while a key is young, then an exponential one). Deterministic: the same events in the same order give the same bits.
/// Not thread-safe: one extractor per worker and kind.
/// </summary>
public abstract class FeatureExtractor
{
    /// <summary>Normalised features are clamped to ±this.</summary>
    public const float ZClamp = 8f;

    /// <summary>Slots per chunk of feature state (a power of two).</summary>
    public const int ChunkSlots = 512;

    private const int ChunkShift = 9;
    private const double Epsilon = 1e-12;

    // Feature state in fixed chunks that never move (growth adds a chunk, never copies): per slot its last observed
    // value, then mean, variance and count of each statistic side by side (one cache line per update).
    private readonly int _width;
    private double[][] _stats = [];
    private long[][] _lastTs = [];
    private int _capacity;

    /// <summary>Creates an extractor.</summary>
    /// <param name="alpha">Decay weight α of the mean/variance (0 &lt; α ≤ 1).</param>
    /// <param name="statCount">Normalised statistics kept per slot.</param>
    protected FeatureExtractor(double alpha, int statCount)
    {
        if (!(alpha > 0 && alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in (0, 1]");
        Alpha = alpha;
        StatCount = statCount;
        _width = 1 + 3 * statCount;
    }

    /// <summary>Source kind.</summary>
    public abstract SourceKind Kind { get; }

    /// <summary>I: model inputs per event.</summary>
    public abstract int FeatureCount { get; }

    /// <summary>Raw values per event (as written by the kind's <see cref="EventDecoder"/>).</summary>
    public abstract int RawCount { get; }

    /// <summary>Names of the <see cref="FeatureCount"/> features, in order.</summary>
    public abstract IReadOnlyList<string> FeatureNames { get; }

    /// <summary>The index of the feature named <paramref name="name"/> (ignoring case and surrounding spaces), or -1.</summary>
    /// <param name="name">A feature name, e.g. <c>spo2</c>.</param>
    /// <returns>Its index in <see cref="FeatureNames"/>, or -1 when the kind has no such feature.</returns>
    public int IndexOfFeature(string name)
    {
        var trimmed = name.Trim();
        for (var f = 0; f < FeatureNames.Count; f++)
        {
            if (string.Equals(FeatureNames[f], trimmed, StringComparison.OrdinalIgnoreCase)) return f;
        }

        return -1;
    }

    /// <summary>Decay weight α.</summary>
    public double Alpha { get; }

    /// <summary>Normalised statistics per slot.</summary>
    public int StatCount { get; }

    /// <summary>Slots the arrays can hold.</summary>
    public int Capacity => _capacity;

    /// <summary>Creates the extractor for <paramref name="kind"/>.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="alpha">Decay weight.</param>
    /// <param name="audioCoefficients">Coefficients per audio frame.</param>
    /// <returns>A new extractor.</returns>
    public static FeatureExtractor For(SourceKind kind, double alpha = 0.01, int audioCoefficients = 13) => kind switch
    {
        SourceKind.Tick => new TickFeatures(alpha),
        SourceKind.Vitals => new VitalsFeatures(alpha),
        SourceKind.Audio => new AudioFeatures(alpha, audioCoefficients),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>Grows the arrays to hold at least <paramref name="slots"/> slots (new slots are reset).</summary>
    /// <param name="slots">Slot count.</param>
    public void EnsureCapacity(int slots)
    {
        if (slots <= _capacity) return;
        var chunks = (slots + ChunkSlots - 1) >> ChunkShift;
        var old = _stats.Length;
        // Only the small arrays of chunk references are resized; the state itself stays where it is.
        Array.Resize(ref _stats, chunks);
        Array.Resize(ref _lastTs, chunks);
        for (var c = old; c < chunks; c++)
        {
            _stats[c] = new double[ChunkSlots * _width];
            _lastTs[c] = new long[ChunkSlots];
        }

        _capacity = chunks * ChunkSlots;
        for (var s = old * ChunkSlots; s < _capacity; s++) Reset(s);
    }

    /// <summary>Forgets a slot's history (a new key).</summary>
    /// <param name="slot">Slot.</param>
    public void Reset(int slot)
    {
        var row = Row(slot);
        row.Clear();
        row[0] = double.NaN;
        _lastTs[slot >> ChunkShift][slot & (ChunkSlots - 1)] = long.MinValue;
    }

    /// <summary>Bytes <see cref="ExportState"/> writes per slot: last timestamp, last observed value, and per statistic mean, variance and count.</summary>
    public int StateBytes => 16 + 24 * StatCount;

    /// <summary>
    /// Writes a slot's feature state (little-endian: last timestamp i64, last observed f64, then mean, variance, count
    /// f64 per statistic) to <paramref name="destination"/>; <see cref="ImportState"/> restores it bit for bit.
    /// </summary>
    /// <param name="slot">Slot.</param>
    /// <param name="destination">At least <see cref="StateBytes"/> bytes.</param>
    public void ExportState(int slot, Span<byte> destination)
    {
        if (destination.Length < StateBytes) throw new ArgumentException($"Feature state needs {StateBytes} bytes.", nameof(destination));
        BinaryPrimitives.WriteInt64LittleEndian(destination, LastTimestamp(slot));
        // The row is laid out as the record: last observed, then mean, variance, count per statistic.
        var row = Row(slot);
        for (var j = 0; j < row.Length; j++) BinaryPrimitives.WriteDoubleLittleEndian(destination[(8 + 8 * j)..], row[j]);
    }

    /// <summary>Restores a slot's feature state written by <see cref="ExportState"/> (same kind and statistic count).</summary>
    /// <param name="slot">Slot.</param>
    /// <param name="source">Exactly <see cref="StateBytes"/> bytes.</param>
    public void ImportState(int slot, ReadOnlySpan<byte> source)
    {
        if (source.Length != StateBytes) throw new ArgumentException($"Feature state of {Kind} is {StateBytes} bytes; got {source.Length}.", nameof(source));
        _lastTs[slot >> ChunkShift][slot & (ChunkSlots - 1)] = BinaryPrimitives.ReadInt64LittleEndian(source);
        var row = Row(slot);
        for (var j = 0; j < row.Length; j++) row[j] = BinaryPrimitives.ReadDoubleLittleEndian(source[(8 + 8 * j)..]);
    }

    /// <summary>
    /// Asks the CPU to start loading <paramref name="slot"/>'s feature state (a hint: nothing is read or changed), so the
    /// event that reads it a little later does not wait on the cache misses. Slots beyond the state are ignored.
    /// </summary>
    /// <param name="slot">Slot.</param>
    public unsafe void Prefetch(int slot)
    {
        var chunk = slot >> ChunkShift;
        if (!Sse.IsSupported || (uint)chunk >= (uint)_stats.Length) return;
        var i = slot & (ChunkSlots - 1);
        fixed (double* row = &_stats[chunk][i * _width])
        {
            Sse.Prefetch0(row);
            Sse.Prefetch0(row + _width - 1);
        }

        fixed (long* ts = &_lastTs[chunk][i]) Sse.Prefetch0(ts);
    }

    /// <summary>The timestamp of the slot's last event (<see cref="long.MinValue"/> before the first).</summary>
    /// <param name="slot">Slot.</param>
    /// <returns>Epoch milliseconds.</returns>
    public long LastTimestamp(int slot) => _lastTs[slot >> ChunkShift][slot & (ChunkSlots - 1)];

    /// <summary>Statistic <paramref name="stat"/>'s decayed mean for <paramref name="slot"/>.</summary>
    /// <param name="slot">Slot.</param>
    /// <param name="stat">Statistic index.</param>
    /// <returns>The mean.</returns>
    public double Mean(int slot, int stat) => Row(slot)[1 + 3 * stat];

    /// <summary>Statistic <paramref name="stat"/>'s decayed variance for <paramref name="slot"/>.</summary>
    /// <param name="slot">Slot.</param>
    /// <param name="stat">Statistic index.</param>
    /// <returns>The variance.</returns>
    public double Variance(int slot, int stat) => Row(slot)[2 + 3 * stat];

    /// <summary>
    /// Computes the event's features into <paramref name="features"/> and advances the slot's statistics.
    /// The caller has checked that <paramref name="timestampMs"/> is not older than <see cref="LastTimestamp"/>.
    /// </summary>
    /// <param name="slot">Key's slot.</param>
    /// <param name="raw">Raw values from the decoder.</param>
    /// <param name="timestampMs">Event time.</param>
    /// <param name="features"><see cref="FeatureCount"/> floats.</param>
    /// <returns>The observed value written with the forecast (price, heart rate, c0).</returns>
    public double Extract(int slot, ReadOnlySpan<double> raw, long timestampMs, Span<float> features)
    {
        ref var lastTs = ref _lastTs[slot >> ChunkShift][slot & (ChunkSlots - 1)];
        var last = lastTs;
        var dtSeconds = last == long.MinValue ? 0.0 : (timestampMs - last) / 1000.0;
        var observed = ExtractCore(slot, raw, dtSeconds, features);
        lastTs = timestampMs;
        if (!double.IsNaN(observed)) Row(slot)[0] = observed;
        return observed;
    }

    /// <summary>
    /// Converts the model's normalised outputs for a slot into forecasts in original units.
    /// Head output k is the normalised target feature k+1 steps ahead.
    /// </summary>
    /// <param name="slot">Key's slot (after <see cref="Extract"/> of the event).</param>
    /// <param name="mu">K normalised means.</param>
    /// <param name="logSigma">K normalised log standard deviations.</param>
    /// <param name="muOut">K means in original units.</param>
    /// <param name="sigmaOut">K standard deviations in original units.</param>
    public abstract void Denormalise(int slot, ReadOnlySpan<float> mu, ReadOnlySpan<float> logSigma, Span<float> muOut, Span<float> sigmaOut);

    /// <summary>The slot's last non-missing observed value.</summary>
    /// <param name="slot">Slot.</param>
    /// <returns>The value, NaN before any.</returns>
    protected double LastObserved(int slot) => Row(slot)[0];

    /// <summary>Kind-specific feature computation.</summary>
    /// <param name="slot">Slot.</param>
    /// <param name="raw">Raw values.</param>
    /// <param name="dtSeconds">Seconds since the key's previous event (0 for the first).</param>
    /// <param name="features">Output features.</param>
    /// <returns>The observed value.</returns>
    protected abstract double ExtractCore(int slot, ReadOnlySpan<double> raw, double dtSeconds, Span<float> features);

    /// <summary>Normalises <paramref name="x"/> with the statistic's current mean/variance, then updates them with it.</summary>
    /// <param name="slot">Slot.</param>
    /// <param name="stat">Statistic index.</param>
    /// <param name="x">Value.</param>
    /// <returns>The clamped z-score (0 for the first value).</returns>
    protected float NormaliseAndUpdate(int slot, int stat, double x)
    {
        var st = Row(slot).Slice(1 + 3 * stat, 3);
        ref var meanRef = ref st[0];
        ref var varRef = ref st[1];
        ref var nRef = ref st[2];
        var n = nRef;
        double z;
        if (n == 0)
        {
            meanRef = x;
            varRef = 0;
            z = 0;
        }
        else
        {
            var mean = meanRef;
            var diff = x - mean;
            z = diff / StdOf(mean, varRef);
            // Exponentially weighted mean/variance (West's update); weight 1/(n+1) until it drops below α.
            var w = Math.Max(Alpha, 1.0 / (n + 1));
            var incr = w * diff;
            meanRef = mean + incr;
            varRef = (1 - w) * (varRef + diff * incr);
        }

        nRef = n + 1;
        return (float)Math.Clamp(z, -ZClamp, ZClamp);
    }

    /// <summary>
    /// Standard deviation of a statistic as used for normalising and de-normalising: √(v + ε + (10⁻³·m)²), so a young
    /// key (variance still ≈ 0) gets a scale of at least 0.1 % of its mean instead of ≈ 0.
    /// </summary>
    /// <param name="slot">Slot.</param>
    /// <param name="stat">Statistic index.</param>
    /// <returns>The standard deviation.</returns>
    public double Std(int slot, int stat)
    {
        var row = Row(slot);
        return StdOf(row[1 + 3 * stat], row[2 + 3 * stat]);
    }

    /// <summary>A slot's row in its chunk: last observed value, then mean, variance, count per statistic.</summary>
    private Span<double> Row(int slot) => _stats[slot >> ChunkShift].AsSpan((slot & (ChunkSlots - 1)) * _width, _width);

    private static double StdOf(double mean, double variance) => Math.Sqrt(variance + Epsilon + 1e-6 * mean * mean);
}
