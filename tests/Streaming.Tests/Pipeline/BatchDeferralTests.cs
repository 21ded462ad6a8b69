using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Pipeline;

/// <summary>
/// A key already in the batch being filled waits for the next batch instead of flushing this one: batches stay full,
/// per-key order and results are unchanged, and offsets are handed over only once everything before them is.
/// </summary>
public class BatchDeferralTests
{
    private static async Task<(List<ForecastRow> Rows, long Batches, long Committable)> Run(int maxBatch, List<(string Key, byte[] Value)> events)
    {
        var output = new CollectingOutput();
        var pipeline = new StreamPipeline(new PipelineOptions { Workers = 1, MaxBatch = maxBatch, ChunkSize = 64, MaxWait = TimeSpan.Zero }, PipelineInvariantTests.Models(), [output], new CountingDeadLetterSink());
        pipeline.Start();
        var source = new InProcessSource(pipeline);
        foreach (var (key, value) in events) await source.AddAsync(SourceKind.Tick, 0, System.Text.Encoding.UTF8.GetBytes(key), value, TestContext.Current.CancellationToken);
        await source.FlushAsync(TestContext.Current.CancellationToken);
        await pipeline.CompleteAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        return ([.. output.Rows], pipeline.Totals().Batches, source.Partition(SourceKind.Tick, 0).Committable);
    }

    [Fact]
    public async Task RepeatedKeys_WaitForTheNextBatch_BatchesStayFull_ResultsAreTheSameBits()
    {
        // Every key twice in a row (A A B B ...): flushing on a repeat would give 17 batches of 1-2 rows.
        var events = new List<(string Key, byte[] Value)>();
        for (var k = 0; k < 16; k++)
        {
            var key = "K" + k;
            events.Add((key, Events.Tick(key, 1_000 + k, 100 + k, 1)));
            events.Add((key, Events.Tick(key, 2_000 + k, 101 + k, 2)));
        }

        var (rows, batches, committable) = await Run(8, events);
        var (oneByOne, _, _) = await Run(1, events);

        Assert.Equal(4, batches);
        Assert.Equal(32, committable);
        Assert.Equal(32, rows.Count);
        foreach (var group in rows.GroupBy(r => r.Key))
        {
            // Per key, still in offset order.
            Assert.Equal(group.Select(r => r.Offset).Order(), group.Select(r => r.Offset));
        }

        var expected = oneByOne.ToDictionary(r => r.Offset);
        foreach (var r in rows)
        {
            Assert.Equal(expected[r.Offset].Key, r.Key);
            Assert.Equal(expected[r.Offset].Mu, r.Mu);
            Assert.Equal(expected[r.Offset].Sigma, r.Sigma);
        }
    }

    [Fact]
    public async Task AHotKey_IsSteppedInOrder_AndLateEventsBehindDeferredOnesAreCaught()
    {
        // HOT three times within one batch, then an event of HOT older than its deferred ones: late, not stepped.
        var events = new List<(string Key, byte[] Value)>
        {
            ("HOT", Events.Tick("HOT", 1_000, 10, 1)),
            ("HOT", Events.Tick("HOT", 2_000, 11, 1)),
            ("A", Events.Tick("A", 1_000, 5, 1)),
            ("HOT", Events.Tick("HOT", 3_000, 12, 1)),
            ("HOT", Events.Tick("HOT", 2_500, 12, 1)),
            ("B", Events.Tick("B", 1_000, 5, 1)),
        };

        var (rows, batches, committable) = await Run(8, events);
        var (oneByOne, _, _) = await Run(1, events);

        Assert.Equal([1_000L, 2_000L, 3_000L], rows.Where(r => r.Key == "HOT").Select(r => r.TimestampMs));
        Assert.Equal(5, rows.Count);
        Assert.Equal(3, batches);
        Assert.Equal(6, committable);
        var expected = oneByOne.ToDictionary(r => r.Offset);
        Assert.Equal(expected.Keys.Order(), rows.Select(r => r.Offset).Order());
        foreach (var r in rows)
        {
            Assert.Equal(expected[r.Offset].Mu, r.Mu);
            Assert.Equal(expected[r.Offset].Sigma, r.Sigma);
        }
    }
}
