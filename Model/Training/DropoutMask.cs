namespace StreamLstm.Model.Training;

/// <summary>
/// Inverted dropout between layers, with masks that are a pure function of (seed, optimizer step, layer, row, t, unit),
/// so the CPU and GPU trainers drop exactly the same units and no mask is stored or transferred.
/// </summary>
/// <param name="Rate">Drop probability in [0, 1) (0: off).</param>
/// <param name="Seed">Training seed.</param>
/// <param name="Step">Optimizer step the masks belong to.</param>
public readonly record struct DropoutMask(float Rate, int Seed, int Step)
{
    /// <summary>No dropout.</summary>
    public static DropoutMask None => default;

    /// <summary>Whether any unit is dropped.</summary>
    public bool Active => Rate > 0;

    /// <summary>Keep threshold on the 24-bit hash (units whose hash is below it are dropped).</summary>
    public uint Threshold => (uint)(Rate * (1 << 24));

    /// <summary>Scale of kept units, 1 / (1 − rate).</summary>
    public float KeepScale => 1f / (1f - Rate);

    /// <summary>The multiplier (0 or 1/(1−rate)) for one unit of layer <paramref name="layer"/>'s output feeding layer + 1.</summary>
    /// <param name="layer">Lower layer.</param>
    /// <param name="row">Batch row.</param>
    /// <param name="t">Window step.</param>
    /// <param name="unit">Hidden unit.</param>
    /// <returns>The multiplier.</returns>
    public float Factor(int layer, int row, int t, int unit) =>
        Hash((uint)Seed, (uint)Step, (uint)layer, (uint)row, (uint)t, (uint)unit) >> 8 < Threshold ? 0f : KeepScale;

    /// <summary>32-bit mix of six words (written with plain integer ops so GPU kernels call it unchanged).</summary>
    /// <returns>The hash.</returns>
    public static uint Hash(uint seed, uint step, uint layer, uint row, uint t, uint unit)
    {
        var h = Mix(seed ^ 0x9E3779B9u);
        h = Mix(h ^ step);
        h = Mix(h ^ (layer * 0x85EBCA6Bu));
        h = Mix(h ^ row);
        h = Mix(h ^ (t * 0xC2B2AE35u));
        return Mix(h ^ unit);
    }

    private static uint Mix(uint x)
    {
        x ^= x >> 16;
        x *= 0x7FEB352Du;
        x ^= x >> 15;
        x *= 0x846CA68Bu;
        x ^= x >> 16;
        return x;
    }
}
