namespace StreamLstm.Streaming.Online.Replay;

// Copying windows out for the trainer: every window starts at a snapshot still inside its key's ring and ends where all
// K targets are known; the most recent keys' latest windows are held out.
public sealed partial class ReplayBuffer
{
    /// <summary>
    /// Copies the windows of length <paramref name="steps"/> out of the buffer. Keys are ranked by recency; the latest
    /// window of each of the first <paramref name="holdoutKeys"/> keys is held out (their training windows end before it).
    /// A training window's weight is <c>0.5^(rank / (keys/4)) · (1 + max(0, mean surprise over the window))</c>.
    /// </summary>
    /// <param name="steps">T.</param>
    /// <param name="holdoutKeys">Keys that give a held-out window.</param>
    /// <param name="maxWindows">Most training windows copied (most recent keys first).</param>
    /// <returns>The sample (either part may be empty).</returns>
    public ReplaySample Sample(int steps, int holdoutKeys, int maxWindows = 8192)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        lock (_gate)
        {
            var rings = _keys.Values.OrderByDescending(r => r.LastSeq).ToList();
            var train = new List<(KeyRing Ring, long Start, float Weight)>();
            var holdout = new List<(KeyRing Ring, long Start, float Weight)>();
            var halfLife = Math.Max(1.0, rings.Count / 4.0);
            var starts = new List<long>();
            for (var rank = 0; rank < rings.Count && train.Count < maxWindows; rank++)
            {
                var ring = rings[rank];
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
                    holdout.Add((ring, end, 1f));
                }

                var recency = Math.Pow(0.5, rank / halfLife);
                foreach (var a in starts)
                {
                    if (a + steps > end || train.Count >= maxWindows) continue;
                    var surprise = 0.0;
                    for (var t = 0; t < steps; t++) surprise += ring.Surprise[(int)((a + t) % Window)];
                    train.Add((ring, a, (float)(recency * (1 + Math.Max(0, surprise / steps)))));
                }
            }

            var fromSeq = long.MaxValue;
            foreach (var (ring, a, _) in train.Concat(holdout)) fromSeq = Math.Min(fromSeq, ring.LastSeq - (ring.Count - a));
            return new ReplaySample(Copy(train, steps), Copy(holdout, steps), fromSeq == long.MaxValue ? _seq : fromSeq, _seq);
        }
    }

    private ReplayWindows Copy(List<(KeyRing Ring, long Start, float Weight)> windows, int steps)
    {
        var w = new ReplayWindows(windows.Count, steps, Inputs, Horizons, Layers, Hidden);
        int i = Inputs, k = Horizons, sf = StateFloats;
        for (var n = 0; n < windows.Count; n++)
        {
            var (ring, a, weight) = windows[n];
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

        return w;
    }
}
