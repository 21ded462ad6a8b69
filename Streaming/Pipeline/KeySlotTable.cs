using System.Buffers.Binary;
using StreamLstm.Ingest.Consumer;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>
/// An engine's (partition, key) → slot map keyed by the key's UTF-8 bytes, so the per-event lookup neither transcodes
/// to UTF-16 nor allocates. Chained hashing with the chains threaded through per-slot arrays (one entry per slot, so the
/// slot index is the entry index and nothing is allocated per lookup or per insert beyond the key's own bytes).
/// Single-threaded, like its engine.
/// </summary>
internal sealed class KeySlotTable
{
    private int[] _buckets = new int[1024];
    private int[] _next = [];
    private ulong[] _hash = [];
    private byte[]?[] _keys = [];
    private PartitionState?[] _owners = [];

    /// <summary>Keys held.</summary>
    public int Count { get; private set; }

    /// <summary>Makes room for slots 0..<paramref name="slots"/>-1.</summary>
    public void EnsureCapacity(int slots)
    {
        if (slots <= _next.Length) return;
        Array.Resize(ref _next, slots);
        Array.Resize(ref _hash, slots);
        Array.Resize(ref _keys, slots);
        Array.Resize(ref _owners, slots);
    }

    /// <summary>The slot of <paramref name="key"/> in <paramref name="owner"/>, or -1.</summary>
    public int Find(PartitionState owner, ReadOnlySpan<byte> key)
    {
        var h = Hash(key, owner.Partition);
        var s = _buckets[(int)h & (_buckets.Length - 1)] - 1;
        while (s >= 0)
        {
            if (_hash[s] == h && ReferenceEquals(_owners[s], owner) && key.SequenceEqual(_keys[s])) return s;
            s = _next[s] - 1;
        }

        return -1;
    }

    /// <summary>Adds <paramref name="key"/> (not present) of <paramref name="owner"/> at <paramref name="slot"/> (free in the table).</summary>
    public void Add(PartitionState owner, byte[] key, int slot)
    {
        if (Count >= _buckets.Length) Rehash(_buckets.Length * 2);
        var h = Hash(key, owner.Partition);
        _hash[slot] = h;
        _keys[slot] = key;
        _owners[slot] = owner;
        ref var head = ref _buckets[(int)h & (_buckets.Length - 1)];
        _next[slot] = head;
        head = slot + 1;
        Count++;
    }

    /// <summary>Removes the key held at <paramref name="slot"/> (no-op when the slot holds none).</summary>
    public void Remove(int slot)
    {
        if (slot >= _keys.Length || _keys[slot] is null) return;
        ref var link = ref _buckets[(int)_hash[slot] & (_buckets.Length - 1)];
        while (link != 0)
        {
            if (link - 1 == slot)
            {
                link = _next[slot];
                break;
            }

            link = ref _next[link - 1];
        }

        _keys[slot] = null;
        _owners[slot] = null;
        _next[slot] = 0;
        Count--;
    }

    private void Rehash(int buckets)
    {
        _buckets = new int[buckets];
        var mask = buckets - 1;
        for (var s = 0; s < _keys.Length; s++)
        {
            if (_keys[s] is null) continue;
            ref var head = ref _buckets[(int)_hash[s] & mask];
            _next[s] = head;
            head = s + 1;
        }
    }

    /// <summary>A 64-bit multiply-xorshift hash of the key's bytes and the partition number.</summary>
    internal static ulong Hash(ReadOnlySpan<byte> key, int partition)
    {
        var h = ((ulong)(uint)partition + 1) * 0x9E3779B97F4A7C15UL ^ (ulong)key.Length;
        var i = 0;
        for (; i + 8 <= key.Length; i += 8) h = Mix(h ^ BinaryPrimitives.ReadUInt64LittleEndian(key[i..]));
        if (i < key.Length)
        {
            ulong tail = 0;
            for (var j = key.Length - 1; j >= i; j--) tail = (tail << 8) | key[j];
            h = Mix(h ^ tail);
        }

        return h ^ (h >> 29);
    }

    private static ulong Mix(ulong x)
    {
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 31;
        return x * 0x94D049BB133111EBUL;
    }
}
