using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Pipeline;

/// <summary>
/// A worker waiting for input shows it while it waits (<see cref="WorkerMetrics.InputWaitSince"/>), not only once the wait
/// ends: <see cref="WorkerMetrics.InputWaitNs"/> grows only then, so a worker idle at the end of a measured window (its lane
/// done first) used to show no wait at all.
/// </summary>
public class WorkerInputWaitTests
{
    [Fact]
    public async Task AnIdleWorker_ShowsItsWaitInProgress_AndCountsItWhenItEnds()
    {
        const int workers = 3;
        var pipeline = new StreamPipeline(new PipelineOptions { Workers = workers, MaxBatch = 8, ChunkSize = 64 }, PipelineInvariantTests.Models(), [new CollectingOutput()], new CountingDeadLetterSink());
        pipeline.Start();
        try
        {
            // No input: every worker is inside its wait, and says since when; none has ended yet.
            Assert.True(
                SpinWait.SpinUntil(() => pipeline.Metrics.All(m => Volatile.Read(ref m.InputWaitSince) != 0), TimeSpan.FromSeconds(30)),
                "idle workers: InputWaitSince set while waiting for input");
            Assert.All(pipeline.Metrics, m => Assert.Equal(0, m.InputWaits));
        }
        finally
        {
            await pipeline.CompleteAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        }

        // The waits ended with the lanes' completion: counted, and no wait is in progress any more.
        Assert.All(pipeline.Metrics, m => Assert.Equal(0, Volatile.Read(ref m.InputWaitSince)));
        Assert.All(pipeline.Metrics, m => Assert.True(m.InputWaits >= 1, "the idle wait was counted when it ended"));
    }
}
