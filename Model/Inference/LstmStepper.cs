using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;

namespace StreamLstm.Model.Inference;

/// <summary>
/// The hot path: advances a list of slots by one time step in place and writes μ and log σ for each.
/// Packs the weights once at construction; <see cref="Step"/> allocates nothing. Results are bit-identical
/// whatever the thread count. One stepper per worker thread (it owns scratch buffers).
/// </summary>
public sealed class LstmStepper
{
    private readonly PackedLstm _packed;
    private readonly int _maxBatch;
    private readonly float[] _gates;

    /// <summary>Packs <paramref name="model"/>'s weights for batches of up to <paramref name="maxBatch"/> slots.</summary>
    /// <param name="model">Model (its arrays are copied).</param>
    /// <param name="maxBatch">Largest batch <see cref="Step"/> will be given.</param>
    /// <param name="threads">Threads used for large batches (1 = caller's thread only).</param>
    public LstmStepper(LstmModel model, int maxBatch, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBatch);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _packed = new PackedLstm(model);
        _maxBatch = maxBatch;
        Threads = threads;
        _gates = new float[4 * model.Config.HiddenSize];
    }

    /// <summary>The model's sizes.</summary>
    public LstmConfig Config => _packed.Config;

    /// <summary>Largest batch accepted by <see cref="Step"/>.</summary>
    public int MaxBatch => _maxBatch;

    /// <summary>Threads used for large batches.</summary>
    public int Threads { get; }

    /// <summary>
    /// Advances <paramref name="slots"/> (B distinct slots) by one step.
    /// </summary>
    /// <param name="slab">State storage.</param>
    /// <param name="slots">B slot indices.</param>
    /// <param name="x">Inputs, <c>[B, I]</c> row-major.</param>
    /// <param name="mu">Output means, <c>[B, K]</c>.</param>
    /// <param name="logSigma">Output log standard deviations, <c>[B, K]</c>.</param>
    public void Step(StateSlab slab, ReadOnlySpan<int> slots, ReadOnlySpan<float> x, Span<float> mu, Span<float> logSigma)
    {
        ArgumentNullException.ThrowIfNull(slab);
        var cfg = _packed.Config;
        var b = slots.Length;
        if (b > _maxBatch) throw new ArgumentException($"Batch of {b} exceeds the stepper's maximum {_maxBatch}.", nameof(slots));
        if (slab.Layers != cfg.Layers || slab.Hidden != cfg.HiddenSize)
        {
            throw new ArgumentException($"Slab is {slab.Layers}x{slab.Hidden}, model is {cfg.Layers}x{cfg.HiddenSize}.", nameof(slab));
        }

        if (x.Length < b * cfg.InputSize) throw new ArgumentException($"x needs {b * cfg.InputSize} values.", nameof(x));
        if (mu.Length < b * cfg.Horizons) throw new ArgumentException($"mu needs {b * cfg.Horizons} values.", nameof(mu));
        if (logSigma.Length < b * cfg.Horizons) throw new ArgumentException($"logSigma needs {b * cfg.Horizons} values.", nameof(logSigma));

        var hid = cfg.HiddenSize;
        var k = cfg.Horizons;
        for (var s = 0; s < b; s++)
        {
            var slot = slots[s];
            if (!slab.IsAllocated(slot)) throw new ArgumentException($"Slot {slot} (batch row {s}) is not allocated.", nameof(slots));
            ReadOnlySpan<float> input = x.Slice(s * cfg.InputSize, cfg.InputSize);
            for (var l = 0; l < cfg.Layers; l++)
            {
                var h = slab.HLayer(l).AsSpan(slot * hid, hid);
                var c = slab.CLayer(l).AsSpan(slot * hid, hid);
                ScalarCell.Step(_packed.Weights[l], _packed.Bias[l], cfg.LayerInputSize(l), hid, input, h, c, _gates);
                input = h;
            }

            ScalarCell.Head(_packed.HeadT, _packed.HeadBias, hid, k, input, mu.Slice(s * k, k), logSigma.Slice(s * k, k));
        }
    }
}
