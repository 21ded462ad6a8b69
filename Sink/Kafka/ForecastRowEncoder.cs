using System.Collections.Concurrent;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Sink.Kafka;

/// <summary>
/// Encodes forecast rows for the forecasts topic, shared by both produce paths: the message key (the entity id's UTF-8
/// bytes, cached per key since keys repeat) and the value (JSON or <see cref="ForecastBinary"/>) written into the calling
/// thread's scratch buffer. Thread-safe; nothing is allocated per row once keys and buffers are warm.
/// </summary>
internal sealed class ForecastRowEncoder(ForecastFormat format)
{
    [ThreadStatic]
    private static string? t_version;

    [ThreadStatic]
    private static byte[]? t_versionBytes;

    [ThreadStatic]
    private static byte[]? t_binary;

    // The hand-written row writer: byte-for-byte KafkaForecastOutput.ToJson, without a Utf8JsonWriter per row.
    private readonly ForecastJsonRow _json = new();

    // Workers encode concurrently. One entry per key holds everything a row needs of it (its message key bytes and, for
    // JSON, its escaped prefix): one lookup per row (two caches cost two string hashes and two random probes per row).
    private readonly ConcurrentDictionary<string, KeyEntry> _keys = new(StringComparer.Ordinal);

    private readonly Func<string, KeyEntry> _newEntry = format == ForecastFormat.Json
        ? static k => new KeyEntry(System.Text.Encoding.UTF8.GetBytes(k), ForecastJsonRow.EscapedKeyPrefix(k))
        : static k => new KeyEntry(System.Text.Encoding.UTF8.GetBytes(k), null);

    /// <summary>The row's key entry (cached per key; do not modify its bytes).</summary>
    /// <param name="batch">Batch.</param>
    /// <param name="row">Row.</param>
    /// <returns>The key's UTF-8 bytes and what the row's value needs of it.</returns>
    public KeyEntry Key(ForecastBatch batch, int row) => _keys.GetOrAdd(batch.Keys[row], _newEntry);

    /// <summary>The row's value in the calling thread's scratch buffer (valid until the thread's next call).</summary>
    /// <param name="batch">Batch.</param>
    /// <param name="row">Row.</param>
    /// <param name="key">The row's <see cref="Key"/>.</param>
    /// <returns>The encoded row.</returns>
    public ReadOnlySpan<byte> Value(ForecastBatch batch, int row, KeyEntry key)
    {
        if (format == ForecastFormat.Json)
        {
            var written = _json.Write(batch, row, key.JsonPrefix, key.Utf8, out var scratch);
            return scratch.AsSpan(0, written);
        }

        if (!ReferenceEquals(t_version, batch.ModelVersion))
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(batch.ModelVersion);
            t_versionBytes = bytes.Length <= byte.MaxValue ? bytes : bytes[..byte.MaxValue];
            t_version = batch.ModelVersion;
        }

        var size = ForecastBinary.Size(batch.Horizons, t_versionBytes!.Length);
        var buffer = t_binary is { } b && b.Length >= size ? b : t_binary = new byte[Math.Max(size, 512)];
        var value = buffer.AsSpan(0, size);
        ForecastBinary.Write(batch, row, t_versionBytes, value);
        return value;
    }
}

/// <summary>What encoding a row needs of its key, made once per key.</summary>
/// <param name="Utf8">The message key: the key's UTF-8 bytes.</param>
/// <param name="JsonPrefix">JSON rows: <c>{"key":"…"</c> when the key needs escaping; null when its bytes are written as they are.</param>
internal sealed record KeyEntry(byte[] Utf8, byte[]? JsonPrefix);
