using System.Buffers;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Generators;

/// <summary>
/// Shared machinery of the generators: key names, one random stream per key (so a key's events do not depend on how
/// many other keys there are), and a 4-ary min-heap of each key's next virtual time so events come out in time order.
/// Subclasses keep their per-key state in arrays and fill one <typeparamref name="TEvent"/> per call.
/// </summary>
/// <typeparam name="TEvent">The kind's event struct.</typeparam>
public abstract class EventGenerator<TEvent> : IEventGenerator
    where TEvent : struct
{
    private readonly string[] _keys;
    private readonly byte[][] _keysUtf8;
    private readonly byte[][] _keysEncoded;
    private readonly GeneratorRandom[] _rng;
    private readonly double[] _lastTime;
    private readonly double[] _heapTime;
    private readonly int[] _heapKey;
    private readonly long _startMs;
    private readonly bool _label;
    private readonly bool _iso;

    /// <summary>Initialises keys, random streams and the schedule.</summary>
    /// <param name="options">Validated options.</param>
    /// <param name="kind">The kind (sets the seed stream and default key prefix).</param>
    /// <param name="defaultPrefix">Key prefix when <see cref="GeneratorOptions.KeyPrefix"/> is null.</param>
    protected EventGenerator(GeneratorOptions options, SourceKind kind, string defaultPrefix)
    {
        options.Validate();
        Kind = kind;
        KeyCount = options.Keys;
        _startMs = options.StartUnixMs;
        _label = options.IncludeLabelInJson;
        _iso = options.IsoTimestamps;
        var prefix = options.KeyPrefix ?? defaultPrefix;
        var width = Math.Max(4, (options.Keys - 1).ToString(System.Globalization.CultureInfo.InvariantCulture).Length);
        _keys = new string[KeyCount];
        _keysUtf8 = new byte[KeyCount][];
        _keysEncoded = new byte[KeyCount][];
        _rng = new GeneratorRandom[KeyCount];
        _lastTime = new double[KeyCount];
        _heapTime = new double[KeyCount];
        _heapKey = new int[KeyCount];
        for (var k = 0; k < KeyCount; k++)
        {
            _keys[k] = prefix + k.ToString("D" + width, System.Globalization.CultureInfo.InvariantCulture);
            _keysUtf8[k] = System.Text.Encoding.UTF8.GetBytes(_keys[k]);
            _keysEncoded[k] = EventJson.EncodeKey(_keys[k]);
            // Per-key stream: seed, kind and key index mixed, so streams are independent and stable.
            _rng[k] = new GeneratorRandom(options.Seed ^ ((ulong)kind << 56) ^ ((ulong)k * 0x9E3779B97F4A7C15UL));
        }
    }

    /// <inheritdoc />
    public SourceKind Kind { get; }

    /// <inheritdoc />
    public int KeyCount { get; }

    /// <inheritdoc />
    public long Generated { get; private set; }

    /// <summary>Whether <c>ts</c> is written as ISO-8601 (pass to the <see cref="EventJson"/> writers).</summary>
    protected bool IsoTimestamps => _iso;

    /// <summary>Called by subclasses at the end of their constructor, after per-key state exists.</summary>
    protected void InitialiseSchedule()
    {
        for (var k = 0; k < KeyCount; k++)
        {
            // Keys start at a random phase within their first interval so they interleave.
            var t = FirstOffsetSeconds(k, ref _rng[k]);
            _lastTime[k] = t;
            _heapTime[k] = t;
            _heapKey[k] = k;
        }

        for (var i = (KeyCount - 2) / 4; i >= 0; i--)
        {
            SiftDown(i);
        }
    }

    /// <inheritdoc />
    public string GetKey(int keyIndex) => _keys[keyIndex];

    /// <inheritdoc />
    public ReadOnlySpan<byte> GetKeyUtf8(int keyIndex) => _keysUtf8[keyIndex];

    /// <summary>Generates the next event as a struct (no JSON).</summary>
    /// <param name="e">The event.</param>
    /// <returns>Key, timestamp and label.</returns>
    public GeneratedEvent NextEvent(out TEvent e)
    {
        var k = _heapKey[0];
        var t = _heapTime[0];
        var dt = t - _lastTime[k];
        _lastTime[k] = t;
        var ts = _startMs + (long)Math.Floor(t * 1000.0);
        ref var rng = ref _rng[k];
        var anomaly = Generate(k, ts, t, dt, ref rng, out e);
        _heapTime[0] = t + NextGapSeconds(k, ref rng);
        SiftDown(0);
        Generated++;
        return new GeneratedEvent(k, ts, anomaly);
    }

    /// <inheritdoc />
    public GeneratedEvent Next(Span<byte> destination, out int bytesWritten)
    {
        var info = NextEvent(out var e);
        bytesWritten = Write(destination, e, _keysEncoded[info.KeyIndex], _label && info.IsAnomaly ? info.Anomaly.ToLabelUtf8() : default);
        return info;
    }

    /// <inheritdoc />
    public GeneratedEvent Next(IBufferWriter<byte> output)
    {
        var span = output.GetSpan(EventJson.MaxEventBytes);
        var info = Next(span, out var n);
        output.Advance(n);
        return info;
    }

    /// <summary>Writes an event struct as JSON (for callers that used <see cref="NextEvent"/>).</summary>
    /// <param name="destination">Output span.</param>
    /// <param name="info">What <see cref="NextEvent"/> returned.</param>
    /// <param name="e">The event.</param>
    /// <returns>Bytes written.</returns>
    public int WriteJson(Span<byte> destination, GeneratedEvent info, in TEvent e) =>
        Write(destination, e, _keysEncoded[info.KeyIndex], _label && info.IsAnomaly ? info.Anomaly.ToLabelUtf8() : default);

    /// <summary>Offset of a key's first event from the start, in seconds.</summary>
    /// <param name="key">Key index.</param>
    /// <param name="rng">The key's random stream.</param>
    /// <returns>Seconds.</returns>
    protected abstract double FirstOffsetSeconds(int key, ref GeneratorRandom rng);

    /// <summary>Gap to the key's next event, in seconds.</summary>
    /// <param name="key">Key index.</param>
    /// <param name="rng">The key's random stream.</param>
    /// <returns>Seconds (&gt; 0).</returns>
    protected abstract double NextGapSeconds(int key, ref GeneratorRandom rng);

    /// <summary>Advances the key's state to virtual time <paramref name="t"/> and fills the event.</summary>
    /// <param name="key">Key index.</param>
    /// <param name="ts">Event timestamp, epoch ms.</param>
    /// <param name="t">Virtual seconds since start.</param>
    /// <param name="dt">Seconds since the key's previous event.</param>
    /// <param name="rng">The key's random stream.</param>
    /// <param name="e">The event.</param>
    /// <returns>The label.</returns>
    protected abstract AnomalyKind Generate(int key, long ts, double t, double dt, ref GeneratorRandom rng, out TEvent e);

    /// <summary>Writes the event as JSON.</summary>
    /// <param name="destination">Output span.</param>
    /// <param name="e">The event.</param>
    /// <param name="keyEncoded">JSON-escaped key.</param>
    /// <param name="label">Label bytes, or empty.</param>
    /// <returns>Bytes written.</returns>
    protected abstract int Write(Span<byte> destination, in TEvent e, ReadOnlySpan<byte> keyEncoded, ReadOnlySpan<byte> label);

    // 4-ary min-heap: half the depth of a binary heap, so fewer cache misses with 100 K keys; the order is the same
    // total order (time, then key index), so the output does not depend on the heap's shape.
    private void SiftDown(int i)
    {
        var n = KeyCount;
        var time = _heapTime[i];
        var key = _heapKey[i];
        while (true)
        {
            var first = (4 * i) + 1;
            if (first >= n)
            {
                break;
            }

            var best = first;
            var last = Math.Min(first + 4, n);
            for (var c = first + 1; c < last; c++)
            {
                if (Less(_heapTime[c], _heapKey[c], _heapTime[best], _heapKey[best]))
                {
                    best = c;
                }
            }

            if (!Less(_heapTime[best], _heapKey[best], time, key))
            {
                break;
            }

            _heapTime[i] = _heapTime[best];
            _heapKey[i] = _heapKey[best];
            i = best;
        }

        _heapTime[i] = time;
        _heapKey[i] = key;
    }

    private static bool Less(double ta, int ka, double tb, int kb) => ta < tb || (ta == tb && ka < kb);
}
