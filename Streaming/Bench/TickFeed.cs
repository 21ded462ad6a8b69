using System.Diagnostics;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Bench;

/// <summary>Feeds pre-encoded tick messages through an <see cref="InProcessSource"/>, flat out or paced (the benches' source).</summary>
internal static class TickFeed
{
    /// <summary>Each key's partition: key index modulo <paramref name="partitions"/>, looked up rather than divided per event.</summary>
    /// <param name="keys">Key count.</param>
    /// <param name="partitions">Partitions.</param>
    /// <returns>Partition by key index.</returns>
    public static int[] PartitionsOf(int keys, int partitions)
    {
        var partitionOf = new int[keys];
        for (var k = 0; k < keys; k++) partitionOf[k] = k % partitions;
        return partitionOf;
    }

    /// <summary>
    /// Adds the first <paramref name="count"/> messages (message i belongs to key <c>keyIndex[i]</c>) and flushes the source.
    /// With <paramref name="pacedRate"/> &gt; 0 it hands over every 64 messages (as a consumer poll round would) and waits
    /// until the schedule of that many events per second catches up.
    /// </summary>
    public static async Task RunAsync(InProcessSource source, byte[][] messages, byte[][] keyBytes, int[] keyIndex, int[] partitionOf, int count, double pacedRate, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var k = keyIndex[i];
            await source.AddAsync(SourceKind.Tick, partitionOf[k], keyBytes[k], messages[i], ct).ConfigureAwait(false);
            if (pacedRate > 0 && i % 64 == 63)
            {
                await source.FlushAsync(ct).ConfigureAwait(false);
                var due = TimeSpan.FromSeconds((i + 1) / pacedRate) - sw.Elapsed;
                if (due > TimeSpan.FromMilliseconds(1)) await Task.Delay(due, ct).ConfigureAwait(false);
            }
        }

        await source.FlushAsync(ct).ConfigureAwait(false);
    }
}
