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
/// </code>
/// Format 1 (before scoring state was stored) has the same layout with an empty scoring section; it still loads, and its
/// key's scoring starts fresh. A reader rejects a record whose format it does not know or whose sizes do not add up, rather than guess.
/// </summary>
public static class KeyStateRecord
{
    /// <summary>The format this code writes.</summary>
    public const byte FormatVersion = 2;

    /// <summary>The oldest format this code reads (format 1: no scoring state).</summary>
    public const byte OldestReadable = 1;

    private const int Header = 11;

    /// <summary>Record bytes for the given parts.</summary>
    /// <param name="rowFloats">Slab floats per key.</param>
    /// <param name="featureBytes">Feature state bytes.</param>
    /// <param name="modelVersion">Model version as UTF-8 (at most 255 bytes).</param>
    /// <param name="scoringBytes">Scoring state bytes.</param>
    /// <returns>The size.</returns>
    public static int Size(int rowFloats, int featureBytes, ReadOnlySpan<byte> modelVersion, int scoringBytes = 0) =>
        Header + modelVersion.Length + rowFloats * sizeof(float) + featureBytes + scoringBytes;

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
    public static void Write(Span<byte> destination, SourceKind kind, int layers, int hidden, ReadOnlySpan<byte> modelVersion, ReadOnlySpan<float> row,
        ReadOnlySpan<byte> features, ReadOnlySpan<byte> scoring = default)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("State records are written on little-endian machines only.");
        destination[0] = FormatVersion;
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
        if (record.Length != expected) return Fail(out error, $"record is {record.Length} bytes but its header describes {expected}");
        var at = Header;
        var version = record.Slice(at, versionLength);
        at += versionLength;
        var row = MemoryMarshal.Cast<byte, float>(record.Slice(at, rowBytes));
        at += rowBytes;
        var features = record.Slice(at, featureBytes);
        at += featureBytes;
        view = new KeyStateView((SourceKind)record[1], layers, hidden, version, row, features, record.Slice(at, scoringBytes));
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
public readonly ref struct KeyStateView(SourceKind Kind, int Layers, int Hidden, ReadOnlySpan<byte> ModelVersion, ReadOnlySpan<float> Row, ReadOnlySpan<byte> Features, ReadOnlySpan<byte> Scoring)
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
}
