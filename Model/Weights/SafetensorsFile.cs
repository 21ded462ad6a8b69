using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace StreamLstm.Model.Weights;

/// <summary>One tensor read from a safetensors file, widened to float64 (F32 values are exact in float64).</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="DType">Stored dtype (<c>F32</c> or <c>F64</c>).</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="Values">Row-major values.</param>
public sealed record SafeTensor(string Name, string DType, int[] Shape, double[] Values)
{
    /// <summary>Number of elements (product of <see cref="Shape"/>).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>Values narrowed to float32.</summary>
    /// <returns>A new array.</returns>
    public float[] ToSingle()
    {
        var f = new float[Values.Length];
        for (var i = 0; i < f.Length; i++) f[i] = (float)Values[i];
        return f;
    }
}

/// <summary>The parsed content of a safetensors file: tensors by name and the <c>__metadata__</c> string map.</summary>
/// <param name="Tensors">Tensors by name.</param>
/// <param name="Metadata">Header metadata.</param>
public sealed record SafetensorsContent(IReadOnlyDictionary<string, SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata);

/// <summary>A safetensors file is missing, corrupt, or does not hold what the caller needs. <see cref="TensorName"/> names the tensor at fault, if any.</summary>
public sealed class SafetensorsException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SafetensorsException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">Message.</param>
    public SafetensorsException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">Message.</param>
    /// <param name="inner">Cause.</param>
    public SafetensorsException(string message, Exception inner) : base(message, inner)
    {
    }

    /// <summary>Creates the exception naming a tensor.</summary>
    /// <param name="tensorName">The tensor at fault.</param>
    /// <param name="message">Message (should name the tensor too).</param>
    public SafetensorsException(string? tensorName, string message) : base(message) => TensorName = tensorName;

    /// <summary>The tensor at fault, or null when the file as a whole is bad.</summary>
    public string? TensorName { get; }
}

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// (<c>name → {dtype, shape, data_offsets}</c> plus an optional <c>__metadata__</c> string map), then raw little-endian data.
/// Reads F32 and F64; writes F32 (or F64 on request). Everything is validated before anything is returned.
/// </summary>
public static class SafetensorsFile
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    /// <summary>Reads a file.</summary>
    /// <param name="path">File path.</param>
    /// <returns>The content.</returns>
    /// <exception cref="SafetensorsException">The file is missing, unreadable or corrupt.</exception>
    public static SafetensorsContent Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SafetensorsException($"Cannot read safetensors file '{path}': {e.Message}", e);
        }

        try
        {
            return Parse(bytes);
        }
        catch (SafetensorsException e)
        {
            throw new SafetensorsException(e.TensorName, $"{path}: {e.Message}");
        }
    }

    /// <summary>Parses safetensors bytes.</summary>
    /// <param name="bytes">The whole file.</param>
    /// <returns>The content.</returns>
    /// <exception cref="SafetensorsException">The bytes are not a valid safetensors file.</exception>
    public static SafetensorsContent Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 8) throw new SafetensorsException($"Corrupt safetensors file: {bytes.Length} bytes is too short for the header length.");
        var headerLen = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLen > (ulong)(bytes.Length - 8) || (long)headerLen > MaxHeaderBytes)
        {
            throw new SafetensorsException($"Corrupt safetensors file: header length {headerLen} exceeds the file ({bytes.Length} bytes).");
        }

        var header = bytes.Slice(8, (int)headerLen);
        var data = bytes[(8 + (int)headerLen)..];
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header.ToArray());
        }
        catch (JsonException e)
        {
            throw new SafetensorsException($"Corrupt safetensors file: header is not valid JSON ({e.Message}).", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new SafetensorsException("Corrupt safetensors file: header is not a JSON object.");
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw new SafetensorsException("Corrupt safetensors file: __metadata__ is not an object.");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    }

                    continue;
                }

                tensors[prop.Name] = ParseTensor(prop.Name, prop.Value, data);
            }

            return new SafetensorsContent(tensors, metadata);
        }
    }

    private static SafeTensor ParseTensor(string name, JsonElement e, ReadOnlySpan<byte> data)
    {
        try
        {
            if (e.ValueKind != JsonValueKind.Object) throw Bad(name, "entry is not an object");
            if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Bad(name, "has no dtype");
            if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Bad(name, "has no shape");
            if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            {
                throw Bad(name, "has no data_offsets [begin, end]");
            }

            var dtype = dt.GetString()!;
            var width = dtype switch
            {
                "F32" => 4,
                "F64" => 8,
                _ => throw new SafetensorsException(name, $"Tensor '{name}' has dtype {dtype}; only F32 and F64 are supported."),
            };
            var shape = sh.EnumerateArray().Select(d => d.GetInt32()).ToArray();
            if (shape.Any(d => d < 0)) throw Bad(name, "has a negative dimension");
            var count = shape.Aggregate(1L, (a, d) => a * d);
            var begin = off[0].GetInt64();
            var end = off[1].GetInt64();
            if (begin < 0 || end < begin || end > data.Length)
            {
                throw Bad(name, $"data_offsets [{begin}, {end}] fall outside the {data.Length}-byte data section");
            }

            if (end - begin != count * width)
            {
                throw Bad(name, $"has {end - begin} bytes but shape [{string.Join(", ", shape)}] of {dtype} needs {count * width}");
            }

            var values = new double[count];
            var src = data[(int)begin..(int)end];
            if (width == 4)
            {
                for (var i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(i * 4)..]);
            }
            else
            {
                for (var i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadDoubleLittleEndian(src[(i * 8)..]);
            }

            return new SafeTensor(name, dtype, shape, values);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or OverflowException)
        {
            throw new SafetensorsException(name, $"Corrupt safetensors file: tensor '{name}' has a malformed entry ({ex.Message}).");
        }
    }

    private static SafetensorsException Bad(string name, string what) => new(name, $"Corrupt safetensors file: tensor '{name}' {what}.");

    /// <summary>Serialises tensors and metadata. Tensors are written in the given order.</summary>
    /// <param name="tensors">Name, shape and values of each tensor.</param>
    /// <param name="metadata">The <c>__metadata__</c> map (may be empty).</param>
    /// <param name="asDouble">Write F64 instead of F32.</param>
    /// <returns>The file bytes.</returns>
    public static byte[] Serialize(IEnumerable<(string Name, int[] Shape, ReadOnlyMemory<double> Values)> tensors,
        IReadOnlyDictionary<string, string> metadata, bool asDouble = false)
    {
        var list = tensors.ToList();
        var width = asDouble ? 8 : 4;
        using var headerStream = new MemoryStream();
        using (var w = new Utf8JsonWriter(headerStream))
        {
            w.WriteStartObject();
            if (metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var kv in metadata) w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
            }

            long offset = 0;
            foreach (var (name, shape, values) in list)
            {
                var count = shape.Aggregate(1L, (a, d) => a * d);
                if (count != values.Length) throw new ArgumentException($"Tensor '{name}' has {values.Length} values for shape [{string.Join(", ", shape)}].");
                w.WriteStartObject(name);
                w.WriteString("dtype", asDouble ? "F64" : "F32");
                w.WriteStartArray("shape");
                foreach (var d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + count * width);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += count * width;
            }

            w.WriteEndObject();
        }

        // The spec pads the header with spaces to a multiple of 8 so the data section is aligned.
        var header = headerStream.ToArray();
        var padded = (header.Length + 7) / 8 * 8;
        var dataLen = list.Sum(t => (long)t.Values.Length * width);
        var bytes = new byte[8 + padded + dataLen];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)padded);
        header.CopyTo(bytes, 8);
        bytes.AsSpan(8 + header.Length, padded - header.Length).Fill((byte)' ');
        var pos = 8 + padded;
        foreach (var (_, _, values) in list)
        {
            var span = values.Span;
            for (var i = 0; i < span.Length; i++)
            {
                if (asDouble) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(pos), span[i]);
                else BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(pos), (float)span[i]);
                pos += width;
            }
        }

        return bytes;
    }

    /// <summary>Header text for error messages and tools.</summary>
    /// <param name="bytes">File bytes.</param>
    /// <returns>The JSON header.</returns>
    internal static string HeaderText(ReadOnlySpan<byte> bytes) =>
        Encoding.UTF8.GetString(bytes.Slice(8, (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes)));
}
