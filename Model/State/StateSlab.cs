using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.State;

/// <summary>
/// Float32 storage of LSTM h and c for many slots (one slot per key), in fixed-size chunks.
/// <para>
/// Layout: each slot owns one contiguous row of <see cref="RowFloats"/> floats, <c>[h₀, c₀, h₁, c₁, …]</c> (layer l's h at
/// <c>2·l·H</c>, its c at <c>(2·l + 1)·H</c>), so a key's whole state is one copy to export or import. Rows live in chunks
/// of <see cref="ChunkSlots"/> slots allocated on the pinned object heap: growing adds a chunk and never copies or moves
/// existing state, so the step kernel can address rows by pointer.
/// </para>
/// <para>
/// Dirty tracking: <see cref="MarkDirty"/> (the stepper calls it for every slot it advances) sets a slot's bit once and
/// lists it; <see cref="TakeDirty"/> hands the list over and clears it (once per checkpoint). No object per key; slots are
/// recycled through a free list. Not thread-safe: a slab belongs to one worker.
/// </para>
/// </summary>
public sealed unsafe class StateSlab
{
    /// <summary>Upper bound of one chunk's bytes (the slot count per chunk is the largest power of two that fits).</summary>
    public const int MaxChunkBytes = 1 << 18;

    private readonly int _layers;
    private readonly int _hidden;
    private readonly int _stride;
    private readonly int _shift;
    private readonly int _mask;
    private float[][] _chunks = [];
    private nint[] _rows = [];
    private ulong[][] _allocated = [];
    private ulong[][] _dirty = [];
    private int[] _dirtyList = new int[16];
    private int _dirtyCount;
    private int[] _free = new int[16];
    private int _freeCount;
    private int _highWater;
    private int _count;

    /// <summary>Creates a slab with room for <paramref name="capacity"/> slots (grows on demand, a chunk at a time).</summary>
    /// <param name="config">Model sizes (layers, hidden).</param>
    /// <param name="capacity">Initial slot capacity.</param>
    public StateSlab(LstmConfig config, int capacity)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _layers = config.Layers;
        _hidden = config.HiddenSize;
        _stride = checked(2 * _layers * _hidden);
        // Power-of-two chunks make the slot → (chunk, row) split a shift and a mask; at least 64 slots so a chunk's
        // allocation and dirty words are whole ulongs.
        var slots = 64;
        while (slots < 1 << 16 && (long)slots * 2 * _stride * sizeof(float) <= MaxChunkBytes) slots *= 2;
        _shift = System.Numerics.BitOperations.Log2((uint)slots);
        _mask = slots - 1;
        EnsureCapacity(Math.Max(capacity, 1));
    }

    /// <summary>Layers.</summary>
    public int Layers => _layers;

    /// <summary>Hidden size.</summary>
    public int Hidden => _hidden;

    /// <summary>Floats per slot: h and c of every layer (<c>2·Layers·Hidden</c>).</summary>
    public int RowFloats => _stride;

    /// <summary>Slots per chunk (a power of two).</summary>
    public int ChunkSlots => _mask + 1;

    /// <summary>Chunks allocated so far.</summary>
    public int Chunks => _chunks.Length;

    /// <summary>Slots currently allocated.</summary>
    public int Count => _count;

    /// <summary>Current capacity in slots.</summary>
    public int Capacity => _chunks.Length << _shift;

    /// <summary>Bytes of state storage allocated (all chunks).</summary>
    public long StateBytes => (long)Capacity * _stride * sizeof(float);

    /// <summary>Whether <paramref name="slot"/> is currently allocated.</summary>
    /// <param name="slot">Slot index.</param>
    /// <returns>True when allocated.</returns>
    public bool IsAllocated(int slot) => (uint)slot < (uint)_highWater && Bit(_allocated, slot);

    /// <summary>Allocates a zeroed, clean slot.</summary>
    /// <returns>The slot index.</returns>
    public int Allocate()
    {
        int slot;
        if (_freeCount > 0)
        {
            slot = _free[--_freeCount];
        }
        else
        {
            if (_highWater == Capacity) AddChunk();
            slot = _highWater++;
        }

        SetBit(_allocated, slot, true);
        _count++;
        Row(slot).Clear();
        return slot;
    }

    /// <summary>Returns a slot to the free list (its dirty mark is dropped).</summary>
    /// <param name="slot">Slot index.</param>
    public void Free(int slot)
    {
        CheckSlot(slot);
        SetBit(_allocated, slot, false);
        SetBit(_dirty, slot, false);
        _count--;
        if (_freeCount == _free.Length) Array.Resize(ref _free, _free.Length * 2);
        _free[_freeCount++] = slot;
    }

    /// <summary>Zeroes a slot's h and c in every layer.</summary>
    /// <param name="slot">Slot index.</param>
    public void Zero(int slot)
    {
        CheckSlot(slot);
        Row(slot).Clear();
    }

    /// <summary>Copies h and c of every layer from one slot to another.</summary>
    /// <param name="from">Source slot.</param>
    /// <param name="to">Destination slot.</param>
    public void Copy(int from, int to)
    {
        CheckSlot(from);
        CheckSlot(to);
        Row(from).CopyTo(Row(to));
    }

    /// <summary>A slot's hidden state in one layer.</summary>
    /// <param name="slot">Slot index.</param>
    /// <param name="layer">Layer.</param>
    /// <returns>A span of <see cref="Hidden"/> floats.</returns>
    public Span<float> H(int slot, int layer)
    {
        CheckSlot(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)layer, (uint)_layers, nameof(layer));
        return Row(slot).Slice(2 * layer * _hidden, _hidden);
    }

    /// <summary>A slot's cell state in one layer.</summary>
    /// <param name="slot">Slot index.</param>
    /// <param name="layer">Layer.</param>
    /// <returns>A span of <see cref="Hidden"/> floats.</returns>
    public Span<float> C(int slot, int layer)
    {
        CheckSlot(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)layer, (uint)_layers, nameof(layer));
        return Row(slot).Slice((2 * layer + 1) * _hidden, _hidden);
    }

    /// <summary>Copies a slot's whole state (<see cref="RowFloats"/> floats, layout as described on the type) out.</summary>
    /// <param name="slot">Slot index.</param>
    /// <param name="destination">At least <see cref="RowFloats"/> floats.</param>
    public void Export(int slot, Span<float> destination)
    {
        CheckSlot(slot);
        Row(slot).CopyTo(destination);
    }

    /// <summary>Overwrites a slot's whole state with <paramref name="source"/> (as written by <see cref="Export"/>); the slot stays clean.</summary>
    /// <param name="slot">Slot index.</param>
    /// <param name="source">Exactly <see cref="RowFloats"/> floats.</param>
    public void Import(int slot, ReadOnlySpan<float> source)
    {
        CheckSlot(slot);
        if (source.Length != _stride) throw new ArgumentException($"A slot holds {_stride} floats ({_layers} layers x 2 x {_hidden}); got {source.Length}.", nameof(source));
        source.CopyTo(Row(slot));
    }

    /// <summary>Marks a slot as changed since the last <see cref="TakeDirty"/>.</summary>
    /// <param name="slot">Slot index (allocated).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MarkDirty(int slot)
    {
        ref var word = ref _dirty[slot >> _shift][(slot & _mask) >> 6];
        var bit = 1UL << (slot & 63);
        if ((word & bit) != 0) return;
        word |= bit;
        if (_dirtyCount == _dirtyList.Length) Array.Resize(ref _dirtyList, _dirtyList.Length * 2);
        _dirtyList[_dirtyCount++] = slot;
    }

    /// <summary>Whether <paramref name="slot"/> changed since the last <see cref="TakeDirty"/>.</summary>
    /// <param name="slot">Slot index.</param>
    /// <returns>True when dirty.</returns>
    public bool IsDirty(int slot) => (uint)slot < (uint)_highWater && Bit(_dirty, slot);

    /// <summary>Slots marked dirty (an upper bound: freed slots drop their mark but stay counted until <see cref="TakeDirty"/>).</summary>
    public int DirtyCount => _dirtyCount;

    /// <summary>Appends every dirty slot to <paramref name="into"/> (each once, in first-marked order) and clears all marks.</summary>
    /// <param name="into">Receives the slots.</param>
    /// <returns>Slots appended.</returns>
    public int TakeDirty(List<int> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        var n = 0;
        for (var i = 0; i < _dirtyCount; i++)
        {
            var slot = _dirtyList[i];
            if (!Bit(_dirty, slot)) continue;
            SetBit(_dirty, slot, false);
            into.Add(slot);
            n++;
        }

        _dirtyCount = 0;
        return n;
    }

    /// <summary>Ensures room for at least <paramref name="capacity"/> slots without further growth.</summary>
    /// <param name="capacity">Slots.</param>
    public void EnsureCapacity(int capacity)
    {
        while (Capacity < capacity) AddChunk();
    }

    /// <summary>A slot's row (every layer's h and c), without the allocation check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Span<float> Row(int slot) => new((float*)_rows[slot >> _shift] + (long)(slot & _mask) * _stride, _stride);

    /// <summary>Pointer to a slot's row, for the step kernel (chunks are pinned, so it stays valid while the slab lives).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal float* RowPointer(int slot) => (float*)_rows[slot >> _shift] + (long)(slot & _mask) * _stride;

    private void AddChunk()
    {
        var slots = _mask + 1;
        if ((long)Capacity + slots > Array.MaxLength) throw new InvalidOperationException($"State slab cannot grow beyond {Capacity} slots.");
        // Pinned (POH): rows never move, so growth copies nothing and the kernel may keep pointers across a step.
        var chunk = GC.AllocateArray<float>(slots * _stride, pinned: true);
        var n = _chunks.Length;
        Array.Resize(ref _chunks, n + 1);
        Array.Resize(ref _rows, n + 1);
        Array.Resize(ref _allocated, n + 1);
        Array.Resize(ref _dirty, n + 1);
        _chunks[n] = chunk;
        _rows[n] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(chunk));
        _allocated[n] = new ulong[slots >> 6];
        _dirty[n] = new ulong[slots >> 6];
    }

    private bool Bit(ulong[][] bits, int slot) => (bits[slot >> _shift][(slot & _mask) >> 6] & (1UL << (slot & 63))) != 0;

    private void SetBit(ulong[][] bits, int slot, bool value)
    {
        ref var word = ref bits[slot >> _shift][(slot & _mask) >> 6];
        if (value) word |= 1UL << (slot & 63);
        else word &= ~(1UL << (slot & 63));
    }

    private void CheckSlot(int slot)
    {
        if ((uint)slot >= (uint)_highWater || !Bit(_allocated, slot))
        {
            throw new ArgumentOutOfRangeException(nameof(slot), slot, "Slot is not allocated.");
        }
    }
}
