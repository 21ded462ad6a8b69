using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace StreamLstm.Streaming.Storage;

/// <summary>
/// A partition's model bookkeeping in its store (and changelog), under reserved keys that start with a NUL character (a
/// valid event key never holds a control character, so they cannot clash; they sort before every event key):
/// <list type="bullet">
/// <item><c>"\0model"</c>: the model version the partition's stored state is in, and the offset it took effect from;
/// written with each checkpoint of the partition.</item>
/// <item><c>"\0swap.{offset:D19}"</c>: a hot swap, written durably when it happens (before the new model steps a row):
/// from that input offset on, the partition is stepped by that version.</item>
/// </list>
/// Both values are <c>u8 format (1) | i64 offset little-endian | u8 version length | version UTF-8</c>.
/// </summary>
public static class PartitionModelRecord
{
    /// <summary>Value format.</summary>
    public const byte Format = 1;

    /// <summary>The key of the partition's model record.</summary>
    public const string ModelKey = "\0model";

    /// <summary>The prefix of swap record keys.</summary>
    public const string SwapPrefix = "\0swap.";

    /// <summary>True for a reserved key (not an event key's record).</summary>
    /// <param name="key">Key bytes.</param>
    /// <returns>Whether it is reserved.</returns>
    public static bool IsReserved(ReadOnlySpan<byte> key) => key.Length > 0 && key[0] == 0;

    /// <summary>The key of a swap taking effect at <paramref name="offset"/> (keys sort in offset order).</summary>
    /// <param name="offset">First input offset stepped by the new version (-1: from the partition's start).</param>
    /// <returns>The key.</returns>
    public static string SwapKey(long offset) => SwapPrefix + (offset + 1).ToString("D19", CultureInfo.InvariantCulture);

    /// <summary>Bytes of a value naming <paramref name="version"/>.</summary>
    /// <param name="version">Model version.</param>
    /// <returns>The size.</returns>
    public static int Size(string version) => 10 + KeyStateRecord.VersionBytes(version).Length;

    /// <summary>Writes a value.</summary>
    /// <param name="destination">Exactly <see cref="Size"/> bytes.</param>
    /// <param name="offset">The offset.</param>
    /// <param name="version">Model version.</param>
    public static void Write(Span<byte> destination, long offset, string version)
    {
        var v = KeyStateRecord.VersionBytes(version);
        destination[0] = Format;
        BinaryPrimitives.WriteInt64LittleEndian(destination[1..], offset);
        destination[9] = (byte)v.Length;
        v.CopyTo(destination[10..]);
    }

    /// <summary>Reads a value.</summary>
    /// <param name="value">Stored bytes.</param>
    /// <param name="offset">The offset.</param>
    /// <param name="version">The version.</param>
    /// <returns>False when the value is not of a known format.</returns>
    public static bool TryRead(ReadOnlySpan<byte> value, out long offset, out string version)
    {
        offset = -1;
        version = "";
        if (value.Length < 10 || value[0] != Format || value.Length != 10 + value[9]) return false;
        offset = BinaryPrimitives.ReadInt64LittleEndian(value[1..]);
        version = Encoding.UTF8.GetString(value[10..]);
        return true;
    }

    /// <summary>Reads a partition's model record and swap records (a scan that stops at the first event key).</summary>
    /// <param name="store">The store.</param>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Input partition.</param>
    /// <returns>The model record (null when none) and the swaps in offset order.</returns>
    public static ((long Since, string Version)? Model, List<(long Offset, string Version)> Swaps) Load(IStateStore store, Model.Forecasting.SourceKind kind, int partition)
    {
        ArgumentNullException.ThrowIfNull(store);
        (long, string)? model = null;
        var swaps = new List<(long, string)>();
        store.Scan(kind, partition, (key, value) =>
        {
            if (!IsReserved(key)) return false;
            if (!TryRead(value, out var offset, out var version)) return true;
            var name = Encoding.UTF8.GetString(key);
            if (name == ModelKey) model = (offset, version);
            else if (name.StartsWith(SwapPrefix, StringComparison.Ordinal)) swaps.Add((offset, version));
            return true;
        });
        swaps.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return (model, swaps);
    }
}
