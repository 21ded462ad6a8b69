using System.Text.Json;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Sink.Kafka;

/// <summary>
/// Reads back (from its JSON or binary row) where a forecasts-topic message came from (<c>source</c>, <c>partition</c>, <c>offset</c>) — only on the rare
/// path where its delivery was given up, so the hot path carries no per-message origin besides the JSON it writes anyway.
/// </summary>
internal static class ForecastRowOrigin
{
    public static bool TryRead(ReadOnlySpan<byte> value, out SourceKind kind, out int partition, out long offset) =>
        TryRead(value.IsEmpty ? null : value.ToArray(), out kind, out partition, out offset);

    public static bool TryRead(byte[]? json, out SourceKind kind, out int partition, out long offset)
    {
        kind = default;
        partition = -1;
        offset = -1;
        string? source = null;
        if (json is null) return false;
        if (json.Length > 0 && json[0] == ForecastBinary.Magic)
        {
            if (!ForecastBinary.TryRead(json, out var row)) return false;
            (kind, partition, offset) = (row.Source, row.Partition, row.Offset);
            return partition >= 0 && offset >= 0;
        }

        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.TryGetProperty("source", out var s)) source = s.GetString();
            if (root.TryGetProperty("partition", out var p)) partition = p.GetInt32();
            if (root.TryGetProperty("offset", out var o)) offset = o.GetInt64();
        }
        catch (JsonException)
        {
            return false;
        }

        foreach (var k in Enum.GetValues<SourceKind>())
        {
            if (k.ToWireName() == source)
            {
                kind = k;
                return partition >= 0 && offset >= 0;
            }
        }

        return false;
    }
}
