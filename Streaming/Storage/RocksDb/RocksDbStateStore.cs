using System.Buffers.Binary;
using System.Collections.Concurrent;
using RocksDbSharp;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Storage.RocksDb;

/// <summary>
/// The durable <see cref="IStateStore"/>: one RocksDB database per process state directory, one column family per
/// (kind, input partition) — the partition's store. In a partition's column family each key's UTF-8 bytes map to its
/// <see cref="KeyStateRecord"/>, and the empty key (never a valid event key) holds the input offset, 8 bytes
/// little-endian. A checkpoint is one <see cref="WriteBatch"/> across column families, which RocksDB applies atomically
/// (write-ahead log), so records and offsets can never be seen from different checkpoints, even after kill -9.
/// <para>
/// The directory is created 0700 (files RocksDB creates later inherit its protection: nobody else can open them) and
/// files already there are set to 0600 when the store opens. Writes go through the WAL without fsync by default
/// (<see cref="RocksDbStateStoreOptions.Sync"/>): that survives a process kill, not a power loss.
/// </para>
/// </summary>
public sealed class RocksDbStateStore : IStateStore
{
    private const string FormatKey = "streamlstm.state.format";
    private const string Format = "1";
    private static readonly byte[] OffsetKey = [];

    private readonly RocksDbSharp.RocksDb _db;
    private readonly ColumnFamilyOptions _cfOptions;
    private readonly WriteOptions _write;
    private readonly ConcurrentDictionary<(SourceKind, int), ColumnFamilyHandle> _families = new();
    private readonly Lock _createLock = new();
    // One native batch reused by every checkpoint (cleared after each write): no wrapper or native allocation per write.
    private readonly WriteBatch _batch = new();
    private readonly Lock _writeLock = new();
    private long _bytesWritten;
    private long _writes;

    /// <summary>Opens (or creates) the store in <paramref name="options"/>' directory.</summary>
    /// <param name="options">Settings.</param>
    public RocksDbStateStore(RocksDbStateStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Directory)) throw new ArgumentException("The state directory is empty.", nameof(options));
        Path = System.IO.Path.GetFullPath(options.Directory);
        CreatePrivateDirectory(Path);
        // Index and bloom filters stay with the table readers (not competing with data blocks in the cache): a lookup of
        // a hibernated or new key then costs at most one data-block read.
        var table = new BlockBasedTableOptions()
            .SetBlockCache(Cache.CreateLru((ulong)options.BlockCacheBytes))
            .SetFilterPolicy(BloomFilterPolicy.Create(10, false))
            .SetCacheIndexAndFilterBlocks(false);
        // Float state does not compress: spare the CPU. Small memtables per partition (a process may own dozens of
        // partitions, each a column family), bounded in total by the database's write buffer size.
        _cfOptions = new ColumnFamilyOptions()
            .SetBlockBasedTableFactory(table)
            .SetCompression(Compression.No)
            .SetWriteBufferSize((ulong)options.WriteBufferBytes)
            .SetMaxWriteBufferNumber(2);
        var db = new DbOptions()
            .SetCreateIfMissing(true)
            .SetCreateMissingColumnFamilies(true)
            .SetMaxTotalWalSize((ulong)options.WriteBufferBytes * 8)
            .SetDbWriteBufferSize((ulong)options.WriteBufferBytes * 8)
            .SetKeepLogFileNum(2)
            .SetInfoLogLevel(InfoLogLevel.Warn)
            .IncreaseParallelism(2);
        var families = new ColumnFamilies(_cfOptions);
        if (RocksDbSharp.RocksDb.TryListColumnFamilies(db, Path, out var names))
        {
            foreach (var name in names.Where(n => n != "default")) families.Add(name, _cfOptions);
        }

        _db = RocksDbSharp.RocksDb.Open(db, Path, families);
        foreach (var name in families.Names)
        {
            if (TryParseFamily(name, out var kind, out var partition)) _families[(kind, partition)] = _db.GetColumnFamily(name);
        }

        var format = _db.Get(FormatKey);
        if (format is null) _db.Put(FormatKey, Format);
        else if (format != Format) throw new InvalidOperationException($"State directory '{Path}' holds store format {format}; this build reads format {Format}.");
        _write = new WriteOptions().SetSync(options.Sync);
        RestrictFiles(Path);
    }

    /// <summary>The store's directory (absolute).</summary>
    public string Path { get; }

    /// <summary>Bytes of keys, records and offsets written by checkpoints so far.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>Checkpoints written so far.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>The column family name of a partition's store.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Input partition.</param>
    /// <returns>The name.</returns>
    public static string FamilyName(SourceKind kind, int partition) => $"state.{kind.ToWireName()}.{partition}";

    /// <inheritdoc />
    public long ReadOffset(SourceKind kind, int partition)
    {
        if (!_families.TryGetValue((kind, partition), out var cf)) return -1;
        var v = _db.Get(OffsetKey, cf);
        return v is { Length: 8 } ? BinaryPrimitives.ReadInt64LittleEndian(v) : -1;
    }

    /// <inheritdoc />
    public int Read(SourceKind kind, int partition, byte[] key, int keyLength, ref byte[] buffer)
    {
        if (!_families.TryGetValue((kind, partition), out var cf)) return -1;
        while (true)
        {
            var n = _db.Get(key, keyLength, buffer, 0, buffer.Length, cf);
            if (n < 0) return -1;
            if (n <= buffer.Length) return (int)n;
            buffer = new byte[n];
        }
    }

    /// <inheritdoc />
    public void Scan(SourceKind kind, int partition, StateVisitor visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        if (!_families.TryGetValue((kind, partition), out var cf)) return;
        using var it = _db.NewIterator(cf);
        for (it.SeekToFirst(); it.Valid(); it.Next())
        {
            var key = it.GetKeySpan();
            if (key.Length == 0) continue;
            if (!visitor(key, it.GetValueSpan())) return;
        }
    }

    /// <inheritdoc />
    public void Write(IReadOnlyList<CheckpointBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        lock (_writeLock)
        {
            try
            {
                Write(batches, _batch);
            }
            finally
            {
                _batch.Clear();
            }
        }
    }

    private void Write(IReadOnlyList<CheckpointBatch> batches, WriteBatch wb)
    {
        Span<byte> offset = stackalloc byte[8];
        long bytes = 0;
        foreach (var batch in batches)
        {
            foreach (var e in batch.Entries)
            {
                // A zero-byte record is a deletion (State:KeyTtl).
                if (e.ValueLength == 0) wb.Delete(batch.Key(e).ToArray(), Family(e.Kind, e.Partition));
                else wb.Put(batch.Key(e), batch.Value(e), Family(e.Kind, e.Partition));
            }
            foreach (var (kind, partition, next) in batch.Offsets)
            {
                BinaryPrimitives.WriteInt64LittleEndian(offset, next);
                wb.Put(OffsetKey, offset, Family(kind, partition));
            }

            bytes += batch.Bytes + 8L * batch.Offsets.Count;
        }

        // One WriteBatch across every partition's column family: RocksDB applies it atomically.
        _db.Write(wb, _write);
        Interlocked.Add(ref _bytesWritten, bytes);
        Interlocked.Increment(ref _writes);
    }

    /// <summary>Approximate live keys in a partition's store (RocksDB's estimate).</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Input partition.</param>
    /// <returns>The estimate; 0 when the partition has no store.</returns>
    public long EstimateKeys(SourceKind kind, int partition) =>
        _families.TryGetValue((kind, partition), out var cf) && long.TryParse(_db.GetProperty("rocksdb.estimate-num-keys", cf), out var n) ? n : 0;

    /// <inheritdoc />
    public void Dispose()
    {
        _batch.Dispose();
        _db.Dispose();
    }

    private ColumnFamilyHandle Family(SourceKind kind, int partition)
    {
        if (_families.TryGetValue((kind, partition), out var cf)) return cf;
        lock (_createLock)
        {
            if (_families.TryGetValue((kind, partition), out cf)) return cf;
            cf = _db.CreateColumnFamily(_cfOptions, FamilyName(kind, partition));
            _families[(kind, partition)] = cf;
            return cf;
        }
    }

    private static bool TryParseFamily(string name, out SourceKind kind, out int partition)
    {
        kind = default;
        partition = -1;
        var parts = name.Split('.');
        if (parts.Length != 3 || parts[0] != "state" || !int.TryParse(parts[2], out partition)) return false;
        foreach (var k in Enum.GetValues<SourceKind>())
        {
            if (k.ToWireName() != parts[1]) continue;
            kind = k;
            return true;
        }

        return false;
    }

    private static void CreatePrivateDirectory(string path)
    {
        const UnixFileMode Owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        Directory.CreateDirectory(path, Owner);
        File.SetUnixFileMode(path, Owner);
    }

    private static void RestrictFiles(string path)
    {
        if (OperatingSystem.IsWindows()) return;
        foreach (var file in Directory.EnumerateFiles(path))
        {
            try
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            catch (IOException)
            {
                // Removed by RocksDB meanwhile (an old log or manifest): nothing to protect.
            }
        }
    }
}

/// <summary>Settings of a <see cref="RocksDbStateStore"/>.</summary>
public sealed class RocksDbStateStoreOptions
{
    /// <summary>The state directory.</summary>
    public string Directory { get; set; } = "";

    /// <summary>Fsync every checkpoint (survives power loss; slower). Off: survives a process kill.</summary>
    public bool Sync { get; set; }

    /// <summary>Memtable size per partition store.</summary>
    public long WriteBufferBytes { get; set; } = 8 << 20;

    /// <summary>Shared block cache.</summary>
    public long BlockCacheBytes { get; set; } = 64 << 20;
}
