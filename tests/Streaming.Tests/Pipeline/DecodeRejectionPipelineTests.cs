using System.Text;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Pipeline;

/// <summary>The worker dead-letters what the decoders reject (event-time window, key rules) and keeps flowing.</summary>
public class DecodeRejectionPipelineTests
{
    [Fact]
    public async Task FarFutureTimestamp_KeyMismatch_AndBadKeys_AreDeadLettered_WhileGoodEventsFlow()
    {
        var ct = TestContext.Current.CancellationToken;
        var output = new CollectingOutput();
        var dlq = new CountingDeadLetterSink();
        var options = new PipelineOptions { Workers = 1, MaxBatch = 4, MaxWait = TimeSpan.Zero, MinEventTime = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero) };
        var pipeline = new StreamPipeline(options, PipelineInvariantTests.Models(), [output], dlq);
        pipeline.Start();
        var source = new InProcessSource(pipeline);
        var a = "AAPL"u8.ToArray();
        await source.AddAsync(SourceKind.Tick, 0, a, Events.Tick("AAPL", 1_700_000_000_000, 10, 1), ct);
        await source.AddAsync(SourceKind.Tick, 0, a, Events.Tick("AAPL", 99_999_999_999_999_999, 10, 1), ct);   // the far-future ts
        await source.AddAsync(SourceKind.Tick, 0, a, Events.Tick("MSFT", 1_700_000_001_000, 10, 1), ct);        // key says AAPL, body MSFT
        await source.AddAsync(SourceKind.Tick, 0, a, Events.Tick("AAPL", 946_684_799_999, 10, 1), ct);          // before Pipeline:MinEventTime
        await source.AddAsync(SourceKind.Tick, 0, [0xC3, 0x28], Events.Tick("AAPL", 1_700_000_002_000, 10, 1), ct); // key not UTF-8
        await source.AddAsync(SourceKind.Tick, 0, null, Encoding.UTF8.GetBytes("""{"symbol":"\ud800","ts":1700000003000,"price":1,"size":1}"""), ct);
        await source.AddAsync(SourceKind.Tick, 0, a, Events.Tick("AAPL", 1_700_000_004_000, 11, 1), ct);
        await source.FlushAsync(ct);
        await pipeline.CompleteAsync(ct).WaitAsync(TimeSpan.FromSeconds(30), ct);

        Assert.Equal([1_700_000_000_000L, 1_700_000_004_000L], output.Rows.Select(r => r.TimestampMs));
        var reasons = dlq.Recent.Where(r => r.Reason != DeadLetterReason.None).Select(r => (r.Reason, r.Offset)).ToList();
        Assert.Equal(
            [(DeadLetterReason.TimestampOutOfRange, 1L), (DeadLetterReason.KeyMismatch, 2L), (DeadLetterReason.TimestampOutOfRange, 3L), (DeadLetterReason.InvalidKey, 4L), (DeadLetterReason.InvalidKey, 5L)],
            reasons);
        var metrics = Assert.Single(pipeline.Metrics);
        Assert.Equal(2, metrics.DeadLetters[(int)DeadLetterReason.TimestampOutOfRange]);
        Assert.Equal(1, metrics.DeadLetters[(int)DeadLetterReason.KeyMismatch]);
        Assert.Equal(2, metrics.DeadLetters[(int)DeadLetterReason.InvalidKey]);
        Assert.Equal(7, source.Partition(SourceKind.Tick, 0).Committable);
    }
}
