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

    // Workers encode concurrently.
    private readonly ConcurrentDictionary<string, byte[]> _keyBytes = new(StringComparer.Ordinal);

    /// <summary>The row's key bytes (cached; do not modify).</summary>
    /// <param name="batch">Batch.</param>
    /// <param name="row">Row.</param>
    /// <returns>UTF-8 key.</returns>
    public byte[] Key(ForecastBatch batch, int row) => _keyBytes.GetOrAdd(batch.Keys[row], static k => System.Text.Encoding.UTF8.GetBytes(k));

    /// <summary>The row's value in the calling thread's scratch buffer (valid until the thread's next call).</summary>
    /// <param name="batch">Batch.</param>
    /// <param name="row">Row.</param>
    /// <returns>The encoded row.</returns>
    public ReadOnlySpan<byte> Value(ForecastBatch batch, int row)
    {
        if (format == ForecastFormat.Json)
        {
            var written = _json.Write(batch, row, out var scratch);
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
