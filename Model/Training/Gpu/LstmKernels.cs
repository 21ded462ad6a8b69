using ILGPU;
using ILGPU.Algorithms;

namespace StreamLstm.Model.Training.Gpu;

/// <summary>Sizes of one recurrent step launch.</summary>
internal struct StepArgs
{
    /// <summary>B.</summary>
    public int Batch;

    /// <summary>H.</summary>
    public int Hidden;

    /// <summary>Backward only: 1 when step t + 1 exists (its dA feeds dh of step t through W_hh).</summary>
    public int HasNext;
}

/// <summary>Identity of the dropout masks of one layer boundary (see <see cref="DropoutMask"/>).</summary>
internal struct DropoutArgs
{
    /// <summary>B.</summary>
    public int Batch;

    /// <summary>H.</summary>
    public int Hidden;

    /// <summary>Lower layer whose output is dropped.</summary>
    public int Layer;

    /// <summary>Training seed.</summary>
    public int Seed;

    /// <summary>Optimizer step.</summary>
    public int Step;

    /// <summary>24-bit drop threshold.</summary>
    public uint Threshold;

    /// <summary>1 / (1 − rate).</summary>
    public float Scale;
}

/// <summary>The LSTM cell kernels: one forward step, one backward step, and the dropout mask between layers.</summary>
internal static class LstmKernels
{
    /// <summary>
    /// One forward step of one layer, gates in PyTorch order (i, f, g, o).
    /// Indexing: one thread per (row b, unit j), index = b·H + j. The thread reads the input projection of rows
    /// j, H+j, 2H+j, 3H+j from <paramref name="gates"/> <c>[B, 4H]</c>, adds both biases and W_hh·h_{t−1} for those four rows,
    /// overwrites them with the activated gates (the backward pass reads them), and writes c_t, h_t of (b, j).
    /// W_hh comes transposed, <paramref name="whhT"/>[k·4H + r] = W_hh[r, k], so neighbouring threads (j, j + 1) read
    /// neighbouring addresses while h_{t−1}[b, k] is the same for the whole row.
    /// </summary>
    public static void Forward(Index1D index, StepArgs s, ArrayView<float> gates, ArrayView<float> whhT, ArrayView<float> bih, ArrayView<float> bhh,
        ArrayView<float> hPrev, ArrayView<float> cPrev, ArrayView<float> hNext, ArrayView<float> cNext)
    {
        int hid = s.Hidden, b = index / hid, j = index - b * hid, g4 = 4 * hid;
        var hRow = b * hid;
        var gRow = b * g4;
        float pi = gates[gRow + j] + bih[j] + bhh[j];
        float pf = gates[gRow + hid + j] + bih[hid + j] + bhh[hid + j];
        float pg = gates[gRow + 2 * hid + j] + bih[2 * hid + j] + bhh[2 * hid + j];
        float po = gates[gRow + 3 * hid + j] + bih[3 * hid + j] + bhh[3 * hid + j];
        for (var k = 0; k < hid; k++)
        {
            var h = hPrev[hRow + k];
            var w = k * g4 + j;
            pi += whhT[w] * h;
            pf += whhT[w + hid] * h;
            pg += whhT[w + 2 * hid] * h;
            po += whhT[w + 3 * hid] * h;
        }

        var ig = 1f / (1f + XMath.Exp(-pi));
        var fg = 1f / (1f + XMath.Exp(-pf));
        var gg = XMath.Tanh(pg);
        var og = 1f / (1f + XMath.Exp(-po));
        var c = fg * cPrev[hRow + j] + ig * gg;
        cNext[hRow + j] = c;
        hNext[hRow + j] = og * XMath.Tanh(c);
        gates[gRow + j] = ig;
        gates[gRow + hid + j] = fg;
        gates[gRow + 2 * hid + j] = gg;
        gates[gRow + 3 * hid + j] = og;
    }

    /// <summary>
    /// One backward step of one layer (BPTT).
    /// Indexing: one thread per (row b, unit j), index = b·H + j. dh = dHseq_t[b, j] + Σ_r W_hh[r, j]·dA_{t+1}[b, r]
    /// (r over 4H, when step t + 1 exists); with the stored gates and c it writes dA_t[b, {j, H+j, 2H+j, 3H+j}]
    /// (gradients of the gate pre-activations) and carries dc[b, j] ← (dc + dh·o·(1 − tanh²c))·f to step t − 1.
    /// </summary>
    public static void Backward(Index1D index, StepArgs s, ArrayView<float> whh, ArrayView<float> gates, ArrayView<float> cPrev, ArrayView<float> cNext,
        ArrayView<float> dHseq, ArrayView<float> dANext, ArrayView<float> dA, ArrayView<float> dc)
    {
        int hid = s.Hidden, b = index / hid, j = index - b * hid, g4 = 4 * hid;
        var hRow = b * hid;
        var gRow = b * g4;
        var dh = dHseq[hRow + j];
        if (s.HasNext != 0)
        {
            for (var r = 0; r < g4; r++) dh += whh[r * hid + j] * dANext[gRow + r];
        }

        float ig = gates[gRow + j], fg = gates[gRow + hid + j], gg = gates[gRow + 2 * hid + j], og = gates[gRow + 3 * hid + j];
        var tc = XMath.Tanh(cNext[hRow + j]);
        var dcj = dc[hRow + j] + dh * og * (1f - tc * tc);
        dA[gRow + j] = dcj * gg * ig * (1f - ig);
        dA[gRow + hid + j] = dcj * cPrev[hRow + j] * fg * (1f - fg);
        dA[gRow + 2 * hid + j] = dcj * ig * (1f - gg * gg);
        dA[gRow + 3 * hid + j] = dh * tc * og * (1f - og);
        dc[hRow + j] = dcj * fg;
    }

    /// <summary>
    /// dst[c·rows + r] = src[r·cols + c] (W_hh <c>[4H, H]</c> → <c>[H, 4H]</c> for <see cref="Forward"/>).
    /// Indexing: one thread per source element, index = r·cols + c.
    /// </summary>
    public static void Transpose(Index1D index, int rows, int cols, ArrayView<float> src, ArrayView<float> dst)
    {
        int r = index / cols, c = index - r * cols;
        dst[c * rows + r] = src[index];
    }

    /// <summary>
    /// dst = src ⊙ mask for the output of layer <c>Layer</c> feeding layer + 1 (forward), or the gradient flowing back
    /// through it (backward; src may equal dst). The mask is <see cref="DropoutMask.Hash"/> of (seed, step, layer, b, t, j).
    /// Indexing: one thread per element of a time-major <c>[T, B, H]</c> tensor, index = (t·B + b)·H + j.
    /// </summary>
    public static void Dropout(Index1D index, DropoutArgs s, ArrayView<float> src, ArrayView<float> dst)
    {
        int hid = s.Hidden, row = index / hid, j = index - row * hid, t = row / s.Batch, b = row - t * s.Batch;
        var h = DropoutMask.Hash((uint)s.Seed, (uint)s.Step, (uint)s.Layer, (uint)b, (uint)t, (uint)j);
        dst[index] = h >> 8 < s.Threshold ? 0f : src[index] * s.Scale;
    }
}
