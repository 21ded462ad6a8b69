using StreamLstm.Model.Training;

namespace StreamLstm.Streaming.Online.Replay;

/// <summary>
/// Windows copied out of a <see cref="ReplayBuffer"/>: each T steps of inputs and targets (all K targets known) and the
/// key's (h, c) at the window's start, with a sampling weight. Owned by the trainer (workers keep feeding the buffer).
/// A buffer handed back to <see cref="ReplayBuffer.Sample"/> is refilled in place, so its arrays may be longer than
/// <see cref="Count"/> windows: only the first <see cref="Count"/> are meaningful.
/// </summary>
public sealed class ReplayWindows
{
    internal ReplayWindows(int capacity, int steps, int inputs, int horizons, int layers, int hidden)
    {
        var count = capacity;
        Steps = steps;
        Inputs = inputs;
        Horizons = horizons;
        Layers = layers;
        Hidden = hidden;
        X = new float[count * steps * inputs];
        Y = new float[count * steps * horizons];
        H0 = new float[count * layers * hidden];
        C0 = new float[count * layers * hidden];
        Weights = new float[count];
    }

    /// <summary>Windows.</summary>
    public int Count { get; private set; }

    /// <summary>Windows the arrays have room for.</summary>
    public int Capacity => Weights.Length;

    /// <summary>T.</summary>
    public int Steps { get; }

    /// <summary>I.</summary>
    public int Inputs { get; }

    /// <summary>K.</summary>
    public int Horizons { get; }

    /// <summary>L.</summary>
    public int Layers { get; }

    /// <summary>H.</summary>
    public int Hidden { get; }

    /// <summary>Inputs <c>[N, T, I]</c>.</summary>
    public float[] X { get; private set; }

    /// <summary>Targets <c>[N, T, K]</c>.</summary>
    public float[] Y { get; private set; }

    /// <summary>Initial hidden states <c>[N, L, H]</c>.</summary>
    public float[] H0 { get; private set; }

    /// <summary>Initial cell states <c>[N, L, H]</c>.</summary>
    public float[] C0 { get; private set; }

    /// <summary>Sampling weight per window (recency × surprise).</summary>
    public float[] Weights { get; private set; }

    /// <summary>Builds a training batch of the windows <paramref name="picks"/> (initial states laid out <c>[L, B, H]</c>).</summary>
    /// <param name="picks">Window indices.</param>
    /// <returns>The batch.</returns>
    public TrainingBatch Batch(ReadOnlySpan<int> picks)
    {
        var batch = NewBatch(picks.Length);
        Fill(picks, batch);
        return batch;
    }

    /// <summary>An empty batch of <paramref name="windows"/> windows of this shape, for <see cref="Fill"/> to reuse step after step.</summary>
    /// <param name="windows">B.</param>
    /// <returns>The batch.</returns>
    public TrainingBatch NewBatch(int windows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windows, 1);
        return new TrainingBatch(windows, Steps, new float[windows * Steps * Inputs], new float[windows * Steps * Horizons])
        {
            H0 = new float[Layers * windows * Hidden], C0 = new float[Layers * windows * Hidden],
        };
    }

    /// <summary>Copies the windows <paramref name="picks"/> into <paramref name="batch"/> (from <see cref="NewBatch"/>; allocates nothing).</summary>
    /// <param name="picks">Window indices (as many as the batch holds).</param>
    /// <param name="batch">Destination.</param>
    public void Fill(ReadOnlySpan<int> picks, TrainingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int b = picks.Length, t = Steps, i = Inputs, k = Horizons, hid = Hidden;
        if (batch.Batch != b || batch.Steps != t || batch.H0 is null || batch.C0 is null) throw new ArgumentException("The batch does not fit these windows.", nameof(batch));
        float[] x = batch.X, y = batch.Y, h0 = batch.H0, c0 = batch.C0;
        for (var r = 0; r < b; r++)
        {
            if ((uint)picks[r] >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(picks), picks[r], "Window index out of range.");
        }

        for (var r = 0; r < b; r++)
        {
            var w = picks[r];
            X.AsSpan(w * t * i, t * i).CopyTo(x.AsSpan(r * t * i));
            Y.AsSpan(w * t * k, t * k).CopyTo(y.AsSpan(r * t * k));
            for (var l = 0; l < Layers; l++)
            {
                H0.AsSpan((w * Layers + l) * hid, hid).CopyTo(h0.AsSpan((l * b + r) * hid));
                C0.AsSpan((w * Layers + l) * hid, hid).CopyTo(c0.AsSpan((l * b + r) * hid));
            }
        }
    }

    // Refill in place: same shape, Count back to zero (arrays kept).
    internal bool Fits(int steps, int inputs, int horizons, int layers, int hidden) =>
        Steps == steps && Inputs == inputs && Horizons == horizons && Layers == layers && Hidden == hidden;

    internal void Clear() => Count = 0;

    // Drops the windows from `count` on (a copy that raced a feed).
    internal void Truncate(int count) => Count = count;

    // Room for one more window (arrays doubled when full; a reused buffer stops growing once it fits the usual sample); returns its index.
    internal int Add()
    {
        if (Count == Capacity)
        {
            var n = Math.Max(16, Capacity * 2);
            X = Grow(X, n * Steps * Inputs);
            Y = Grow(Y, n * Steps * Horizons);
            H0 = Grow(H0, n * Layers * Hidden);
            C0 = Grow(C0, n * Layers * Hidden);
            Weights = Grow(Weights, n);
        }

        return Count++;
    }

    // Arrays cut to Count windows (a sample nobody reuses keeps exact sizes).
    internal void Trim()
    {
        if (Count == Capacity) return;
        X = X[..(Count * Steps * Inputs)];
        Y = Y[..(Count * Steps * Horizons)];
        H0 = H0[..(Count * Layers * Hidden)];
        C0 = C0[..(Count * Layers * Hidden)];
        Weights = Weights[..Count];
    }

    private static float[] Grow(float[] a, int length)
    {
        var b = new float[length];
        a.CopyTo(b, 0);
        return b;
    }

    /// <summary>Every window, in order, as one batch.</summary>
    /// <returns>The batch.</returns>
    public TrainingBatch All()
    {
        var picks = new int[Count];
        for (var w = 0; w < Count; w++) picks[w] = w;
        return Batch(picks);
    }
}

/// <summary>What <see cref="ReplayBuffer.Sample"/> copied out: training windows, held-out windows and the data range.</summary>
/// <param name="Train">Training windows (weighted by recency and surprise).</param>
/// <param name="Holdout">The latest window of the most recently fed keys (early stopping and the gate); no training window overlaps one.</param>
/// <param name="FromSeq">Feed sequence of the oldest event in any window.</param>
/// <param name="ToSeq">Feed sequence of the newest event fed.</param>
public sealed record ReplaySample(ReplayWindows Train, ReplayWindows Holdout, long FromSeq, long ToSeq);
