using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using Microsoft.Extensions.Logging;

namespace StreamLstm.Sink.Spool;

/// <summary>What to do when the spool has reached <see cref="SpoolOptions.MaxBytes"/>.</summary>
public enum SpoolFullPolicy
{
    /// <summary>Stop accepting batches: writers wait (backpressure on the pipeline) until replay frees space.</summary>
    Backpressure = 0,

    /// <summary>Writers get a <see cref="SpoolFullException"/> at once (the caller decides; nothing is dropped silently).</summary>
    Fail = 1,
}

/// <summary>Settings of the on-disk spool.</summary>
public sealed class SpoolOptions
{
    /// <summary>Directory holding segment files (<c>seg-*.spool</c>) and the lock file.</summary>
    public string Directory { get; set; } = Path.Combine("artifacts", "spool");

    /// <summary>Upper bound on the total bytes of all segments.</summary>
    public long MaxBytes { get; set; } = 1L << 30;

    /// <summary>A segment is closed and a new one started once it exceeds this many bytes.</summary>
    public long SegmentBytes { get; set; } = 16L << 20;

    /// <summary>fsync each appended record (survives power loss, not just a process kill).</summary>
    public bool Fsync { get; set; } = true;

    /// <summary>Policy when full.</summary>
    [System.ComponentModel.DataAnnotations.EnumDataType(typeof(SpoolFullPolicy), ErrorMessage = "Sink:Spool:FullPolicy must be Backpressure or Fail.")]
    public SpoolFullPolicy FullPolicy { get; set; } = SpoolFullPolicy.Backpressure;
}

/// <summary>Thrown by writers under <see cref="SpoolFullPolicy.Fail"/> when the spool is full and InfluxDB does not answer.</summary>
public sealed class SpoolFullException(string message) : Exception(message);

/// <summary>A damaged region found in a segment (a torn write from a kill, or on-disk corruption).</summary>
/// <param name="Segment">Segment file name.</param>
/// <param name="Offset">Byte offset of the first bad record.</param>
/// <param name="DiscardedBytes">Bytes from that offset to the end of the segment (moved to the dead-letter directory).</param>
/// <param name="Reason">What was wrong.</param>
/// <param name="QuarantinePath">The file in the dead-letter directory that keeps those bytes.</param>
/// <param name="LostPoints">Points of the records that were in that region (known when found during replay; 0 at open, where the header cannot be trusted).</param>
public sealed record SpoolCorruption(string Segment, long Offset, long DiscardedBytes, string Reason, string QuarantinePath = "", long LostPoints = 0);

/// <summary>What a spool directory holds, read without opening (locking) it.</summary>
/// <param name="Segments">Segment files.</param>
/// <param name="Records">Batches (record headers that fit in their file).</param>
/// <param name="Points">Points in those batches.</param>
/// <param name="Bytes">Bytes of all segments.</param>
/// <param name="Oldest">Last write time of the oldest segment (null when there is none).</param>
public readonly record struct SpoolStats(int Segments, long Records, long Points, long Bytes, DateTimeOffset? Oldest);

/// <summary>One spooled batch.</summary>
/// <param name="Payload">Line-protocol bytes (valid until the next spool call).</param>
/// <param name="Points">Points in the batch.</param>
public readonly record struct SpoolRecord(ReadOnlyMemory<byte> Payload, int Points);

/// <summary>
/// A durable FIFO of batches in append-only segment files. Record = <c>[u32 length][u32 points][u32 crc32]</c> + payload,
/// little-endian, CRC over length, points and payload. A segment is deleted once every record in it is acknowledged, so after a
/// kill the partly-acknowledged head segment is replayed from its start: that repeats some writes, which InfluxDB overwrites
/// (same series and timestamp), so delivery stays exact. On open, each segment is verified and a torn or corrupt tail is
/// cut off, copied to the dead-letter directory and reported in <see cref="Corruptions"/>; all records before it are kept.
/// Not thread-safe for appends/reads: the writer's single sender loop owns it; the size properties may be read from any thread.
/// </summary>
public sealed partial class SegmentSpool : IDisposable
{
    /// <summary>Record header size.</summary>
    public const int HeaderBytes = 12;

    /// <summary>Name of the lock file held while a spool is open.</summary>
    public const string LockFileName = "spool.lock";

    private static ReadOnlySpan<byte> Magic => "SLSPOOL1"u8;

    private readonly SpoolOptions _options;
    private readonly ILogger _logger;
    private readonly string _deadLetterDirectory;
    private readonly LinkedList<Segment> _segments = new();
    private readonly List<SpoolCorruption> _corruptions = [];
    private FileStream? _lock;
    private FileStream? _active;
    private FileStream? _reader;
    private long _headOffset;
    private long _sizeBytes;
    private long _records;
    private long _points;
    private long _quarantinedPoints;
    private byte[] _readBuffer = ArrayPool<byte>.Shared.Rent(64 * 1024);

    private SegmentSpool(SpoolOptions options, string deadLetterDirectory, ILogger logger)
    {
        _options = options;
        _deadLetterDirectory = deadLetterDirectory;
        _logger = logger;
    }

    /// <summary>Damaged regions found when the spool was opened.</summary>
    public IReadOnlyList<SpoolCorruption> Corruptions => _corruptions;

    /// <summary>Bytes on disk.</summary>
    public long SizeBytes => Interlocked.Read(ref _sizeBytes);

    /// <summary>Batches waiting.</summary>
    public long PendingRecords => Interlocked.Read(ref _records);

    /// <summary>Points waiting.</summary>
    public long PendingPoints => Interlocked.Read(ref _points);

    /// <summary>Whether nothing waits.</summary>
    public bool IsEmpty => PendingRecords == 0;

    /// <summary>Directory of the segments.</summary>
    public string Directory => _options.Directory;

    /// <summary>Points of corrupt records found during replay and moved aside (see <see cref="Corruptions"/>).</summary>
    public long QuarantinedPoints => Interlocked.Read(ref _quarantinedPoints);

    /// <summary>Opens (creating if needed) the spool; verifies every segment and cuts off damaged tails.</summary>
    /// <param name="options">Spool settings.</param>
    /// <param name="deadLetterDirectory">Where damaged bytes are copied.</param>
    /// <param name="logger">Logger.</param>
    /// <returns>The open spool. Only one process may hold a spool directory.</returns>
    public static SegmentSpool Open(SpoolOptions options, string deadLetterDirectory, ILogger logger)
    {
        PrivateFiles.EnsureDirectory(options.Directory);
        var spool = new SegmentSpool(options, deadLetterDirectory, logger);
        try
        {
            spool._lock = PrivateFiles.Open(Path.Combine(options.Directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"The spool directory '{options.Directory}' is in use by another writer (spool.lock is held).", e);
        }

        foreach (var path in System.IO.Directory.GetFiles(options.Directory, "seg-*.spool").Order(StringComparer.Ordinal))
        {
            spool.Recover(path);
        }

        if (spool._records > 0)
        {
            LogRecovered(logger, spool._records, spool._points, spool._sizeBytes, options.Directory);
        }

        return spool;
    }

    /// <summary>Whether a record of <paramref name="payloadBytes"/> fits under <see cref="SpoolOptions.MaxBytes"/>.</summary>
    /// <param name="payloadBytes">Payload size.</param>
    /// <returns>True when it fits (an empty spool always accepts one record, so a huge batch cannot wedge it).</returns>
    public bool HasRoomFor(int payloadBytes) => IsEmpty || SizeBytes + HeaderBytes + payloadBytes + Magic.Length <= _options.MaxBytes;

    /// <summary>Appends a batch durably.</summary>
    /// <param name="payload">Line-protocol bytes.</param>
    /// <param name="points">Points in it.</param>
    /// <param name="force">Append even when full (for batches already accepted, which must never be dropped; the bound is exceeded by at most the writer's in-flight batches).</param>
    /// <returns>False when the spool is full.</returns>
    public bool TryAppend(ReadOnlySpan<byte> payload, int points, bool force = false)
    {
        if (!force && !HasRoomFor(payload.Length))
        {
            return false;
        }

        if (_active is null || _active.Length >= _options.SegmentBytes)
        {
            StartSegment();
        }

        Span<byte> header = stackalloc byte[HeaderBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)points);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Checksum(header[..8], payload));
        _active!.Write(header);
        _active.Write(payload);
        _active.Flush(_options.Fsync);
        var tail = _segments.Last!.Value;
        tail.Length = _active.Length;
        tail.Records++;
        tail.Points += points;
        Interlocked.Add(ref _sizeBytes, HeaderBytes + payload.Length);
        Interlocked.Increment(ref _records);
        Interlocked.Add(ref _points, points);
        return true;
    }

    /// <summary>Reads the oldest batch without removing it.</summary>
    /// <param name="record">The batch; its payload is valid until the next call.</param>
    /// <returns>False when the spool is empty.</returns>
    public bool TryPeek(out SpoolRecord record)
    {
        while (true)
        {
            record = default;
            var head = _segments.First;
            if (head is null)
            {
                // No segment left means nothing is pending, whatever the counters said (they must never keep the writer in replay mode).
                Interlocked.Exchange(ref _records, 0);
                Interlocked.Exchange(ref _points, 0);
                return false;
            }

            if (_headOffset >= head.Value.Length)
            {
                DropHead();
                continue;
            }

            _reader ??= new FileStream(head.Value.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            _reader.Position = _headOffset;
            Span<byte> header = stackalloc byte[HeaderBytes];
            _reader.ReadExactly(header);
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(header);
            var points = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
            if (length < 0 || length > head.Value.Length - _headOffset - HeaderBytes)
            {
                QuarantineHeadRest(head.Value, "record length beyond the segment while replaying");
                continue;
            }

            if (_readBuffer.Length < length)
            {
                ArrayPool<byte>.Shared.Return(_readBuffer);
                _readBuffer = ArrayPool<byte>.Shared.Rent(length);
            }

            _reader.ReadExactly(_readBuffer, 0, length);
            if (Checksum(header[..8], _readBuffer.AsSpan(0, length)) != crc)
            {
                // Verified at open or written by us: a mismatch now means the disk changed underneath. The rest of the segment
                // cannot be trusted record by record, so it is kept aside whole and its records leave the counters.
                QuarantineHeadRest(head.Value, "checksum mismatch while replaying");
                continue;
            }

            record = new SpoolRecord(_readBuffer.AsMemory(0, length), points);
            return true;
        }
    }

    /// <summary>Removes the batch last returned by <see cref="TryPeek"/> (it was delivered or dead-lettered).</summary>
    public void Acknowledge()
    {
        var head = _segments.First ?? throw new InvalidOperationException("Nothing to acknowledge.");
        _reader ??= new FileStream(head.Value.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        _reader.Position = _headOffset;
        Span<byte> header = stackalloc byte[HeaderBytes];
        _reader.ReadExactly(header);
        var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(header);
        var points = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        _headOffset += HeaderBytes + length;
        head.Value.Records--;
        head.Value.Points -= points;
        Interlocked.Decrement(ref _records);
        Interlocked.Add(ref _points, -points);
        if (_headOffset >= head.Value.Length)
        {
            DropHead();
        }
    }

    /// <summary>Closes the files. Pending batches stay on disk for the next <see cref="Open"/>.</summary>
    public void Dispose()
    {
        _reader?.Dispose();
        _reader = null;
        _active?.Dispose();
        _active = null;
        _lock?.Dispose();
        _lock = null;
        var b = _readBuffer;
        _readBuffer = [];
        if (b.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    private static uint Checksum(ReadOnlySpan<byte> header8, ReadOnlySpan<byte> payload)
    {
        var crc = new Crc32();
        crc.Append(header8);
        crc.Append(payload);
        return crc.GetCurrentHashAsUInt32();
    }

    private bool DropHead()
    {
        var head = _segments.First!;
        _reader?.Dispose();
        _reader = null;
        if (_active is not null && ReferenceEquals(head, _segments.Last))
        {
            _active.Dispose();
            _active = null;
        }

        Interlocked.Add(ref _sizeBytes, -head.Value.Length);
        Interlocked.Add(ref _records, -head.Value.Records);
        Interlocked.Add(ref _points, -head.Value.Points);
        File.Delete(head.Value.Path);
        _segments.RemoveFirst();
        _headOffset = Magic.Length;
        return _segments.First is not null;
    }

    private void StartSegment()
    {
        _active?.Dispose();
        var nextId = _segments.Last is null ? NextIdFromDisk() : _segments.Last.Value.Id + 1;
        var path = Path.Combine(_options.Directory, string.Create(CultureInfo.InvariantCulture, $"seg-{nextId:D12}.spool"));
        _active = PrivateFiles.Open(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete);
        _active.Write(Magic);
        _active.Flush(_options.Fsync);
        _segments.AddLast(new Segment(nextId, path) { Length = Magic.Length });
        if (_segments.Count == 1)
        {
            _headOffset = Magic.Length;
        }

        Interlocked.Add(ref _sizeBytes, Magic.Length);
    }

    private long NextIdFromDisk()
    {
        long max = 0;
        foreach (var p in System.IO.Directory.GetFiles(_options.Directory, "seg-*.spool"))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(p).AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                max = Math.Max(max, id);
            }
        }

        return max + 1;
    }

    private void Recover(string path)
    {
        var name = Path.GetFileName(path);
        if (!long.TryParse(Path.GetFileNameWithoutExtension(path).AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return;
        }

        long goodEnd;
        long records = 0, points = 0;
        string? reason = null;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            var length = fs.Length;
            Span<byte> magic = stackalloc byte[8];
            if (length < Magic.Length || fs.Read(magic) != Magic.Length || !magic.SequenceEqual(Magic))
            {
                goodEnd = 0;
                reason = "missing or bad segment header";
            }
            else
            {
                goodEnd = Magic.Length;
                Span<byte> header = stackalloc byte[HeaderBytes];
                var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
                try
                {
                    while (goodEnd < length)
                    {
                        if (length - goodEnd < HeaderBytes)
                        {
                            reason = "torn record header";
                            break;
                        }

                        fs.ReadExactly(header);
                        var len = BinaryPrimitives.ReadUInt32LittleEndian(header);
                        if (len > length - goodEnd - HeaderBytes)
                        {
                            reason = $"torn record: header says {len} bytes, {length - goodEnd - HeaderBytes} remain";
                            break;
                        }

                        if (buffer.Length < len)
                        {
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = ArrayPool<byte>.Shared.Rent((int)len);
                        }

                        fs.ReadExactly(buffer, 0, (int)len);
                        if (Checksum(header[..8], buffer.AsSpan(0, (int)len)) != BinaryPrimitives.ReadUInt32LittleEndian(header[8..]))
                        {
                            reason = "record checksum mismatch";
                            break;
                        }

                        goodEnd += HeaderBytes + len;
                        records++;
                        points += BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }

        if (reason is not null)
        {
            var fileLength = new FileInfo(path).Length;
            var target = QuarantineTail(path, goodEnd);
            var c = new SpoolCorruption(name, goodEnd, fileLength - goodEnd, reason, target);
            _corruptions.Add(c);
            LogCorruption(_logger, name, goodEnd, c.DiscardedBytes, reason, target);
        }

        if (goodEnd <= Magic.Length)
        {
            // Nothing usable: remove it so ids and sizes stay simple.
            File.Delete(path);
            return;
        }

        var seg = new Segment(id, path) { Length = goodEnd, Records = records, Points = points };
        _segments.AddLast(seg);
        if (_segments.Count == 1)
        {
            _headOffset = Magic.Length;
        }

        _sizeBytes += goodEnd;
        _records += records;
        _points += points;
    }

    private string QuarantineTail(string path, long goodEnd)
    {
        var target = QuarantinePath(path, goodEnd);
        using (var src = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
            using (var dst = PrivateFiles.Open(target, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                src.Position = goodEnd;
                src.CopyTo(dst);
                dst.Flush(true);
            }

            src.SetLength(goodEnd);
            src.Flush(true);
        }

        return target;
    }

    private string QuarantinePath(string segmentPath, long offset)
    {
        PrivateFiles.EnsureDirectory(_deadLetterDirectory);
        return Path.Combine(_deadLetterDirectory, string.Create(CultureInfo.InvariantCulture, $"corrupt-{Path.GetFileNameWithoutExtension(segmentPath)}-{offset}.bin"));
    }

    /// <summary>Copies the head segment from the read position to its end into the dead-letter directory, then drops the segment.</summary>
    private void QuarantineHeadRest(Segment head, string reason)
    {
        var target = QuarantinePath(head.Path, _headOffset);
        using (var src = new FileStream(head.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var dst = PrivateFiles.Open(target, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            src.Position = _headOffset;
            src.CopyTo(dst);
            dst.Flush(true);
        }

        var c = new SpoolCorruption(Path.GetFileName(head.Path), _headOffset, head.Length - _headOffset, reason, target, head.Points);
        _corruptions.Add(c);
        Interlocked.Add(ref _quarantinedPoints, head.Points);
        LogCorruption(_logger, c.Segment, c.Offset, c.DiscardedBytes, reason, target);
        LogQuarantined(_logger, head.Records, head.Points, target);

        // DropHead takes the segment's remaining records and points off the counters.
        _headOffset = head.Length;
        DropHead();
    }

    /// <summary>Counts what a spool directory holds from the record headers, without locking or verifying it.</summary>
    /// <param name="directory">Spool directory.</param>
    /// <returns>Segments, batches, points, bytes and the oldest segment's time.</returns>
    public static SpoolStats Inspect(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            return default;
        }

        var segments = 0;
        long records = 0, points = 0, bytes = 0;
        DateTimeOffset? oldest = null;
        Span<byte> header = stackalloc byte[HeaderBytes];
        foreach (var path in System.IO.Directory.GetFiles(directory, "seg-*.spool"))
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            segments++;
            bytes += fs.Length;
            var written = new DateTimeOffset(File.GetLastWriteTimeUtc(path), TimeSpan.Zero);
            oldest = oldest is null || written < oldest ? written : oldest;
            var at = (long)Magic.Length;
            while (at + HeaderBytes <= fs.Length)
            {
                fs.Position = at;
                fs.ReadExactly(header);
                var len = BinaryPrimitives.ReadUInt32LittleEndian(header);
                if (len > fs.Length - at - HeaderBytes)
                {
                    break;
                }

                records++;
                points += BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
                at += HeaderBytes + len;
            }
        }

        return new SpoolStats(segments, records, points, bytes, oldest);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Spool segment {Segment} is damaged at byte {Offset} ({Bytes} bytes cut off and kept in {Quarantine}): {Reason}. Records before it are delivered.")]
    private static partial void LogCorruption(ILogger logger, string segment, long offset, long bytes, string reason, string quarantine);

    [LoggerMessage(Level = LogLevel.Error, Message = "Spool quarantined {Records} batches ({Points} points) it can no longer read to {Quarantine}; they are not sent.")]
    private static partial void LogQuarantined(ILogger logger, long records, long points, string quarantine);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Spool holds {Records} batches ({Points} points, {Bytes} bytes) in {Directory}; they will be replayed when InfluxDB answers.")]
    private static partial void LogRecovered(ILogger logger, long records, long points, long bytes, string directory);

    private sealed class Segment(long id, string path)
    {
        public long Id { get; } = id;

        public string Path { get; } = path;

        public long Length { get; set; }

        /// <summary>Records not yet acknowledged.</summary>
        public long Records { get; set; }

        /// <summary>Points of those records.</summary>
        public long Points { get; set; }
    }
}
