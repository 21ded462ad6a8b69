namespace StreamLstm.Streaming.Online.Replay;

// Copying windows out for the trainer: every window starts at a snapshot still inside its key's ring and ends where all
// K targets are known; the most recent keys' latest windows are held out.
public sealed partial class ReplayBuffer
{
    /// <summary>
    /// Copies the windows of length <paramref name="steps"/> out of the buffer. Keys are ranked by recency; the latest
    /// window of each of the first <paramref name="holdoutKeys"/> keys is held out (their training windows end before it).
    /// A training window's weight is <c>0.5^(rank / (keys/4)) · (1 + max(0, mean surprise over the window))</c>.
    /// The feed lock is taken once to rank the keys and then once per key, so a worker feeding meanwhile waits for at most
    /// one key's copy, not the whole sample; a key whose ring went to another key in between is left out.
    /// </summary>
    /// <param name="steps">T.</param>
    /// <param name="holdoutKeys">Keys that give a held-out window.</param>
    /// <param name="maxWindows">Most training windows copied (most recent keys first).</param>
    /// <param name="reuse">A previous sample whose arrays are refilled (no large allocation per fine-tune); null: new arrays of exact size.</param>
    /// <returns>The sample (either part may be empty).</returns>
    public ReplaySample Sample(int steps, int holdoutKeys, int maxWindows = 8192, ReplaySample? reuse = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        List<(KeyRing Ring, string Key)> rings;
        lock (_gate) rings = _keys.Values.OrderByDescending(r => r.LastSeq).Select(r => (r, r.Key)).ToList();
        var train = Reuse(reuse?.Train, steps);
        var holdout = Reuse(reuse?.Holdout, steps);
        var halfLife = Math.Max(1.0, rings.Count / 4.0);
        var starts = new List<long>();
        var fromSeq = long.MaxValue;
        for (var rank = 0; rank < rings.Count && train.Count < maxWindows; rank++)
        {
            var (ring, key) = rings[rank];
            lock (_gate)
            {
                if (ring.Key != key) continue; // the ring went to another key since the ranking
                starts.Clear();
                foreach (var a in ring.SnapAt)
                {
                    if (a >= 0 && a >= ring.Count - Window && a + steps + Horizons <= ring.Count) starts.Add(a);
                }

                if (starts.Count == 0) continue;
                starts.Sort();
                var end = long.MaxValue;
                if (rank < holdoutKeys)
                {
                    end = starts[^1];
                    CopyWindow(holdout, ring, end, steps, 1f);
                    fromSeq = Math.Min(fromSeq, ring.LastSeq - (ring.Count - end));
                }

                var recency = Math.Pow(0.5, rank / halfLife);
                foreach (var a in starts)
                {
                    if (a + steps > end || train.Count >= maxWindows) continue;
                    var surprise = 0.0;
                    for (var t = 0; t < steps; t++) surprise += ring.Surprise[(int)((a + t) % Window)];
                    CopyWindow(train, ring, a, steps, (float)(recency * (1 + Math.Max(0, surprise / steps))));
                    fromSeq = Math.Min(fromSeq, ring.LastSeq - (ring.Count - a));
                }
            }
        }

        if (reuse is null)
        {
            train.Trim();
            holdout.Trim();
        }

        long toSeq;
        lock (_gate) toSeq = _seq;
        return new ReplaySample(train, holdout, fromSeq == long.MaxValue ? toSeq : fromSeq, toSeq);
    }

    private ReplayWindows Reuse(ReplayWindows? previous, int steps)
    {
        if (previous is null || !previous.Fits(steps, Inputs, Horizons, Layers, Hidden)) return new ReplayWindows(0, steps, Inputs, Horizons, Layers, Hidden);
        previous.Clear();
        return previous;
    }

    // One window [a, a + steps) of the ring appended to w. Under the feed lock.
    private void CopyWindow(ReplayWindows w, KeyRing ring, long a, int steps, float weight)
    {
        int i = Inputs, k = Horizons, sf = StateFloats;
        var n = w.Add();
        w.Weights[n] = weight;
        for (var t = 0; t < steps; t++)
        {
            var abs = a + t;
            ring.X.AsSpan((int)(abs % Window) * i, i).CopyTo(w.X.AsSpan((n * steps + t) * i, i));
            for (var h = 0; h < k; h++)
            {
                // Head h at step t forecasts the target feature h+1 events later.
                w.Y[(n * steps + t) * k + h] = ring.X[(int)((abs + h + 1) % Window) * i + TargetFeature];
            }
        }

        var j = Array.IndexOf(ring.SnapAt, a);
        ring.SnapH.AsSpan(j * sf, sf).CopyTo(w.H0.AsSpan(n * sf, sf));
        ring.SnapC.AsSpan(j * sf, sf).CopyTo(w.C0.AsSpan(n * sf, sf));
    }
}
