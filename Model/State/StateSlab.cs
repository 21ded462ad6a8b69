using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.State;

/// <summary>
/// Struct-of-arrays float32 storage of LSTM h and c for many slots (one slot per key).
/// Layout: <c>H[layer][slot * hidden + j]</c>, likewise <c>C</c>: each layer's states are contiguous across slots.
/// No object per key; slots are recycled through a free list. Not thread-safe: a slab belongs to one worker.
/// </summary>
public sealed class StateSlab
{
    /// <summary>Creates a slab for <paramref name="capacity"/> slots (grows on demand).</summary>
    /// <param name="config">Model sizes (layers, hidden).</param>
    /// <param name="capacity">Initial slot capacity.</param>
    public StateSlab(LstmConfig config, int capacity) => throw new NotImplementedException();

    /// <summary>Layers.</summary>
    public int Layers => throw new NotImplementedException();

    /// <summary>Hidden size.</summary>
    public int Hidden => throw new NotImplementedException();

    /// <summary>Slots currently allocated.</summary>
    public int Count => throw new NotImplementedException();

    /// <summary>Current capacity in slots.</summary>
    public int Capacity => throw new NotImplementedException();

    /// <summary>Allocates a zeroed slot.</summary>
    /// <returns>The slot index.</returns>
    public int Allocate() => throw new NotImplementedException();

    /// <summary>Returns a slot to the free list.</summary>
    /// <param name="slot">Slot index.</param>
    public void Free(int slot) => throw new NotImplementedException();

    /// <summary>Zeroes a slot's h and c in every layer.</summary>
    /// <param name="slot">Slot index.</param>
    public void Zero(int slot) => throw new NotImplementedException();

    /// <summary>Copies h and c of every layer from one slot to another.</summary>
    /// <param name="from">Source slot.</param>
    /// <param name="to">Destination slot.</param>
    public void Copy(int from, int to) => throw new NotImplementedException();

    /// <summary>A slot's hidden state in one layer.</summary>
    /// <param name="slot">Slot index.</param>
    /// <param name="layer">Layer.</param>
    /// <returns>A span of <see cref="Hidden"/> floats.</returns>
    public Span<float> H(int slot, int layer) => throw new NotImplementedException();

    /// <summary>A slot's cell state in one layer.</summary>
    /// <param name="slot">Slot index.</param>
    /// <param name="layer">Layer.</param>
    /// <returns>A span of <see cref="Hidden"/> floats.</returns>
    public Span<float> C(int slot, int layer) => throw new NotImplementedException();
}
