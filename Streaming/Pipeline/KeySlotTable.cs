using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using StreamLstm.Ingest.Consumer;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>
/// An engine's (partition, key) → slot map keyed by the key's UTF-8 bytes, so the per-event lookup neither transcodes
/// to UTF-16 nor allocates. Chained hashing with the chains threaded through one entry per slot (the slot index is the entry
/// index); keys up to 16 bytes live inline in the entry, so a lookup touches a bucket and one entry, and allocates nothing.
/// Single-threaded, like its engine.
/// </summary>
internal sealed class KeySlotTable
{
    private const int InlineBytes = 16;
    private int[] _buckets = new int[1024];
    private Entry[] _entries = [];

    /// <summary>Keys held.</summary>
    public int Count { get; private set; }

    /// <summary>Makes room for slots 0..<paramref name="slots"/>-1.</summary>
    public void EnsureCapacity(int slots)
    {
        if (slots > _entries.Length) Array.Resize(ref _entries, slots);
    }

    /// <summary>The slot of <paramref name="key"/> in <paramref name="owner"/>, or -1.</summary>
    public int Find(PartitionState owner, ReadOnlySpan<byte> key)
    {
        Pack(key, out var lo, out var hi);
        var h = Hash(key.Length, lo, hi, key, owner.Partition);
        var s = _buckets[(int)h & (_buckets.Length - 1)] - 1;
        var entries = _entries;
        while (s >= 0)
        {
            ref var e = ref entries[s];
            // Hash, length and the first 16 bytes (inline) decide almost always; longer keys compare their array.
            if (e.Hash == h && e.Length == key.Length && e.Lo == lo && e.Hi == hi && ReferenceEquals(e.Owner, owner)
                && (key.Length <= InlineBytes || key.SequenceEqual(e.Key)))
            {
                return s;
            }

            s = e.Next - 1;
        }

        return -1;
    }

    /// <summary>The hash <see cref="Find"/> files (owner, key) under; for the prefetch hints below.</summary>
    public static ulong HashOf(PartitionState owner, ReadOnlySpan<byte> key)
    {
        Pack(key, out var lo, out var hi);
        return Hash(key.Length, lo, hi, key, owner.Partition);
    }

    /// <summary>Hint: starts loading the bucket of <paramref name="hash"/>. Reads and changes nothing.</summary>
    public unsafe void PrefetchBucket(ulong hash)
    {
        if (!Sse.IsSupported) return;
        fixed (int* b = &_buckets[(int)hash & (_buckets.Length - 1)]) Sse.Prefetch0(b);
    }

    /// <summary>Hint: reads the bucket of <paramref name="hash"/> and starts loading the first entry of its chain.</summary>
    public unsafe void PrefetchEntry(ulong hash)
    {
        var s = _buckets[(int)hash & (_buckets.Length - 1)] - 1;
        if (!Sse.IsSupported || (uint)s >= (uint)_entries.Length) return;
        // An entry holds references, so no fixed pointer: the address is only a hint, stale if the GC moved the array.
        var e = (byte*)Unsafe.AsPointer(ref _entries[s]);
        Sse.Prefetch0(e);
        Sse.Prefetch0(e + 39);
    }

    /// <summary>
    /// The slot of the first entry in <paramref name="hash"/>'s chain with that hash, or -1: the key's slot unless two keys
    /// share all 64 bits of their hash, but unchecked (the key is not compared), so only good for a hint.
    /// </summary>
    public int GuessSlot(ulong hash)
    {
        var s = _buckets[(int)hash & (_buckets.Length - 1)] - 1;
        var entries = _entries;
        while ((uint)s < (uint)entries.Length)
        {
            if (entries[s].Hash == hash) return s;
            s = entries[s].Next - 1;
        }

        return -1;
    }

    /// <summary>Adds <paramref name="key"/> (not present) of <paramref name="owner"/> at <paramref name="slot"/> (free in the table).</summary>
    public void Add(PartitionState owner, ReadOnlySpan<byte> key, int slot)
    {
        if (key.IsEmpty) throw new ArgumentException("A key is never empty.", nameof(key));
        if (Count >= _buckets.Length) Rehash(_buckets.Length * 2);
        Pack(key, out var lo, out var hi);
        ref var e = ref _entries[slot];
        e.Hash = Hash(key.Length, lo, hi, key, owner.Partition);
        e.Length = key.Length;
        e.Lo = lo;
        e.Hi = hi;
        e.Owner = owner;
        e.Key = key.Length > InlineBytes ? key.ToArray() : null;
        ref var head = ref _buckets[(int)e.Hash & (_buckets.Length - 1)];
        e.Next = head;
        head = slot + 1;
        Count++;
    }

    /// <summary>Removes the key held at <paramref name="slot"/> (no-op when the slot holds none).</summary>
    public void Remove(int slot)
    {
        if (slot >= _entries.Length || _entries[slot].Length == 0) return;
        ref var link = ref _buckets[(int)_entries[slot].Hash & (_buckets.Length - 1)];
        while (link != 0)
        {
            if (link - 1 == slot)
            {
                link = _entries[slot].Next;
                break;
            }

            link = ref _entries[link - 1].Next;
        }

        _entries[slot] = default;
        Count--;
    }

    private void Rehash(int buckets)
    {
        _buckets = new int[buckets];
        var mask = buckets - 1;
        for (var s = 0; s < _entries.Length; s++)
        {
            ref var e = ref _entries[s];
            if (e.Length == 0) continue;
            ref var head = ref _buckets[(int)e.Hash & mask];
            e.Next = head;
            head = s + 1;
        }
    }

    /// <summary>The key's first 16 bytes as two little-endian words (zero-padded).</summary>
    private static void Pack(ReadOnlySpan<byte> key, out ulong lo, out ulong hi)
    {
        if (key.Length >= InlineBytes)
        {
            lo = BinaryPrimitives.ReadUInt64LittleEndian(key);
            hi = BinaryPrimitives.ReadUInt64LittleEndian(key[8..]);
            return;
        }

        Span<byte> pad = stackalloc byte[InlineBytes];
        pad.Clear();
        key.CopyTo(pad);
        lo = BinaryPrimitives.ReadUInt64LittleEndian(pad);
        hi = BinaryPrimitives.ReadUInt64LittleEndian(pad[8..]);
    }

    /// <summary>A 64-bit multiply-xorshift hash of the key (its packed head, then the rest) and the partition number.</summary>
    private static ulong Hash(int length, ulong lo, ulong hi, ReadOnlySpan<byte> key, int partition)
    {
        var h = Mix((((ulong)(uint)partition + 1) * 0x9E3779B97F4A7C15UL) ^ (ulong)length ^ lo);
        h = Mix(h ^ hi);
        for (var i = InlineBytes; i < length; i += 8)
        {
            h = Mix(h ^ (i + 8 <= length ? BinaryPrimitives.ReadUInt64LittleEndian(key[i..]) : Tail(key[i..])));
        }

        return h ^ (h >> 29);
    }

    private static ulong Tail(ReadOnlySpan<byte> rest)
    {
        ulong t = 0;
        for (var j = rest.Length - 1; j >= 0; j--) t = (t << 8) | rest[j];
        return t;
    }

    private static ulong Mix(ulong x)
    {
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 31;
        return x * 0x94D049BB133111EBUL;
    }

    /// <summary>One slot's key: hash, chain link (slot + 1, 0 = end), length, first 16 bytes, owner and the whole key when longer.</summary>
    private struct Entry
    {
        public ulong Hash;
        public int Next;
        public int Length;
        public ulong Lo;
        public ulong Hi;
        public PartitionState? Owner;
        public byte[]? Key;
    }
}
