using System.Text;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Tests.Pipeline;

/// <summary>The byte-keyed slot table: every key found at its slot, per partition, through growth and removal.</summary>
public class KeySlotTableTests
{
    [Fact]
    public void Keys_AreFoundByTheirBytes_PerPartition_ThroughRehashAndRemoval()
    {
        var p0 = new PartitionState("ticks", 0, SourceKind.Tick, 0);
        var p1 = new PartitionState("ticks", 1, SourceKind.Tick, 0);
        var table = new KeySlotTable();
        const int n = 5_000;
        table.EnsureCapacity(2 * n);
        // Short (inline), exactly 16 and long keys; multi-byte UTF-8 too.
        string Key(int i) => (i % 3) switch { 0 => "K" + i, 1 => "0123456789ab" + i.ToString("D4"), _ => "Ä-long-key-name-" + i + "-suffix" };
        for (var i = 0; i < n; i++)
        {
            table.Add(p0, Encoding.UTF8.GetBytes(Key(i)), i);
            table.Add(p1, Encoding.UTF8.GetBytes(Key(i)), n + i);
        }

        Assert.Equal(2 * n, table.Count);
        for (var i = 0; i < n; i++)
        {
            Assert.Equal(i, table.Find(p0, Encoding.UTF8.GetBytes(Key(i))));
            Assert.Equal(n + i, table.Find(p1, Encoding.UTF8.GetBytes(Key(i))));
        }

        Assert.Equal(-1, table.Find(p0, "K1"u8));
        Assert.Equal(-1, table.Find(p0, Encoding.UTF8.GetBytes(Key(1) + "x")));
        Assert.Equal(-1, table.Find(p0, Encoding.UTF8.GetBytes(Key(2)[..^1])));

        for (var i = 0; i < n; i += 2) table.Remove(i);
        table.Remove(0);
        Assert.Equal(2 * n - n / 2, table.Count);
        for (var i = 0; i < n; i++)
        {
            Assert.Equal(i % 2 == 0 ? -1 : i, table.Find(p0, Encoding.UTF8.GetBytes(Key(i))));
            Assert.Equal(n + i, table.Find(p1, Encoding.UTF8.GetBytes(Key(i))));
        }

        // A freed slot takes another key.
        table.Add(p0, "fresh"u8, 0);
        Assert.Equal(0, table.Find(p0, "fresh"u8));
    }

    [Fact]
    public void PrefetchGuess_IsTheKeysSlot_AndNothingForAnAbsentKey()
    {
        // The workers' look-ahead prefetches the slot GuessSlot names: it must be the slot Find returns, or the hint is wasted.
        var p0 = new PartitionState("ticks", 0, SourceKind.Tick, 0);
        var p1 = new PartitionState("ticks", 1, SourceKind.Tick, 0);
        var table = new KeySlotTable();
        const int n = 20_000;
        table.EnsureCapacity(n);
        for (var i = 0; i < n; i++) table.Add(i % 2 == 0 ? p0 : p1, Encoding.UTF8.GetBytes("SYM" + i + (i % 5 == 0 ? "-a-long-suffix" : "")), i);
        var guessed = 0;
        for (var i = 0; i < n; i++)
        {
            var owner = i % 2 == 0 ? p0 : p1;
            var key = Encoding.UTF8.GetBytes("SYM" + i + (i % 5 == 0 ? "-a-long-suffix" : ""));
            var hash = KeySlotTable.HashOf(owner, key);
            table.PrefetchBucket(hash);
            table.PrefetchEntry(hash);
            if (table.GuessSlot(hash) == table.Find(owner, key)) guessed++;
        }

        Assert.Equal(n, guessed);
        // Same bytes, other partition: another hash, so no guess at all (the chains hold only p0's and p1's keys).
        var other = new PartitionState("ticks", 7, SourceKind.Tick, 0);
        Assert.Equal(-1, table.GuessSlot(KeySlotTable.HashOf(other, Encoding.UTF8.GetBytes("SYM0"))));
        Assert.Equal(-1, table.GuessSlot(KeySlotTable.HashOf(p0, "absent"u8)));
    }
}
