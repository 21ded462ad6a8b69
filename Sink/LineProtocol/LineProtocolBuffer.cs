using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace StreamLstm.Sink.LineProtocol;

/// <summary>
/// Encodes InfluxDB line protocol straight into a growable buffer rented from <see cref="ArrayPool{T}"/>:
/// no allocation per point once the buffer has grown. Usage per point:
/// <see cref="BeginLine"/>, <see cref="Tag"/>*, <c>Field*</c>+, <see cref="EndLine(long)"/>.
/// Newlines (and carriage returns) are rejected everywhere, so <c>'\n'</c> in the output always ends a line.
/// </summary>
public sealed class LineProtocolBuffer : IDisposable
{
    private static readonly SearchValues<char> MeasurementSpecials = SearchValues.Create(", \n\r");
    private static readonly SearchValues<char> TagSpecials = SearchValues.Create(",= \n\r");
    private static readonly SearchValues<char> StringSpecials = SearchValues.Create("\"\\\n\r");
    private static readonly SearchValues<char> LineBreaks = SearchValues.Create("\n\r");

    private byte[] _buffer;
    private int _length;
    private int _lineStart = -1;
    private int _fieldCount;

    /// <summary>Creates a buffer.</summary>
    /// <param name="precision">Timestamp precision the caller's timestamps are converted to.</param>
    /// <param name="initialCapacity">Initial bytes to rent.</param>
    public LineProtocolBuffer(WritePrecision precision = WritePrecision.Milliseconds, int initialCapacity = 64 * 1024)
    {
        Precision = precision;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(256, initialCapacity));
    }

    /// <summary>Timestamp precision.</summary>
    public WritePrecision Precision { get; }

    /// <summary>Bytes of complete lines (each ends with <c>'\n'</c>).</summary>
    public int Length => _lineStart >= 0 ? _lineStart : _length;

    /// <summary>Complete lines written since the last <see cref="Clear"/>.</summary>
    public int LineCount { get; private set; }

    /// <summary>The complete lines written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, Length);

    /// <summary>The complete lines written so far (valid until the next write or <see cref="Clear"/>).</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, Length);

    /// <summary>Forgets everything written (keeps the rented buffer).</summary>
    public void Clear()
    {
        _length = 0;
        _lineStart = -1;
        _fieldCount = 0;
        LineCount = 0;
    }

    /// <summary>Starts a point.</summary>
    /// <param name="measurement">Measurement name (commas and spaces are escaped).</param>
    public void BeginLine(string measurement)
    {
        if (_lineStart >= 0)
        {
            throw new InvalidOperationException("BeginLine called before the previous line was ended or cancelled.");
        }

        RequireIdentifier(measurement, nameof(measurement));
        _lineStart = _length;
        _fieldCount = 0;
        WriteEscaped(measurement, MeasurementSpecials);
    }

    /// <summary>Adds a tag; all tags must come before the first field. Empty values are skipped (InfluxDB has no empty tags).</summary>
    /// <param name="key">Tag key.</param>
    /// <param name="value">Tag value.</param>
    public void Tag(string key, string value)
    {
        RequireOpenLine();
        if (_fieldCount > 0)
        {
            throw new InvalidOperationException("Tags must be written before fields.");
        }

        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        RequireIdentifier(key, nameof(key));
        RequireIdentifier(value, nameof(value));
        WriteByte((byte)',');
        WriteEscaped(key, TagSpecials);
        WriteByte((byte)'=');
        WriteEscaped(value, TagSpecials);
    }

    /// <summary>Adds a float field written as the shortest text that round-trips the double. NaN and infinities are skipped (InfluxDB rejects them).</summary>
    /// <param name="key">Field key.</param>
    /// <param name="value">Value.</param>
    public void Field(string key, double value)
    {
        if (!double.IsFinite(value))
        {
            return;
        }

        FieldKey(key);
        Format(value);
    }

    /// <summary>Adds a float field written as the shortest text that round-trips the single (reads back as the same <c>float</c>). NaN and infinities are skipped.</summary>
    /// <param name="key">Field key.</param>
    /// <param name="value">Value.</param>
    public void Field(string key, float value)
    {
        if (!float.IsFinite(value))
        {
            return;
        }

        FieldKey(key);
        Format(value);
    }

    /// <summary>Adds an integer field (<c>123i</c>).</summary>
    /// <param name="key">Field key.</param>
    /// <param name="value">Value.</param>
    public void FieldInteger(string key, long value)
    {
        FieldKey(key);
        Format(value);
        WriteByte((byte)'i');
    }

    /// <summary>Adds a boolean field.</summary>
    /// <param name="key">Field key.</param>
    /// <param name="value">Value.</param>
    public void Field(string key, bool value)
    {
        FieldKey(key);
        WriteAscii(value ? "true"u8 : "false"u8);
    }

    /// <summary>Adds a string field; quotes and backslashes are escaped.</summary>
    /// <param name="key">Field key.</param>
    /// <param name="value">Value (no newlines).</param>
    public void Field(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.AsSpan().ContainsAny(LineBreaks))
        {
            // Drop the half-written point so the buffer stays usable for the next one.
            CancelLine();
            throw new ArgumentException("Line protocol string fields written by StreamLstm may not contain newlines.", nameof(value));
        }

        FieldKey(key);
        WriteByte((byte)'"');
        WriteEscaped(value, StringSpecials);
        WriteByte((byte)'"');
    }

    /// <summary>Ends the point with a timestamp given in Unix milliseconds, converted to <see cref="Precision"/>.</summary>
    /// <param name="unixMs">Event time, Unix epoch milliseconds.</param>
    public void EndLine(long unixMs) => EndLine(unixMs, 0);

    /// <summary>
    /// Ends the point with a timestamp in Unix milliseconds plus a sub-millisecond part in nanoseconds, which only
    /// nanosecond precision can carry (other precisions drop it).
    /// </summary>
    /// <param name="unixMs">Unix milliseconds.</param>
    /// <param name="subMillisecondNanos">0..999,999 nanoseconds added at nanosecond precision.</param>
    public void EndLine(long unixMs, int subMillisecondNanos)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(subMillisecondNanos);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(subMillisecondNanos, 999_999);
        RequireOpenLine();
        if (_fieldCount == 0)
        {
            CancelLine();
            throw new InvalidOperationException("A point needs at least one field (all values may have been NaN).");
        }

        WriteByte((byte)' ');
        Format(Precision == WritePrecision.Nanoseconds ? checked(Precision.FromUnixMs(unixMs) + subMillisecondNanos) : Precision.FromUnixMs(unixMs));
        WriteByte((byte)'\n');
        _lineStart = -1;
        LineCount++;
    }

    /// <summary>Drops the point being written (for example after a rejected tag value).</summary>
    public void CancelLine()
    {
        if (_lineStart >= 0)
        {
            _length = _lineStart;
            _lineStart = -1;
            _fieldCount = 0;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var b = _buffer;
        _buffer = [];
        if (b.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    /// <summary>Escapes like the server's parser expects, for tests and diagnostics.</summary>
    /// <param name="value">Text.</param>
    /// <returns>The escaped tag key/value text.</returns>
    public static string EscapeTag(string value)
    {
        using var b = new LineProtocolBuffer(initialCapacity: 256);
        b.WriteEscaped(value, TagSpecials);
        return Encoding.UTF8.GetString(b._buffer, 0, b._length);
    }

    private void FieldKey(string key)
    {
        RequireOpenLine();
        RequireIdentifier(key, nameof(key));
        WriteByte(_fieldCount == 0 ? (byte)' ' : (byte)',');
        WriteEscaped(key, TagSpecials);
        WriteByte((byte)'=');
        _fieldCount++;
    }

    private void RequireOpenLine()
    {
        if (_lineStart < 0)
        {
            throw new InvalidOperationException("Call BeginLine first.");
        }
    }

    private void RequireIdentifier(string value, string name)
    {
        if (string.IsNullOrEmpty(value))
        {
            CancelLine();
            throw new ArgumentException("Line protocol names and tag values must not be empty.", name);
        }

        if (value.AsSpan().ContainsAny(LineBreaks))
        {
            CancelLine();
            throw new ArgumentException($"Line protocol names and tag values cannot contain newlines: '{value.ReplaceLineEndings(" ")}'.", name);
        }

        // A trailing backslash would escape the following separator on the server; 1.x has no way to write it.
        if (value[^1] == '\\')
        {
            CancelLine();
            throw new ArgumentException($"Line protocol names and tag values cannot end with a backslash: '{value}'.", name);
        }
    }

    private void WriteEscaped(string value, SearchValues<char> specials)
    {
        var span = value.AsSpan();
        var first = span.IndexOfAny(specials);
        if (first < 0)
        {
            WriteUtf8(span);
            return;
        }

        WriteUtf8(span[..first]);
        for (var i = first; i < span.Length; i++)
        {
            var c = span[i];
            if (specials.Contains(c))
            {
                WriteByte((byte)'\\');
            }

            if (c < 0x80)
            {
                WriteByte((byte)c);
            }
            else
            {
                // Surrogate pairs must be encoded together.
                var n = char.IsHighSurrogate(c) && i + 1 < span.Length ? 2 : 1;
                WriteUtf8(span.Slice(i, n));
                i += n - 1;
            }
        }

    }

    private void WriteUtf8(ReadOnlySpan<char> chars)
    {
        if (chars.IsEmpty)
        {
            return;
        }

        Ensure(Encoding.UTF8.GetMaxByteCount(chars.Length));
        _length += Encoding.UTF8.GetBytes(chars, _buffer.AsSpan(_length));
    }

    private void WriteAscii(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void WriteByte(byte b)
    {
        Ensure(1);
        _buffer[_length++] = b;
    }

    private void Format(double value)
    {
        Ensure(32);
        if (!value.TryFormat(_buffer.AsSpan(_length), out var n, "R", CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("double did not fit in 32 bytes");
        }

        _length += n;
    }

    private void Format(float value)
    {
        Ensure(32);
        if (!value.TryFormat(_buffer.AsSpan(_length), out var n, "R", CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("float did not fit in 32 bytes");
        }

        _length += n;
    }

    private void Format(long value)
    {
        Ensure(24);
        if (!Utf8Formatter.TryFormat(value, _buffer.AsSpan(_length), out var n))
        {
            throw new InvalidOperationException("long did not fit in 24 bytes");
        }

        _length += n;
    }

    private void Ensure(int extra)
    {
        if (_length + extra <= _buffer.Length)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + extra));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
