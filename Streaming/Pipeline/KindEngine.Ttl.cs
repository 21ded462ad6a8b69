using System.Runtime.InteropServices;
using System.Text;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Streaming.Storage;

namespace StreamLstm.Streaming.Pipeline;

// State:KeyTtl. A key whose last event is older than the TTL, measured against the event time of its partition's newest
// event (never the wall clock, so a replay decides the same), has expired: at a checkpoint it is deleted from the slab
// and the store, and if it comes back before that, it starts fresh all the same, so results do not depend on when
// checkpoints ran.
internal sealed partial class KindEngine
{
    private readonly Dictionary<PartitionState, long> _newest = [];
    private readonly Dictionary<PartitionState, long> _sweptAt = [];
    private readonly List<KeyValuePair<string, int>> _expired = [];
    private readonly List<string> _expiredStored = [];
    private long _ttlMs = -1;

    /// <summary>Keys deleted because their TTL expired.</summary>
    public long ExpiredKeys { get; private set; }

    private void InitTtl(TimeSpan? ttl) => _ttlMs = ttl is { } t && t > TimeSpan.Zero ? (long)t.TotalMilliseconds : -1;

    /// <summary>Notes an event's time as its partition's newest (only when a TTL is set).</summary>
    private void NoteEventTime(PartitionState partition, long timestampMs)
    {
        if (_ttlMs < 0) return;
        ref var newest = ref CollectionsMarshal.GetValueRefOrAddDefault(_newest, partition, out var seen);
        if (!seen || timestampMs > newest) newest = timestampMs;
    }

    /// <summary>True when the key in <paramref name="slot"/> has expired in its partition's event time.</summary>
    private bool Expired(int slot, PartitionState partition) =>
        _ttlMs >= 0 && _newest.TryGetValue(partition, out var newest) && _scoring.LastEventMs(slot) is { } last && last < newest - _ttlMs;

    /// <summary>An expired key that comes back starts as a new key would.</summary>
    private void ResetIfExpired(int slot, PartitionState partition)
    {
        // A key with a row waiting (in the batch or deferred) arrived recently: its stored last time is just not updated yet.
        if (_slotStamp[slot] == _stamp || _deferredCount[slot] > 0 || !Expired(slot, partition)) return;
        Features.Reset(slot);
        _scoring.Reset(slot);
        Slab.Zero(slot);
        Slab.MarkDirty(slot);
    }

    /// <summary>
    /// Deletes the expired keys of the partitions being captured: resident ones from the slab, stored ones from the store
    /// (a sweep through the partition's stored keys, at most once per quarter TTL of event time).
    /// </summary>
    private void ExpireKeys(long sequence, CheckpointBatch batch, IReadOnlyList<(PartitionState Partition, long PreviousCapture)> previous, HashSet<PartitionState> written)
    {
        if (_ttlMs < 0) return;
        foreach (var (ps, _) in previous)
        {
            if (ps.Kind != Kind || ps.CaptureSequence != sequence || !_newest.TryGetValue(ps, out var newest)) continue;
            var cutoff = newest - _ttlMs;
            _expired.Clear();
            foreach (var pair in ps.KeySlots)
            {
                if (_scoring.LastEventMs(pair.Value) is { } last && last < cutoff) _expired.Add(pair);
            }

            foreach (var (key, slot) in _expired)
            {
                batch.Delete(Kind, ps.Partition, key);
                ps.KeySlots.Remove(key);
                _table.Remove(slot);
                Unlink(slot);
                Slab.Free(slot);
                _slotKeys[slot] = null;
                _slotPartition[slot] = null;
                ExpiredKeys++;
                written.Add(ps);
            }

            if (_store is null || ps.StateOffset < 0) continue;
            if (_sweptAt.TryGetValue(ps, out var swept) && newest - swept < Math.Max(1, _ttlMs / 4)) continue;
            _sweptAt[ps] = newest;
            _expiredStored.Clear();
            _store.Scan(Kind, ps.Partition, (key, record) =>
            {
                if (PartitionModelRecord.IsReserved(key)) return true;
                if (KeyStateRecord.TryRead(record, out var view, out _) && ScoringLastEvent(view.Scoring) is { } last && last < cutoff)
                {
                    var name = Encoding.UTF8.GetString(key);
                    if (!ps.KeySlots.ContainsKey(name)) _expiredStored.Add(name);
                }

                return true;
            });
            foreach (var key in _expiredStored)
            {
                ForgetHibernatedName(ps, key);
                batch.Delete(Kind, ps.Partition, key);
                ExpiredKeys++;
                written.Add(ps);
            }
        }
    }

    private static long? ScoringLastEvent(ReadOnlySpan<byte> scoring) => Sink.Anomaly.ScoringSlab.LastEventMs(scoring);
}
