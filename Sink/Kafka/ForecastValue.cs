using System.Collections.Concurrent;
using Confluent.Kafka;

namespace StreamLstm.Sink.Kafka;

/// <summary>
/// One serialized forecast row as the producer's value: a slice of a pooled <see cref="ValueSlab"/>. The client keeps the
/// value it was given until the delivery report (to hand it back), so a <c>byte[]</c> per row stays referenced for the
/// whole delivery and gets promoted by the GC; this struct is stored inline in the client's delivery shim and only
/// points into a long-lived slab. The bytes stay there until the row's delivery is final (for a retry or a given-up
/// row's origin), then <see cref="Release"/> gives the slice back.
/// </summary>
/// <param name="Slab">The slab holding the bytes (null: no value).</param>
/// <param name="Offset">Start in the slab.</param>
/// <param name="Length">Bytes.</param>
internal readonly record struct ForecastValue(ValueSlab? Slab, int Offset, int Length)
{
    /// <summary>The row's bytes (valid until <see cref="Release"/>).</summary>
    public ReadOnlySpan<byte> Span => Slab is null ? default : Slab.Data.AsSpan(Offset, Length);

    /// <summary>Gives the slice back (once per row, when its delivery is final).</summary>
    public void Release() => Slab?.Release();
}

/// <summary>
/// A large pooled buffer rows are appended to by one writer thread. Counts its live rows: a bias held while the writer
/// appends, plus one per row once sealed; when the last row is released after sealing, the slab goes back to its pool.
/// </summary>
internal sealed class ValueSlab
{
    private const int WriterBias = 1 << 30;
    private readonly ValueSlabPool? _pool;
    private int _refs;
    private int _rows;

    public ValueSlab(int size, ValueSlabPool? pool)
    {
        Data = new byte[size];
        _pool = pool;
    }

    /// <summary>The bytes.</summary>
    public byte[] Data { get; }

    /// <summary>Bytes appended so far.</summary>
    public int Used { get; private set; }

    /// <summary>Prepares a (fresh or returned) slab for a writer.</summary>
    public void Open()
    {
        Used = 0;
        _rows = 0;
        Volatile.Write(ref _refs, WriterBias);
    }

    /// <summary>Appends <paramref name="bytes"/> (the caller checked it fits) and returns the row's value.</summary>
    public ForecastValue Append(ReadOnlySpan<byte> bytes)
    {
        var at = Used;
        bytes.CopyTo(Data.AsSpan(at));
        Used = at + bytes.Length;
        _rows++;
        return new ForecastValue(this, at, bytes.Length);
    }

    /// <summary>The writer is done with it: from now on the last released row returns it to the pool.</summary>
    public void Seal()
    {
        if (Interlocked.Add(ref _refs, _rows - WriterBias) == 0) _pool?.Return(this);
    }

    /// <summary>One row's delivery is final.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _refs) == 0) _pool?.Return(this);
    }
}

/// <summary>Free slabs for reuse (bounded: beyond it, slabs are left to the GC) and each writer thread's current slab.</summary>
internal sealed class ValueSlabPool(int slabBytes = 64 * 1024, int maxFree = 1024)
{
    private readonly ConcurrentQueue<ValueSlab> _free = new();
    private readonly ThreadLocal<ValueSlab?> _current = new();
    private int _freeCount;

    /// <summary>Bytes per slab.</summary>
    public int SlabBytes => slabBytes;

    /// <summary>Slabs waiting for reuse.</summary>
    public int FreeCount => Volatile.Read(ref _freeCount);

    /// <summary>Copies <paramref name="bytes"/> into the calling thread's slab (a new one when it is full).</summary>
    public ForecastValue Append(ReadOnlySpan<byte> bytes)
    {
        var slab = _current.Value;
        if (slab is null || slab.Used + bytes.Length > slab.Data.Length)
        {
            slab?.Seal();
            if (bytes.Length > slabBytes)
            {
                // A row larger than a slab gets a slab of its own, not pooled.
                var own = new ValueSlab(bytes.Length, null);
                own.Open();
                var big = own.Append(bytes);
                own.Seal();
                _current.Value = null;
                return big;
            }

            slab = Rent();
            _current.Value = slab;
        }

        return slab.Append(bytes);
    }

    /// <summary>Seals the calling thread's slab (so it can go back to the pool once its rows are delivered).</summary>
    public void SealCurrent()
    {
        _current.Value?.Seal();
        _current.Value = null;
    }

    internal void Return(ValueSlab slab)
    {
        if (Interlocked.Increment(ref _freeCount) > maxFree)
        {
            Interlocked.Decrement(ref _freeCount);
            return;
        }

        _free.Enqueue(slab);
    }

    private ValueSlab Rent()
    {
        if (_free.TryDequeue(out var slab)) Interlocked.Decrement(ref _freeCount);
        else slab = new ValueSlab(slabBytes, this);
        slab.Open();
        return slab;
    }
}

/// <summary>
/// Hands the client a <see cref="ForecastValue"/>'s bytes: the client copies them into its own buffer during
/// <c>Produce</c> (librdkafka's copy flag) and keeps no reference to the array, so one array per length per thread is
/// reused for every row.
/// </summary>
internal sealed class ForecastValueSerializer : ISerializer<ForecastValue>
{
    private const int MaxCached = 8192;

    [ThreadStatic]
    private static byte[]?[]? t_byLength;

    /// <summary>The one instance.</summary>
    public static ForecastValueSerializer Instance { get; } = new();

    /// <inheritdoc />
    public byte[] Serialize(ForecastValue data, SerializationContext context)
    {
        var length = data.Length;
        byte[] array;
        if (length > MaxCached)
        {
            array = new byte[length];
        }
        else
        {
            var cache = t_byLength ??= new byte[]?[MaxCached + 1];
            array = cache[length] ??= new byte[length];
        }

        data.Span.CopyTo(array);
        return array;
    }
}
