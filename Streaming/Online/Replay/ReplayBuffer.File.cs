using System.Runtime.InteropServices;
using System.Text;

namespace StreamLstm.Streaming.Online.Replay;

// Persistence in its own file (the state store holds per-key LSTM state; the replay history is larger and only needs
// to survive restarts, not to be exact at a checkpoint): a header with the sizes, then every key's ring.
public sealed partial class ReplayBuffer
{
    private const uint Magic = 0x32425253; // "SRB2": each ring also has its last event time
    private const uint MagicV1 = 0x31425253; // "SRB1": read, its rings' event times 0 until fed

    /// <summary>
    /// Writes every key's ring to <paramref name="stream"/>. Like <see cref="Sample"/> it does not hold the feed lock: each
    /// ring is copied between two feeds into a scratch ring (again when a feed wrote meanwhile) and written from there, so a
    /// worker never waits for the file (or for a low-priority trainer thread writing it).
    /// </summary>
    /// <param name="stream">Destination.</param>
    public void Save(Stream stream)
    {
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        var n = Volatile.Read(ref _ringCount);
        var rings = Volatile.Read(ref _rings);
        n = Math.Min(n, rings.Length);
        w.Write(Magic);
        foreach (var v in new[] { Inputs, Horizons, Layers, Hidden, Window, SnapshotEvery, TargetFeature }) w.Write(v);
        w.Write(Volatile.Read(ref _seq));
        w.Write(n);
        var scratch = new KeyRing(Inputs, Window, SnapshotEvery, StateFloats);
        for (var i = 0; i < n; i++)
        {
            var ring = rings[i];
            var copied = false;
            for (var attempt = 0; attempt < OptimisticTries && !copied; attempt++)
            {
                var v = Volatile.Read(ref _version);
                if ((v & 1) != 0)
                {
                    Thread.SpinWait(64);
                    continue;
                }

                CopyRing(ring, scratch);
                Interlocked.MemoryBarrier(); // the copy's reads happen before the version is read again
                copied = Volatile.Read(ref _version) == v;
            }

            if (!copied)
            {
                lock (_gate) CopyRing(ring, scratch);
            }

            w.Write(scratch.Key);
            w.Write(scratch.Count);
            w.Write(scratch.LastSeq);
            w.Write(scratch.LastEventMs);
            w.Write(scratch.HasForecast);
            w.Write(scratch.LastMu);
            w.Write(scratch.LastLogSigma);
            w.Write(MemoryMarshal.AsBytes(scratch.X.AsSpan()));
            w.Write(MemoryMarshal.AsBytes(scratch.Surprise.AsSpan()));
            w.Write(MemoryMarshal.AsBytes(scratch.SnapAt.AsSpan()));
            w.Write(MemoryMarshal.AsBytes(scratch.SnapH.AsSpan()));
            w.Write(MemoryMarshal.AsBytes(scratch.SnapC.AsSpan()));
        }
    }

    private static void CopyRing(KeyRing from, KeyRing to)
    {
        to.Key = from.Key;
        to.Count = from.Count;
        to.LastSeq = from.LastSeq;
        to.LastEventMs = from.LastEventMs;
        to.HasForecast = from.HasForecast;
        to.LastMu = from.LastMu;
        to.LastLogSigma = from.LastLogSigma;
        from.X.CopyTo(to.X, 0);
        from.Surprise.CopyTo(to.Surprise, 0);
        from.SnapAt.CopyTo(to.SnapAt, 0);
        from.SnapH.CopyTo(to.SnapH, 0);
        from.SnapC.CopyTo(to.SnapC, 0);
    }

    /// <summary>Saves to <paramref name="path"/> atomically (a temporary file renamed over it).</summary>
    /// <param name="path">File.</param>
    public void SaveFile(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        var tmp = path + ".tmp";
        using (var f = File.Create(tmp)) Save(f);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// Loads rings written by <see cref="Save"/> (replacing what is held). False, with nothing changed, when the stream was
    /// written for other sizes (another model shape or window): the history then starts empty.
    /// </summary>
    /// <param name="stream">Source.</param>
    /// <returns>Whether it was loaded.</returns>
    public bool TryLoad(Stream stream)
    {
        using var r = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        var magic = r.ReadUInt32();
        if (magic != Magic && magic != MagicV1) return false;
        foreach (var v in new[] { Inputs, Horizons, Layers, Hidden, Window, SnapshotEvery, TargetFeature })
        {
            if (r.ReadInt32() != v) return false;
        }

        var seq = r.ReadInt64();
        var n = r.ReadInt32();
        var rings = new List<KeyRing>(n);
        for (var i = 0; i < n; i++)
        {
            var ring = new KeyRing(Inputs, Window, SnapshotEvery, StateFloats);
            ring.Reset(r.ReadString());
            ring.Count = r.ReadInt64();
            ring.LastSeq = r.ReadInt64();
            ring.LastEventMs = magic == Magic ? r.ReadInt64() : 0;
            ring.HasForecast = r.ReadBoolean();
            ring.LastMu = r.ReadSingle();
            ring.LastLogSigma = r.ReadSingle();
            Read(r, MemoryMarshal.AsBytes(ring.X.AsSpan()));
            Read(r, MemoryMarshal.AsBytes(ring.Surprise.AsSpan()));
            Read(r, MemoryMarshal.AsBytes(ring.SnapAt.AsSpan()));
            Read(r, MemoryMarshal.AsBytes(ring.SnapH.AsSpan()));
            Read(r, MemoryMarshal.AsBytes(ring.SnapC.AsSpan()));
            ring.Derive(Window, SnapshotEvery);
            rings.Add(ring);
        }

        lock (_gate)
        {
            Interlocked.Increment(ref _version);
            _keys.Clear();
            // Keep the most recent keys when the file holds more than the cap allows now.
            foreach (var ring in rings.OrderByDescending(x => x.LastSeq).Take(MaxKeys)) _keys[ring.Key] = ring;
            ReplaceRings([.. _keys.Values]);
            _seq = Math.Max(_seq, seq);
            Interlocked.Increment(ref _version);
        }

        return true;
    }

    /// <summary>Loads <paramref name="path"/> when it exists (see <see cref="TryLoad"/>).</summary>
    /// <param name="path">File.</param>
    /// <returns>Whether anything was loaded.</returns>
    public bool TryLoadFile(string path)
    {
        if (!File.Exists(path)) return false;
        using var f = File.OpenRead(path);
        return TryLoad(f);
    }

    private static void Read(BinaryReader r, Span<byte> into)
    {
        r.BaseStream.ReadExactly(into);
    }
}
