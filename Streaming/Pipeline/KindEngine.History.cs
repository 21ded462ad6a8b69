namespace StreamLstm.Streaming.Pipeline;

// Each key's re-warm history: its last Online:RewarmSteps normalised inputs, in a ring per slot (allocated on the key's
// first step; reused by the slot's next key). It is what a hot swap re-warms the key over, and it is stored in the key's
// record (format 3), so a restart re-warms exactly as the uninterrupted run did, whatever the replay buffer holds.
internal sealed partial class KindEngine
{
    private float[]?[] _hist = [];
    private int[] _histCount = [];
    private int[] _histPos = [];
    private float[] _histOut = [];

    private void ResetHistory(int slot)
    {
        _histCount[slot] = 0;
        _histPos[slot] = 0;
        // The slot's previous key may have been waiting for its re-warm; the new key is not.
        _stale[slot] = false;
    }

    /// <summary>Appends one input row to the slot's history (no allocation after the key's first step).</summary>
    private void PushHistory(int slot, ReadOnlySpan<float> x)
    {
        var steps = Online?.RewarmSteps ?? 0;
        if (steps <= 0) return;
        var h = _hist[slot] ??= new float[steps * _inputs];
        var pos = _histPos[slot];
        x[.._inputs].CopyTo(h.AsSpan(pos * _inputs, _inputs));
        _histPos[slot] = pos + 1 == steps ? 0 : pos + 1;
        if (_histCount[slot] < steps) _histCount[slot]++;
    }

    /// <summary>Copies the slot's history, oldest first, into <paramref name="dest"/>; returns the steps copied.</summary>
    private int CopyHistory(int slot, Span<float> dest)
    {
        var steps = Online?.RewarmSteps ?? 0;
        var n = Math.Min(_histCount[slot], steps);
        var h = _hist[slot];
        if (n == 0 || h is null) return 0;
        var start = (_histPos[slot] - n + steps) % steps;
        for (var i = 0; i < n; i++)
        {
            h.AsSpan((start + i) % steps * _inputs, _inputs).CopyTo(dest.Slice(i * _inputs, _inputs));
        }

        return n;
    }

    /// <summary>The slot's history as stored in its record (empty without online learning).</summary>
    private ReadOnlySpan<float> ExportHistory(int slot)
    {
        var steps = Online?.RewarmSteps ?? 0;
        if (steps <= 0 || _histCount[slot] == 0) return default;
        if (_histOut.Length < steps * _inputs) _histOut = new float[steps * _inputs];
        var n = CopyHistory(slot, _histOut);
        return _histOut.AsSpan(0, n * _inputs);
    }

    /// <summary>Loads a record's history into the slot (its last RewarmSteps inputs; ignored without online learning or when its width differs).</summary>
    private void ImportHistory(int slot, ReadOnlySpan<float> history)
    {
        var steps = Online?.RewarmSteps ?? 0;
        if (steps <= 0 || history.IsEmpty || history.Length % _inputs != 0) return;
        var n = Math.Min(history.Length / _inputs, steps);
        var h = _hist[slot] ??= new float[steps * _inputs];
        history[^(n * _inputs)..].CopyTo(h);
        _histCount[slot] = n;
        _histPos[slot] = n == steps ? 0 : n;
    }
}
