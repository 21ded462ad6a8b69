using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Sink.Kafka;

/// <summary>
/// Writes one forecast row as UTF-8 JSON by hand, byte-for-byte what <see cref="KafkaForecastOutput.ToJson"/> (a
/// <see cref="Utf8JsonWriter"/> with default options) writes: the strings (key, model version) are escaped once by the
/// general writer and their bytes cached, with the property names around them; numbers are formatted straight into
/// the buffer (invariant shortest round-trip, as the general writer does); non-finite numbers are <c>null</c>.
/// One instance per output; thread-safe (the scratch buffer is per thread).
/// </summary>
internal sealed class ForecastJsonRow
{
    // Longest shortest-round-trip forms: float "-1.17549435E-38" (15), double "-2.2250738585072014E-308" (24).
    private const int MaxFloat = 16;
    private const int MaxDouble = 25;
    private const int MaxLong = 20;
    private const int MaxFixed = 128;

    [ThreadStatic]
    private static byte[]? t_scratch;

    private static ReadOnlySpan<byte> KeyOpen => "{\"key\":\""u8;

    [ThreadStatic]
    private static string? t_version;

    [ThreadStatic]
    private static byte[]? t_versionBytes;

    // Keys repeat (one per entity): `{"key":"<escaped key>"` is made once per key. Workers write concurrently.
    private readonly ConcurrentDictionary<string, byte[]> _keyPrefix = new(StringComparer.Ordinal);
    private readonly byte[][] _sourceBytes = [.. Enum.GetValues<SourceKind>().Select(k => Escaped("source"u8, k.ToWireName(), ",", ",\"ts\":"))];

    /// <summary>The row's JSON in a new array (tests; the output appends <see cref="Write(ForecastBatch, int, out byte[])"/>'s bytes to a pooled slab).</summary>
    /// <param name="batch">Batch.</param>
    /// <param name="row">Row.</param>
    /// <returns>UTF-8 JSON.</returns>
    public byte[] Serialize(ForecastBatch batch, int row)
    {
        var written = Write(batch, row, out var scratch);
        return scratch.AsSpan(0, written).ToArray();
    }

    /// <summary>Writes the row into the calling thread's scratch buffer.</summary>
    /// <param name="batch">Batch.</param>
    /// <param name="row">Row.</param>
    /// <param name="scratch">The buffer written (valid until the thread's next call).</param>
    /// <returns>Bytes written.</returns>
    public int Write(ForecastBatch batch, int row, out byte[] scratch)
    {
        var prefix = _keyPrefix.GetOrAdd(batch.Keys[row], static k => Plain(k) ? KeyPrefix(k) : Escaped("key"u8, k, "{", ""));
        return Write(batch, row, prefix, plainKey: default, out scratch);
    }

    /// <summary>
    /// The key's part of a row for <see cref="Write(ForecastBatch, int, byte[], ReadOnlySpan{byte}, out byte[])"/>: null when
    /// the key needs no escaping (the row is then written from the key's own UTF-8 bytes), else <c>{"key":"…"</c> escaped by
    /// the general writer (which throws for a key it rejects, as <see cref="KafkaForecastOutput.ToJson"/> does).
    /// </summary>
    /// <param name="key">The row's key.</param>
    /// <returns>The escaped prefix, or null.</returns>
    public static byte[]? EscapedKeyPrefix(string key) => Plain(key) ? null : Escaped("key"u8, key, "{", "");

    /// <summary>
    /// Writes the row into the calling thread's scratch buffer with its key's part given by the caller (a per-key cache
    /// shared with the message key: one lookup per row): <paramref name="escapedPrefix"/> from <see cref="EscapedKeyPrefix"/>,
    /// or, when that is null, the key's UTF-8 bytes <paramref name="plainKey"/>.
    /// </summary>
    /// <param name="batch">Batch.</param>
    /// <param name="row">Row.</param>
    /// <param name="escapedPrefix"><c>{"key":"…"</c>, or null for a plain key.</param>
    /// <param name="plainKey">The key's UTF-8 bytes when <paramref name="escapedPrefix"/> is null.</param>
    /// <param name="scratch">The buffer written (valid until the thread's next call).</param>
    /// <returns>Bytes written.</returns>
    public int Write(ForecastBatch batch, int row, byte[]? escapedPrefix, ReadOnlySpan<byte> plainKey, out byte[] scratch)
    {
        var source = _sourceBytes[(int)batch.Source];
        var version = VersionBytes(batch.ModelVersion);
        var keyLength = escapedPrefix?.Length ?? (KeyOpen.Length + plainKey.Length + 1);
        var bound = keyLength + source.Length + version.Length + MaxFixed + MaxDouble + (2 * MaxLong) + (2 * batch.Horizons * MaxFloat);
        scratch = t_scratch is { } s && s.Length >= bound ? s : t_scratch = new byte[Math.Max(bound, 512)];
        var d = scratch.AsSpan();
        int n;
        if (escapedPrefix is not null)
        {
            n = Put(d, 0, escapedPrefix);
        }
        else
        {
            // What KeyPrefix makes for a plain key: its UTF-8 bytes are its ASCII bytes.
            n = Put(d, Put(d, 0, KeyOpen), plainKey);
            d[n++] = (byte)'"';
        }

        n = Put(d, n, source);
        n = Long(d, n, batch.TimestampsMs[row]);
        n = Put(d, n, ",\"observed\":"u8);
        var observed = batch.Observed[row];
        if (double.IsFinite(observed))
        {
            if (!observed.TryFormat(d[n..], out var w, default, CultureInfo.InvariantCulture)) throw Overflow();
            n += w;
        }
        else
        {
            n = Put(d, n, "null"u8);
        }

        n = Floats(d, Put(d, n, ",\"mu\":["u8), batch.MuOf(row));
        n = Floats(d, Put(d, n, "],\"sigma\":["u8), batch.SigmaOf(row));
        n = Put(d, n, "]"u8);
        n = Put(d, n, version);
        if (!Utf8Formatter.TryFormat(batch.Partitions[row], d[n..], out var pw)) throw Overflow();
        n = Put(d, n + pw, ",\"offset\":"u8);
        n = Long(d, n, batch.Offsets[row]);
        d[n++] = (byte)'}';
        return n;
    }

    /// <summary><c>,"model_version":"…","partition":</c>, cached per thread for the last version string seen.</summary>
    private static byte[] VersionBytes(string version)
    {
        if (!ReferenceEquals(t_version, version))
        {
            t_versionBytes = Escaped("model_version"u8, version, ",", ",\"partition\":");
            t_version = version;
        }

        return t_versionBytes!;
    }

    /// <summary>Whether the general writer leaves <paramref name="key"/> as it is (printable ASCII it does not escape).</summary>
    private static bool Plain(string key)
    {
        foreach (var c in key)
        {
            if (c < ' ' || c > '~' || c is '"' or '\\' or '&' or '\'' or '<' or '>' or '+' or '`') return false;
        }

        return true;
    }

    /// <summary><c>{"key":"…"</c> for a key needing no escapes, in one allocation (a new key per row must stay cheap).</summary>
    private static byte[] KeyPrefix(string key)
    {
        var bytes = new byte[KeyOpen.Length + key.Length + 1];
        KeyOpen.CopyTo(bytes);
        System.Text.Encoding.ASCII.GetBytes(key, bytes.AsSpan(8));
        bytes[^1] = (byte)'"';
        return bytes;
    }

    /// <summary>
    /// <paramref name="before"/> + <c>"name":"value"</c> + <paramref name="after"/>, the string escaped by the general
    /// writer itself (so keys that need escaping come out exactly as it writes them, and invalid ones throw as it does).
    /// </summary>
    private static byte[] Escaped(ReadOnlySpan<byte> name, string value, string before, string after)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString(name, value);
            w.Flush();
        }

        // The writer's output starts with '{'; keep the property alone and frame it.
        var property = buffer.WrittenSpan[1..];
        var bytes = new byte[before.Length + property.Length + after.Length];
        var n = System.Text.Encoding.ASCII.GetBytes(before, bytes);
        property.CopyTo(bytes.AsSpan(n));
        System.Text.Encoding.ASCII.GetBytes(after, bytes.AsSpan(n + property.Length));
        return bytes;
    }

    private static int Floats(Span<byte> d, int n, ReadOnlySpan<float> values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (i > 0) d[n++] = (byte)',';
            var v = values[i];
            if (float.IsFinite(v))
            {
                // The runtime's formatter is most of a row's cost; the fast path declines whatever it is unsure of.
                if (!ShortestFloat.TryWrite(v, d[n..], out var w) && !v.TryFormat(d[n..], out w, default, CultureInfo.InvariantCulture)) throw Overflow();
                n += w;
            }
            else
            {
                n = Put(d, n, "null"u8);
            }
        }

        return n;
    }

    private static int Long(Span<byte> d, int n, long value)
    {
        if (!Utf8Formatter.TryFormat(value, d[n..], out var w)) throw Overflow();
        return n + w;
    }

    private static int Put(Span<byte> d, int n, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(d[n..]);
        return n + bytes.Length;
    }

    private static InvalidOperationException Overflow() => new("forecast JSON row outgrew its bound (a bug)");
}
