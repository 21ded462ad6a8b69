using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using StreamLstm.Ingest.Consumer;

namespace StreamLstm.Streaming.Pipeline;

// Look-ahead hints for the chunk being handled. Each event's key lookup and state reads are cache misses one after
// another (100 K keys do not fit the caches); while message i is handled, later messages' loads are started in stages:
// message i+12's key and value bytes, i+8's table bucket (its hash computed from the Kafka key), i+4's table entry,
// i+2's slot state. Hints only: nothing is read into the results and nothing changes, so a wrong guess (a key that
// decodes to another id, a new key) costs a wasted load, never a different result.
internal sealed partial class PipelineWorker
{
    private const int BytesAhead = 12;
    private const int BucketAhead = 8;
    private const int EntryAhead = 4;
    private const int SlotAhead = 2;

    // The hashes of the messages between the bucket and the slot stages (by index modulo 16; 0 = none).
    private readonly ulong[] _aheadHashes = new ulong[16];

    /// <summary>Issues the look-ahead hints for message <paramref name="i"/> of <paramref name="chunk"/> (before it is handled).</summary>
    private void PrefetchAhead(MessageChunk chunk, int i)
    {
        if (!Sse.IsSupported) return;
        var n = chunk.Count;
        if (i + BytesAhead < n) PrefetchBytes(chunk, i + BytesAhead);
        if (i + BucketAhead < n) HashAhead(chunk, i + BucketAhead);
        if (i + EntryAhead < n && _aheadHashes[(i + EntryAhead) & 15] is var h1 and not 0) EngineOf(chunk, i + EntryAhead)?.Table.PrefetchEntry(h1);
        if (i + SlotAhead < n && _aheadHashes[(i + SlotAhead) & 15] is var h2 and not 0 && EngineOf(chunk, i + SlotAhead) is { } engine)
        {
            var slot = engine.Table.GuessSlot(h2);
            if (slot >= 0) engine.PrefetchSlot(slot);
        }
    }

    /// <summary>Starts the first of the look-ahead stages for the first messages of a chunk (those the loop reaches first).</summary>
    private void PrefetchStart(MessageChunk chunk)
    {
        Array.Clear(_aheadHashes);
        var n = Math.Min(chunk.Count, BucketAhead);
        for (var j = 0; j < n; j++) HashAhead(chunk, j);
    }

    private KindEngine? EngineOf(MessageChunk chunk, int j) => _engines[(int)chunk.Partitions[j].Kind];

    private void HashAhead(MessageChunk chunk, int j)
    {
        // Packed (native consume) or array-backed: the same bytes the worker will look up.
        var key = chunk.KeyOf(j);
        var engine = EngineOf(chunk, j);
        ulong h = 0;
        if (key.Length > 0 && engine is not null)
        {
            h = KeySlotTable.HashOf(chunk.Partitions[j], key);
            engine.Table.PrefetchBucket(h);
        }

        _aheadHashes[j & 15] = h;
    }

    private static unsafe void PrefetchBytes(MessageChunk chunk, int j)
    {
        // Array data addresses as hints only (not pinned: a moved array makes a wasted prefetch, nothing else).
        if (chunk.Keys[j] is { Length: > 0 } key) Sse.Prefetch0(Unsafe.AsPointer(ref key[0]));
        if (chunk.Values[j] is { Length: > 0 } value)
        {
            var v = (byte*)Unsafe.AsPointer(ref value[0]);
            Sse.Prefetch0(v);
            if (value.Length > 64) Sse.Prefetch0(v + 64);
        }
    }
}
