using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.State;

/// <summary>
/// Struct-of-arrays float32 storage of LSTM h and c for many slots (one slot per key).
/// Layout: <c>H[layer][slot * hidden + j]</c>, likewise <c>C</c>: each layer's states are contiguous across slots.
/// No object per key; slots are recycled through a free list. Not thread-safe: a slab belongs to one worker.
/// </summary>
public sealed class StateSlab
{
    private readonly int _layers;
    private readonly int _hidden;
    private float[][] _h;
    private float[][] _c;
    private bool[] _allocated;
    private int[] _free;
    private int _freeCount;
    private int _highWater;
    private int _count;

    /// <summary>Creates a slab for <paramref name="capacity"/> slots (grows on demand).</summary>
    /// <param name="config">Model sizes (layers, hidden).</param>
    /// <param name="capacity">Initial slot capacity.</param>
    public StateSlab(LstmConfig config, int capacity)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _layers = config.Layers;
        _hidden = config.HiddenSize;
        capacity = Math.Max(capacity, 1);
        _h = new float[_layers][];
        _c = new float[_layers][];
        for (var l = 0; l < _layers; l++)
        {
            _h[l] = new float[checked(capacity * _hidden)];
            _c[l] = new float[checked(capacity * _hidden)];
        }

        _allocated = new bool[capacity];
        _free = new int[16];
    }

    /// <summary>Layers.</summary>
    public int Layers => _layers;

    /// <summary>Hidden size.</summary>
    public int Hidden => _hidden;

    /// <summary>Slots currently allocated.</summary>
    public int Count => _count;

    /// <summary>Current capacity in slots.</summary>
    public int Capacity => _allocated.Length;

    /// <summary>Whether <paramref name="slot"/> is currently allocated.</summary>
    /// <param name="slot">Slot index.</param>
    /// <returns>True when allocated.</returns>
    public bool IsAllocated(int slot) => (uint)slot < (uint)_allocated.Length && _allocated[slot];

    /// <summary>Allocates a zeroed slot.</summary>
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
            if (_highWater == _allocated.Length) Grow(_allocated.Length + 1);
            slot = _highWater++;
        }

        _allocated[slot] = true;
        _count++;
        Zero(slot);
        return slot;
    }

    /// <summary>Returns a slot to the free list.</summary>
    /// <param name="slot">Slot index.</param>
    public void Free(int slot)
    {
        CheckSlot(slot);
        _allocated[slot] = false;
        _count--;
        if (_freeCount == _free.Length) Array.Resize(ref _free, _free.Length * 2);
        _free[_freeCount++] = slot;
    }

    /// <summary>Zeroes a slot's h and c in every layer.</summary>
    /// <param name="slot">Slot index.</param>
    public void Zero(int slot)
    {
        CheckSlot(slot);
        for (var l = 0; l < _layers; l++)
        {
            _h[l].AsSpan(slot * _hidden, _hidden).Clear();
            _c[l].AsSpan(slot * _hidden, _hidden).Clear();
        }
    }

    /// <summary>Copies h and c of every layer from one slot to another.</summary>
    /// <param name="from">Source slot.</param>
    /// <param name="to">Destination slot.</param>
    public void Copy(int from, int to)
    {
        CheckSlot(from);
        CheckSlot(to);
        for (var l = 0; l < _layers; l++)
        {
            _h[l].AsSpan(from * _hidden, _hidden).CopyTo(_h[l].AsSpan(to * _hidden, _hidden));
            _c[l].AsSpan(from * _hidden, _hidden).CopyTo(_c[l].AsSpan(to * _hidden, _hidden));
        }
    }

    /// <summary>A slot's hidden state in one layer.</summary>
    /// <param name="slot">Slot index.</param>
    /// <param name="layer">Layer.</param>
    /// <returns>A span of <see cref="Hidden"/> floats.</returns>
    public Span<float> H(int slot, int layer)
    {
        CheckSlot(slot);
        return _h[layer].AsSpan(slot * _hidden, _hidden);
    }

    /// <summary>A slot's cell state in one layer.</summary>
    /// <param name="slot">Slot index.</param>
    /// <param name="layer">Layer.</param>
    /// <returns>A span of <see cref="Hidden"/> floats.</returns>
    public Span<float> C(int slot, int layer)
    {
        CheckSlot(slot);
        return _c[layer].AsSpan(slot * _hidden, _hidden);
    }

    /// <summary>Ensures room for at least <paramref name="capacity"/> slots without further growth.</summary>
    /// <param name="capacity">Slots.</param>
    public void EnsureCapacity(int capacity)
    {
        if (capacity > _allocated.Length) Grow(capacity);
    }

    /// <summary>Raw h storage of one layer (all slots), for the step kernel.</summary>
    internal float[] HLayer(int layer) => _h[layer];

    /// <summary>Raw c storage of one layer (all slots), for the step kernel.</summary>
    internal float[] CLayer(int layer) => _c[layer];

    private void Grow(int min)
    {
        // Doubling keeps amortised growth cheap; long arithmetic guards the element count for millions of slots.
        var newCap = (int)Math.Min(Math.Max((long)_allocated.Length * 2, min), Array.MaxLength / Math.Max(_hidden, 1));
        if (newCap < min) throw new InvalidOperationException($"State slab cannot grow beyond {newCap} slots of hidden size {_hidden}.");
        for (var l = 0; l < _layers; l++)
        {
            Array.Resize(ref _h[l], newCap * _hidden);
            Array.Resize(ref _c[l], newCap * _hidden);
        }

        Array.Resize(ref _allocated, newCap);
    }

    private void CheckSlot(int slot)
    {
        if ((uint)slot >= (uint)_highWater || !_allocated[slot])
        {
            throw new ArgumentOutOfRangeException(nameof(slot), slot, "Slot is not allocated.");
        }
    }
}
