using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Spool;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Influx;

public sealed class SpoolFullPolicyTests : IDisposable
{
    private const int Batches = 20;
    private const int PointsPerBatch = 50;
    private readonly string _dir = Directory.CreateTempSubdirectory("sink-full-").FullName;

    private static LineProtocolBuffer Batch(int b)
    {
        var lines = new LineProtocolBuffer();
        for (var i = 0; i < PointsPerBatch; i++)
        {
            lines.BeginLine("full");
            lines.Tag("key", "k" + (i % 5));
            lines.Field("value", (b * PointsPerBatch) + i);
            lines.Field("padding", new string('p', 100));
            lines.EndLine(1_000_000 + (b * PointsPerBatch) + i);
        }

        return lines;
    }

    private InfluxWriter Writer(LocalInfluxd server, SpoolFullPolicy policy)
    {
        var options = InfluxRoundTripTests.Options(server.Url, "full");
        options.BatchMaxPoints = PointsPerBatch;
        options.MaxQueuedBatches = 1;
        options.MaxRetries = 0;
        options.ShutdownTimeout = TimeSpan.FromSeconds(1);

        // Room for about two batches (each ~8 KB): 20 batches cannot all be taken while influxd is down.
        var spool = new SpoolOptions { Directory = Path.Combine(_dir, "spool"), MaxBytes = 20_000, SegmentBytes = 8192, FullPolicy = policy, Fsync = false };
        return new InfluxWriter(new HttpClient(), options, spool, Path.Combine(_dir, "dlq"), TimeProvider.System, NullLogger.Instance);
    }

    [Fact]
    public async Task Backpressure_WriterWaitsWhileTheSpoolIsFull_ThenEverythingArrives()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60));
        await server.CreateDatabaseAsync("full");
        server.Stop();
        await using var writer = Writer(server, SpoolFullPolicy.Backpressure);
        var written = 0;
        var producer = Task.Run(
            async () =>
            {
                for (var b = 0; b < Batches; b++)
                {
                    using var lines = Batch(b);
                    await writer.WriteAsync(lines, ct);
                    Interlocked.Increment(ref written);
                }

                await writer.FlushAsync(ct);
            },
            ct);

        await Wait.UntilAsync(() => !writer.Spool.IsEmpty && !writer.Spool.HasRoomFor(8000), TimeSpan.FromSeconds(60), "spool filling up while influxd is down");
        Assert.False(producer.IsCompleted, "the writer must be held back (backpressure), not finish by dropping batches");
        Assert.True(Volatile.Read(ref written) < Batches);
        Assert.True(writer.Spool.SizeBytes <= 20_000 + 9000, $"spool bound respected ({writer.Spool.SizeBytes} bytes)");

        await server.StartAsync(TimeSpan.FromSeconds(60));
        await Wait.ForAsync(producer, TimeSpan.FromSeconds(60), "held-back writer released once influxd answers");
        await Wait.ForAsync(writer.WaitForSpoolDrainedAsync(ct), TimeSpan.FromSeconds(60), "spool drained");
        await Wait.UntilAsync(async () => await InfluxQuery.CountAsync(server, "full", "full") == Batches * PointsPerBatch, TimeSpan.FromSeconds(30), "every point of every batch in influxd");
        Assert.Equal(0, writer.Counters.PointsDeadLettered);
    }

    [Fact]
    public async Task Fail_ThrowsSpoolFullException_InsteadOfDroppingSilently()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60));
        server.Stop();
        await using var writer = Writer(server, SpoolFullPolicy.Fail);
        var t = Task.Run(
            async () =>
            {
                for (var b = 0; b < 1000; b++)
                {
                    using var lines = Batch(b);
                    await writer.WriteAsync(lines, ct);
                }
            },
            ct);
        await Wait.UntilAsync(() => t.IsCompleted, TimeSpan.FromSeconds(60), "writer failing fast once the spool is full");
        var e = await Assert.ThrowsAsync<SpoolFullException>(() => t);
        Assert.Contains("is full", e.Message);
        Assert.Contains(Path.Combine(_dir, "spool"), e.Message);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
