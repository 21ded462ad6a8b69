using System.Buffers.Binary;
using System.Text;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Sink.Kafka;

/// <summary>How forecast rows are encoded on the forecasts topic (<c>Kafka:ForecastFormat</c>).</summary>
public enum ForecastFormat
{
    /// <summary>One JSON object per row (the default; self-describing).</summary>
    Json,

    /// <summary>The compact fixed layout of <see cref="ForecastBinary"/> (about a third of the JSON's size).</summary>
    Binary,
}

/// <summary>
/// The compact binary row of the forecasts topic, little-endian, keyed (message key) by the entity id:
/// <c>magic 0xF1 · source u8 · horizons K u8 · version length u8 · partition i32 · offset i64 · ts i64 · observed f64 ·
/// mu f32×K · sigma f32×K · model version UTF-8</c>. The first byte tells it from JSON (<c>{</c>).
/// </summary>
public static class ForecastBinary
{
    /// <summary>First byte of every binary row.</summary>
    public const byte Magic = 0xF1;

    private const int Header = 4 + 4 + 8 + 8 + 8;

    /// <summary>Encoded size of one row.</summary>
    /// <param name="horizons">K.</param>
    /// <param name="versionBytes">UTF-8 length of the model version (at most 255).</param>
    /// <returns>Bytes.</returns>
    public static int Size(int horizons, int versionBytes) => Header + (8 * horizons) + versionBytes;

    /// <summary>Writes row <paramref name="row"/> of <paramref name="batch"/> into <paramref name="destination"/>.</summary>
    /// <param name="batch">Batch.</param>
    /// <param name="row">Row.</param>
    /// <param name="version">The model version's UTF-8 bytes (at most 255).</param>
    /// <param name="destination">Exactly <see cref="Size"/> bytes.</param>
    public static void Write(ForecastBatch batch, int row, ReadOnlySpan<byte> version, Span<byte> destination)
    {
        var k = batch.Horizons;
        destination[0] = Magic;
        destination[1] = (byte)batch.Source;
        destination[2] = (byte)k;
        destination[3] = (byte)version.Length;
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], batch.Partitions[row]);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], batch.Offsets[row]);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], batch.TimestampsMs[row]);
        BinaryPrimitives.WriteDoubleLittleEndian(destination[24..], batch.Observed[row]);
        var at = Header;
        foreach (var v in batch.MuOf(row))
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination[at..], v);
            at += 4;
        }

        foreach (var v in batch.SigmaOf(row))
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination[at..], v);
            at += 4;
        }

        version.CopyTo(destination[at..]);
    }

    /// <summary>Reads a binary row back (consumers, tests, and the given-up path).</summary>
    /// <param name="value">The message value.</param>
    /// <param name="row">The decoded row.</param>
    /// <returns>False when <paramref name="value"/> is not a well-formed binary row.</returns>
    public static bool TryRead(ReadOnlySpan<byte> value, out ForecastRow row)
    {
        row = default;
        if (value.Length < Header || value[0] != Magic) return false;
        var k = value[2];
        if (value.Length != Size(k, value[3]) || !Enum.IsDefined((SourceKind)value[1])) return false;
        var mu = new float[k];
        var sigma = new float[k];
        for (var h = 0; h < k; h++)
        {
            mu[h] = BinaryPrimitives.ReadSingleLittleEndian(value[(Header + (4 * h))..]);
            sigma[h] = BinaryPrimitives.ReadSingleLittleEndian(value[(Header + (4 * (k + h)))..]);
        }

        row = new ForecastRow(
            (SourceKind)value[1],
            BinaryPrimitives.ReadInt32LittleEndian(value[4..]),
            BinaryPrimitives.ReadInt64LittleEndian(value[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(value[16..]),
            BinaryPrimitives.ReadDoubleLittleEndian(value[24..]),
            mu,
            sigma,
            Encoding.UTF8.GetString(value[(Header + (8 * k))..]));
        return true;
    }
}

/// <summary>One decoded binary forecast row.</summary>
/// <param name="Source">Source kind.</param>
/// <param name="Partition">Input partition.</param>
/// <param name="Offset">Input offset.</param>
/// <param name="TimestampMs">Event time.</param>
/// <param name="Observed">Observed value (NaN when none).</param>
/// <param name="Mu">Forecast means per horizon.</param>
/// <param name="Sigma">Forecast standard deviations per horizon.</param>
/// <param name="ModelVersion">Model version.</param>
public readonly record struct ForecastRow(SourceKind Source, int Partition, long Offset, long TimestampMs, double Observed, float[] Mu, float[] Sigma, string ModelVersion);
