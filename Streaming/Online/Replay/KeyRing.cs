using StreamLstm.Model.State;

namespace StreamLstm.Streaming.Online.Replay;

/// <summary>
/// One key's replay history: the last W normalised inputs in a ring, the per-event surprise (NLL of the forecast made one
/// event earlier), and the key's (h, c) snapshotted every S events (before that event's step), so a training window can
/// start warm at any snapshot still inside the ring. Arrays are allocated once per ring and reused when the buffer hands
/// the ring to another key. Accessed only under its <see cref="ReplayBuffer"/>'s lock.
/// </summary>
public sealed class KeyRing
{
    internal KeyRing(int inputs, int window, int snapshotEvery, int stateFloats)
    {
        X = new float[window * inputs];
        Surprise = new float[window];
        Snapshots = window / snapshotEvery;
        SnapAt = new long[Snapshots];
        SnapH = new float[Snapshots * stateFloats];
        SnapC = new float[Snapshots * stateFloats];
        Reset("");
    }

    /// <summary>The key (empty while unused).</summary>
    public string Key { get; internal set; } = "";

    /// <summary>Events fed since the key came (absolute index of the next event).</summary>
    public long Count { get; internal set; }

    /// <summary>Buffer-wide feed sequence of the latest event (the data range a fine-tune saw; least recently fed goes first at the cap).</summary>
    public long LastSeq { get; internal set; }

    /// <summary>
    /// Event time (Unix ms) of the key's latest event: the recency a sample ranks keys by. Unlike <see cref="LastSeq"/> it
    /// does not depend on how the workers feeding one buffer interleave, so the same events give the same sample.
    /// </summary>
    public long LastEventMs { get; internal set; }

    internal float[] X { get; }

    internal float[] Surprise { get; }

    internal int Snapshots { get; }

    internal long[] SnapAt { get; }

    internal float[] SnapH { get; }

    internal float[] SnapC { get; }

    internal float LastMu { get; set; }

    internal float LastLogSigma { get; set; }

    internal bool HasForecast { get; set; }

    // Next write position (Count mod W) and events until the next snapshot, kept as ints: no division per event.
    internal int Pos;
    internal int UntilSnapshot;

    /// <summary>Sets the positions that follow from <see cref="Count"/> (after a load).</summary>
    internal void Derive(int window, int snapshotEvery)
    {
        Pos = (int)(Count % window);
        UntilSnapshot = (int)((snapshotEvery - Count % snapshotEvery) % snapshotEvery);
    }

    internal void Reset(string key)
    {
        Key = key;
        Count = 0;
        LastSeq = 0;
        LastEventMs = 0;
        HasForecast = false;
        Pos = 0;
        UntilSnapshot = 0;
        Array.Fill(SnapAt, -1L);
    }

    /// <summary>Forgets every snapshot (a swapped-in model's state is not the old one's: windows start again from the next snapshot).</summary>
    internal void InvalidateSnapshots() => Array.Fill(SnapAt, -1L);

    internal void CaptureSnapshot(StateSlab slab, int slot, int stateFloats, int snapshotEvery)
    {
        var j = (int)(Count / snapshotEvery % Snapshots);
        var hidden = slab.Hidden;
        for (var l = 0; l < slab.Layers; l++)
        {
            slab.H(slot, l).CopyTo(SnapH.AsSpan(j * stateFloats + l * hidden, hidden));
            slab.C(slot, l).CopyTo(SnapC.AsSpan(j * stateFloats + l * hidden, hidden));
        }

        SnapAt[j] = Count;
    }
}
