using System.Buffers.Binary;

namespace StreamLstm.Streaming.Changelog;

/// <summary>
/// The changelog's record layout. Key: the input partition (i32 big-endian) followed by the event key's UTF-8 bytes;
/// value: the key's <see cref="Storage.KeyStateRecord"/>. A checkpoint marker has the partition alone as its key (an
/// event key is never empty) and as value <c>u8 format (1) | i64 offset little-endian</c>: the input offset the
/// partition's records before it correspond to. Compaction keeps the newest record per key, so the newest marker too.
/// </summary>
public static class ChangelogRecord
{
    /// <summary>Marker value format.</summary>
    public const byte MarkerFormat = 1;

    /// <summary>Bytes of a marker's value.</summary>
    public const int MarkerBytes = 9;

    /// <summary>Builds a record's key.</summary>
    /// <param name="partition">Input partition.</param>
    /// <param name="key">Event key (UTF-8); empty for a marker.</param>
    /// <returns>The changelog key.</returns>
    public static byte[] Key(int partition, ReadOnlySpan<byte> key)
    {
        var k = new byte[4 + key.Length];
        BinaryPrimitives.WriteInt32BigEndian(k, partition);
        key.CopyTo(k.AsSpan(4));
        return k;
    }

    /// <summary>Builds a marker's value.</summary>
    /// <param name="offset">Next input offset to read.</param>
    /// <returns>The value.</returns>
    public static byte[] Marker(long offset)
    {
        var v = new byte[MarkerBytes];
        v[0] = MarkerFormat;
        BinaryPrimitives.WriteInt64LittleEndian(v.AsSpan(1), offset);
        return v;
    }

    /// <summary>Splits a changelog key.</summary>
    /// <param name="key">The changelog key.</param>
    /// <param name="partition">Input partition.</param>
    /// <param name="eventKey">Event key bytes (empty for a marker).</param>
    /// <returns>False when the key is malformed.</returns>
    public static bool TryParseKey(ReadOnlySpan<byte> key, out int partition, out ReadOnlySpan<byte> eventKey)
    {
        partition = -1;
        eventKey = default;
        if (key.Length < 4) return false;
        partition = BinaryPrimitives.ReadInt32BigEndian(key);
        eventKey = key[4..];
        return true;
    }

    /// <summary>Reads a marker's offset.</summary>
    /// <param name="value">The marker's value.</param>
    /// <param name="offset">The offset.</param>
    /// <returns>False when the value is not a marker of a known format.</returns>
    public static bool TryParseMarker(ReadOnlySpan<byte> value, out long offset)
    {
        offset = -1;
        if (value.Length != MarkerBytes || value[0] != MarkerFormat) return false;
        offset = BinaryPrimitives.ReadInt64LittleEndian(value[1..]);
        return true;
    }
}
