using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Storage;

/// <summary>
/// The stored form of one key's state, a compact little-endian binary record that starts with its format version:
/// <code>
/// u8  format (2)          u8  kind            u16 layers          u16 hidden
/// u16 feature bytes       u16 scoring bytes   u8  model-version length, then its UTF-8 bytes
/// f32 × 2·layers·hidden   (the slab row: h₀, c₀, h₁, c₁, …)
/// feature state           (FeatureExtractor.ExportState: last timestamp, last observed, per statistic mean/var/count)
/// scoring state           (ScoringSlab.Export: previous h1 forecast, smoothing window, alert phase; its own format byte first)
/// format 3 only: u16 history floats, then f32 × that many (the key's last inputs, oldest first: what a hot swap re-warms over)
/// </code>
/// Format 3 is written only when the record carries re-warm history (online learning on); without it the record is format 2.
/// Format 1 (before scoring state was stored) has the same layout with an empty scoring section; it still loads, and its
/// key's scoring starts fresh. A reader rejects a record whose format it does not know or whose sizes do not add up, rather than guess.
/// </summary>
public static class KeyStateRecord
{
    /// <summary>The format this code writes.</summary>
    public const byte FormatVersion = 3;

    /// <summary>The format written when a record carries no re-warm history.</summary>
    public const byte FormatWithoutHistory = 2;

    /// <summary>The oldest format this code reads (format 1: no scoring state).</summary>
    public const byte OldestReadable = 1;

    private const int Header = 11;

    /// <summary>Record bytes for the given parts.</summary>
    /// <param name="rowFloats">Slab floats per key.</param>
    /// <param name="featureBytes">Feature state bytes.</param>
    /// <param name="modelVersion">Model version as UTF-8 (at most 255 bytes).</param>
    /// <param name="scoringBytes">Scoring state bytes.</param>
    /// <param name="historyFloats">Re-warm history floats (0: none, a format 2 record).</param>
    /// <returns>The size.</returns>
    public static int Size(int rowFloats, int featureBytes, ReadOnlySpan<byte> modelVersion, int scoringBytes = 0, int historyFloats = 0) =>
        Header + modelVersion.Length + rowFloats * sizeof(float) + featureBytes + scoringBytes + (historyFloats > 0 ? 2 + historyFloats * sizeof(float) : 0);

    /// <summary>The UTF-8 form of a model version as stored (truncated to 255 bytes).</summary>
    /// <param name="version">Model version.</param>
    /// <returns>Bytes.</returns>
    public static byte[] VersionBytes(string version)
    {
        var b = Encoding.UTF8.GetBytes(version ?? "");
        return b.Length <= 255 ? b : b[..255];
    }

    /// <summary>Writes a record.</summary>
    /// <param name="destination">Exactly <see cref="Size"/> bytes.</param>
    /// <param name="kind">Source kind.</param>
    /// <param name="layers">Layers.</param>
    /// <param name="hidden">Hidden size.</param>
    /// <param name="modelVersion">Model version bytes (<see cref="VersionBytes"/>).</param>
    /// <param name="row">Slab row.</param>
    /// <param name="features">Feature state.</param>
    /// <param name="scoring">Scoring state.</param>
    /// <param name="history">Re-warm history (the key's last inputs, oldest first); empty: none (format 2).</param>
    public static void Write(Span<byte> destination, SourceKind kind, int layers, int hidden, ReadOnlySpan<byte> modelVersion, ReadOnlySpan<float> row,
        ReadOnlySpan<byte> features, ReadOnlySpan<byte> scoring = default, ReadOnlySpan<float> history = default)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("State records are written on little-endian machines only.");
        destination[0] = history.IsEmpty ? FormatWithoutHistory : FormatVersion;
        destination[1] = (byte)kind;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], checked((ushort)layers));
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], checked((ushort)hidden));
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], checked((ushort)features.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], checked((ushort)scoring.Length));
        destination[10] = checked((byte)modelVersion.Length);
        var at = Header;
        modelVersion.CopyTo(destination[at..]);
        at += modelVersion.Length;
        MemoryMarshal.AsBytes(row).CopyTo(destination[at..]);
        at += row.Length * sizeof(float);
        features.CopyTo(destination[at..]);
        at += features.Length;
        scoring.CopyTo(destination[at..]);
        if (history.IsEmpty) return;
        at += scoring.Length;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[at..], checked((ushort)history.Length));
        MemoryMarshal.AsBytes(history).CopyTo(destination[(at + 2)..]);
    }

    /// <summary>Parses a record without copying.</summary>
    /// <param name="record">The stored bytes.</param>
    /// <param name="view">The parts, when valid.</param>
    /// <param name="error">Why it is not valid.</param>
    /// <returns>True when the record is valid.</returns>
    public static bool TryRead(ReadOnlySpan<byte> record, out KeyStateView view, out string? error)
    {
        view = default;
        if (record.Length < Header) return Fail(out error, $"record of {record.Length} bytes is shorter than its header");
        if (record[0] is < OldestReadable or > FormatVersion) return Fail(out error, $"record format {record[0]} is not supported (this build reads {OldestReadable} to {FormatVersion})");
        var layers = BinaryPrimitives.ReadUInt16LittleEndian(record[2..]);
        var hidden = BinaryPrimitives.ReadUInt16LittleEndian(record[4..]);
        var featureBytes = BinaryPrimitives.ReadUInt16LittleEndian(record[6..]);
        var scoringBytes = BinaryPrimitives.ReadUInt16LittleEndian(record[8..]);
        var versionLength = record[10];
        if (record[0] == 1 && scoringBytes != 0) return Fail(out error, $"format 1 record has {scoringBytes} scoring bytes (format 1 has none)");
        var rowBytes = 2 * layers * hidden * sizeof(float);
        var expected = Header + versionLength + rowBytes + featureBytes + scoringBytes;
        var historyFloats = 0;
        if (record[0] >= 3)
        {
            if (record.Length < expected + 2) return Fail(out error, $"format {record[0]} record of {record.Length} bytes has no history length");
            historyFloats = BinaryPrimitives.ReadUInt16LittleEndian(record[expected..]);
            expected += 2 + historyFloats * sizeof(float);
        }

        if (record.Length != expected) return Fail(out error, $"record is {record.Length} bytes but its header describes {expected}");
        var at = Header;
        var version = record.Slice(at, versionLength);
        at += versionLength;
        var row = MemoryMarshal.Cast<byte, float>(record.Slice(at, rowBytes));
        at += rowBytes;
        var features = record.Slice(at, featureBytes);
        at += featureBytes;
        var scoring = record.Slice(at, scoringBytes);
        at += scoringBytes;
        var history = historyFloats > 0 ? MemoryMarshal.Cast<byte, float>(record.Slice(at + 2, historyFloats * sizeof(float))) : default;
        view = new KeyStateView((SourceKind)record[1], layers, hidden, version, row, features, scoring, history);
        error = null;
        return true;
    }

    private static bool Fail(out string error, string message)
    {
        error = message;
        return false;
    }
}

/// <summary>A parsed <see cref="KeyStateRecord"/> (spans into the stored bytes).</summary>
/// <param name="Kind">Source kind.</param>
/// <param name="Layers">Layers.</param>
/// <param name="Hidden">Hidden size.</param>
/// <param name="ModelVersion">Model version, UTF-8.</param>
/// <param name="Row">Slab row (h and c of every layer).</param>
/// <param name="Features">Feature state.</param>
/// <param name="Scoring">Scoring state.</param>
/// <param name="History">Re-warm history (format 3; empty before).</param>
public readonly ref struct KeyStateView(SourceKind Kind, int Layers, int Hidden, ReadOnlySpan<byte> ModelVersion, ReadOnlySpan<float> Row, ReadOnlySpan<byte> Features, ReadOnlySpan<byte> Scoring,
    ReadOnlySpan<float> History = default)
{
    /// <summary>Source kind.</summary>
    public SourceKind Kind { get; } = Kind;

    /// <summary>Layers.</summary>
    public int Layers { get; } = Layers;

    /// <summary>Hidden size.</summary>
    public int Hidden { get; } = Hidden;

    /// <summary>Model version, UTF-8.</summary>
    public ReadOnlySpan<byte> ModelVersion { get; } = ModelVersion;

    /// <summary>Slab row.</summary>
    public ReadOnlySpan<float> Row { get; } = Row;

    /// <summary>Feature state.</summary>
    public ReadOnlySpan<byte> Features { get; } = Features;

    /// <summary>Scoring state.</summary>
    public ReadOnlySpan<byte> Scoring { get; } = Scoring;

    /// <summary>Re-warm history: the key's last inputs, oldest first (empty when the record has none).</summary>
    public ReadOnlySpan<float> History { get; } = History;
}
