using System.Buffers.Binary;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Features;

/// <summary>
/// Turns a key's raw event values into model inputs and keeps the key's feature state, struct-of-arrays by slot
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

    private const double Epsilon = 1e-12;
    private double[] _mean = [];
    private double[] _var = [];
    private double[] _n = [];
    private long[] _lastTs = [];
    private double[] _lastObs = [];

    /// <summary>Creates an extractor.</summary>
    /// <param name="alpha">Decay weight α of the mean/variance (0 &lt; α ≤ 1).</param>
    /// <param name="statCount">Normalised statistics kept per slot.</param>
    protected FeatureExtractor(double alpha, int statCount)
    {
        if (!(alpha > 0 && alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in (0, 1]");
        Alpha = alpha;
        StatCount = statCount;
    }

    /// <summary>Source kind.</summary>
    public abstract SourceKind Kind { get; }

    /// <summary>I: model inputs per event.</summary>
    public abstract int FeatureCount { get; }

    /// <summary>Raw values per event (as written by the kind's <see cref="EventDecoder"/>).</summary>
    public abstract int RawCount { get; }

    /// <summary>Names of the <see cref="FeatureCount"/> features, in order.</summary>
    public abstract IReadOnlyList<string> FeatureNames { get; }

    /// <summary>Decay weight α.</summary>
    public double Alpha { get; }

    /// <summary>Normalised statistics per slot.</summary>
    public int StatCount { get; }

    /// <summary>Slots the arrays can hold.</summary>
    public int Capacity => _lastTs.Length;

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
        if (slots <= Capacity) return;
        var old = Capacity;
        var cap = Math.Max(slots, Math.Max(16, old * 2));
        Array.Resize(ref _mean, cap * StatCount);
        Array.Resize(ref _var, cap * StatCount);
        Array.Resize(ref _n, cap * StatCount);
        Array.Resize(ref _lastTs, cap);
        Array.Resize(ref _lastObs, cap);
        for (var s = old; s < cap; s++) Reset(s);
    }

    /// <summary>Forgets a slot's history (a new key).</summary>
    /// <param name="slot">Slot.</param>
    public void Reset(int slot)
    {
        _mean.AsSpan(slot * StatCount, StatCount).Clear();
        _var.AsSpan(slot * StatCount, StatCount).Clear();
        _n.AsSpan(slot * StatCount, StatCount).Clear();
        _lastTs[slot] = long.MinValue;
        _lastObs[slot] = double.NaN;
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
        BinaryPrimitives.WriteInt64LittleEndian(destination, _lastTs[slot]);
        BinaryPrimitives.WriteDoubleLittleEndian(destination[8..], _lastObs[slot]);
        var at = 16;
        for (var k = 0; k < StatCount; k++, at += 24)
        {
            var i = slot * StatCount + k;
            BinaryPrimitives.WriteDoubleLittleEndian(destination[at..], _mean[i]);
            BinaryPrimitives.WriteDoubleLittleEndian(destination[(at + 8)..], _var[i]);
            BinaryPrimitives.WriteDoubleLittleEndian(destination[(at + 16)..], _n[i]);
        }
    }

    /// <summary>Restores a slot's feature state written by <see cref="ExportState"/> (same kind and statistic count).</summary>
    /// <param name="slot">Slot.</param>
    /// <param name="source">Exactly <see cref="StateBytes"/> bytes.</param>
    public void ImportState(int slot, ReadOnlySpan<byte> source)
    {
        if (source.Length != StateBytes) throw new ArgumentException($"Feature state of {Kind} is {StateBytes} bytes; got {source.Length}.", nameof(source));
        _lastTs[slot] = BinaryPrimitives.ReadInt64LittleEndian(source);
        _lastObs[slot] = BinaryPrimitives.ReadDoubleLittleEndian(source[8..]);
        var at = 16;
        for (var k = 0; k < StatCount; k++, at += 24)
        {
            var i = slot * StatCount + k;
            _mean[i] = BinaryPrimitives.ReadDoubleLittleEndian(source[at..]);
            _var[i] = BinaryPrimitives.ReadDoubleLittleEndian(source[(at + 8)..]);
            _n[i] = BinaryPrimitives.ReadDoubleLittleEndian(source[(at + 16)..]);
        }
    }

    /// <summary>The timestamp of the slot's last event (<see cref="long.MinValue"/> before the first).</summary>
    /// <param name="slot">Slot.</param>
    /// <returns>Epoch milliseconds.</returns>
    public long LastTimestamp(int slot) => _lastTs[slot];

    /// <summary>Statistic <paramref name="stat"/>'s decayed mean for <paramref name="slot"/>.</summary>
    /// <param name="slot">Slot.</param>
    /// <param name="stat">Statistic index.</param>
    /// <returns>The mean.</returns>
    public double Mean(int slot, int stat) => _mean[slot * StatCount + stat];

    /// <summary>Statistic <paramref name="stat"/>'s decayed variance for <paramref name="slot"/>.</summary>
    /// <param name="slot">Slot.</param>
    /// <param name="stat">Statistic index.</param>
    /// <returns>The variance.</returns>
    public double Variance(int slot, int stat) => _var[slot * StatCount + stat];

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
        var last = _lastTs[slot];
        var dtSeconds = last == long.MinValue ? 0.0 : (timestampMs - last) / 1000.0;
        var observed = ExtractCore(slot, raw, dtSeconds, features);
        _lastTs[slot] = timestampMs;
        if (!double.IsNaN(observed)) _lastObs[slot] = observed;
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
    protected double LastObserved(int slot) => _lastObs[slot];

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
        var i = slot * StatCount + stat;
        var n = _n[i];
        double z;
        if (n == 0)
        {
            _mean[i] = x;
            _var[i] = 0;
            z = 0;
        }
        else
        {
            var mean = _mean[i];
            var diff = x - mean;
            z = diff / StdOf(mean, _var[i]);
            // Exponentially weighted mean/variance (West's update); weight 1/(n+1) until it drops below α.
            var w = Math.Max(Alpha, 1.0 / (n + 1));
            var incr = w * diff;
            _mean[i] = mean + incr;
            _var[i] = (1 - w) * (_var[i] + diff * incr);
        }

        _n[i] = n + 1;
        return (float)Math.Clamp(z, -ZClamp, ZClamp);
    }

    /// <summary>
    /// Standard deviation of a statistic as used for normalising and de-normalising: √(v + ε + (10⁻³·m)²), so a young
    /// key (variance still ≈ 0) gets a scale of at least 0.1 % of its mean instead of ≈ 0.
    /// </summary>
    /// <param name="slot">Slot.</param>
    /// <param name="stat">Statistic index.</param>
    /// <returns>The standard deviation.</returns>
    public double Std(int slot, int stat) => StdOf(_mean[slot * StatCount + stat], _var[slot * StatCount + stat]);

    private static double StdOf(double mean, double variance) => Math.Sqrt(variance + Epsilon + 1e-6 * mean * mean);
}
