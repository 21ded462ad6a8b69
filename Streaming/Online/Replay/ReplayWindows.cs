using StreamLstm.Model.Training;

namespace StreamLstm.Streaming.Online.Replay;

/// <summary>
/// Windows copied out of a <see cref="ReplayBuffer"/>: each T steps of inputs and targets (all K targets known) and the
/// key's (h, c) at the window's start, with a sampling weight. Owned by the trainer (workers keep feeding the buffer).
/// </summary>
public sealed class ReplayWindows
{
    internal ReplayWindows(int count, int steps, int inputs, int horizons, int layers, int hidden)
    {
        Count = count;
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
    public int Count { get; }

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
    public float[] X { get; }

    /// <summary>Targets <c>[N, T, K]</c>.</summary>
    public float[] Y { get; }

    /// <summary>Initial hidden states <c>[N, L, H]</c>.</summary>
    public float[] H0 { get; }

    /// <summary>Initial cell states <c>[N, L, H]</c>.</summary>
    public float[] C0 { get; }

    /// <summary>Sampling weight per window (recency × surprise).</summary>
    public float[] Weights { get; }

    /// <summary>Builds a training batch of the windows <paramref name="picks"/> (initial states laid out <c>[L, B, H]</c>).</summary>
    /// <param name="picks">Window indices.</param>
    /// <returns>The batch.</returns>
    public TrainingBatch Batch(ReadOnlySpan<int> picks)
    {
        int b = picks.Length, t = Steps, i = Inputs, k = Horizons, hid = Hidden;
        var x = new float[b * t * i];
        var y = new float[b * t * k];
        var h0 = new float[Layers * b * hid];
        var c0 = new float[Layers * b * hid];
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

        return new TrainingBatch(b, t, x, y) { H0 = h0, C0 = c0 };
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
