namespace StreamLstm.Streaming.Online.Replay;

// Copying windows out for the trainer: every window starts at a snapshot still inside its key's ring and ends where all
// K targets are known; the most recent keys' latest windows are held out. The trainer never takes the feed lock here: it
// copies each key optimistically under the buffer's seqlock version and copies it again when a feed wrote meanwhile, so a
// worker never waits for a trainer thread that the scheduler keeps off the CPU (SCHED_IDLE) - no priority inversion.
public sealed partial class ReplayBuffer
{
    private const int OptimisticTries = 64;

    /// <summary>
    /// Copies the windows of length <paramref name="steps"/> out of the buffer. Keys are ranked by recency; the latest
    /// window of each of the first <paramref name="holdoutKeys"/> keys is held out (their training windows end before it).
    /// A training window's weight is <c>0.5^(rank / (keys/4)) · (1 + max(0, mean surprise over the window))</c>.
    /// Workers may keep feeding meanwhile and never wait for it: each key is copied between two feeds (copied again if a
    /// feed wrote during the copy; after many tries it takes the feed lock for that key).
    /// </summary>
    /// <param name="steps">T.</param>
    /// <param name="holdoutKeys">Keys that give a held-out window.</param>
    /// <param name="maxWindows">Most training windows copied (most recent keys first).</param>
    /// <param name="reuse">A previous sample whose arrays are refilled (no large allocation per fine-tune); null: new arrays of exact size.</param>
    /// <returns>The sample (either part may be empty).</returns>
    public ReplaySample Sample(int steps, int holdoutKeys, int maxWindows = 8192, ReplaySample? reuse = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var rings = RankedRings();
        var train = Reuse(reuse?.Train, steps);
        var holdout = Reuse(reuse?.Holdout, steps);
        var halfLife = Math.Max(1.0, rings.Count / 4.0);
        var starts = new List<long>();
        var fromSeq = long.MaxValue;
        for (var rank = 0; rank < rings.Count && train.Count < maxWindows; rank++)
        {
            var (ring, key) = rings[rank];
            var recency = Math.Pow(0.5, rank / halfLife);
            var copied = false;
            for (var attempt = 0; attempt < OptimisticTries && !copied; attempt++)
            {
                var v = Volatile.Read(ref _version);
                if ((v & 1) != 0)
                {
                    // A feed is writing: let it finish (a feed is one micro-batch's records, microseconds).
                    Thread.SpinWait(64);
                    continue;
                }

                copied = TryCopyKey(ring, key, rank, steps, holdoutKeys, maxWindows, recency, train, holdout, starts, ref fromSeq, v);
            }

            if (!copied)
            {
                // Feeds never left a gap long enough: copy this one key under the lock (rare).
                lock (_gate) TryCopyKey(ring, key, rank, steps, holdoutKeys, maxWindows, recency, train, holdout, starts, ref fromSeq, Volatile.Read(ref _version));
            }
        }

        if (reuse is null)
        {
            train.Trim();
            holdout.Trim();
        }

        var toSeq = Volatile.Read(ref _seq);
        return new ReplaySample(train, holdout, fromSeq == long.MaxValue ? toSeq : fromSeq, toSeq);
    }

    // The rings, latest event time first (ties by key), read without the lock (keys and recency are re-checked per copy).
    // Event time, not the feed sequence: two workers feed one buffer, and their interleaving must not change which keys
    // are held out or how windows are weighted (it made `eval alerts` with the trainer on vary from run to run).
    private List<(KeyRing Ring, string Key)> RankedRings()
    {
        var n = Volatile.Read(ref _ringCount);
        var all = Volatile.Read(ref _rings);
        n = Math.Min(n, all.Length);
        var list = new List<(KeyRing Ring, string Key, long EventMs)>(n);
        for (var i = 0; i < n; i++)
        {
            var r = all[i];
            if (r is null) continue;
            var key = r.Key;
            if (key.Length > 0) list.Add((r, key, r.LastEventMs));
        }

        list.Sort((a, b) => b.EventMs != a.EventMs ? b.EventMs.CompareTo(a.EventMs) : string.CompareOrdinal(a.Key, b.Key));
        return list.ConvertAll(x => (x.Ring, x.Key));
    }

    // One key's windows appended to the sample, read while version v held (checked at the end: if a feed wrote meanwhile,
    // what was appended is dropped and false comes back). A ring that went to another key gives nothing (true).
    private bool TryCopyKey(KeyRing ring, string key, int rank, int steps, int holdoutKeys, int maxWindows, double recency,
        ReplayWindows train, ReplayWindows holdout, List<long> starts, ref long fromSeq, int v)
    {
        int trainMark = train.Count, holdoutMark = holdout.Count;
        var seqMark = fromSeq;
        var ok = true;
        if (ring.Key == key)
        {
            var count = ring.Count;
            var lastSeq = ring.LastSeq;
            starts.Clear();
            foreach (var a in ring.SnapAt)
            {
                if (a >= 0 && a >= count - Window && a + steps + Horizons <= count) starts.Add(a);
            }

            if (starts.Count > 0)
            {
                starts.Sort();
                var end = long.MaxValue;
                if (rank < holdoutKeys)
                {
                    end = starts[^1];
                    ok &= CopyWindow(holdout, ring, end, steps, 1f);
                    fromSeq = Math.Min(fromSeq, lastSeq - (count - end));
                }

                foreach (var a in starts)
                {
                    if (!ok || a + steps > end || train.Count >= maxWindows) continue;
                    var surprise = 0.0;
                    for (var t = 0; t < steps; t++) surprise += ring.Surprise[(int)((a + t) % Window)];
                    ok &= CopyWindow(train, ring, a, steps, (float)(recency * (1 + Math.Max(0, surprise / steps))));
                    fromSeq = Math.Min(fromSeq, lastSeq - (count - a));
                }
            }
        }

        Interlocked.MemoryBarrier(); // every read above happens before the version is read again
        if (ok && Volatile.Read(ref _version) == v) return true;
        train.Truncate(trainMark);
        holdout.Truncate(holdoutMark);
        fromSeq = seqMark;
        return false;
    }

    private ReplayWindows Reuse(ReplayWindows? previous, int steps)
    {
        if (previous is null || !previous.Fits(steps, Inputs, Horizons, Layers, Hidden)) return new ReplayWindows(0, steps, Inputs, Horizons, Layers, Hidden);
        previous.Clear();
        return previous;
    }

    // One window [a, a + steps) of the ring appended to w; false when its snapshot is gone (a feed overwrote it meanwhile).
    private bool CopyWindow(ReplayWindows w, KeyRing ring, long a, int steps, float weight)
    {
        var j = Array.IndexOf(ring.SnapAt, a);
        if (j < 0) return false;
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

        ring.SnapH.AsSpan(j * sf, sf).CopyTo(w.H0.AsSpan(n * sf, sf));
        ring.SnapC.AsSpan(j * sf, sf).CopyTo(w.C0.AsSpan(n * sf, sf));
        return true;
    }
}
