using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Pipeline;

/// <summary>
/// Saturated workers hold their thread-pool threads (their loops resume on the pool after the first wait for input), so
/// <see cref="StreamPipeline.Start"/> raises the pool's minimum by the worker count: the rest of the process keeps one
/// thread per core without waiting for the pool's starvation injection (about one thread per half second). And a worker
/// waiting for input shows it while it waits, not only once the wait ends.
/// </summary>
public class WorkerPoolReserveTests
{
    [Theory]
    [InlineData(2, 2, 2, 4)] // 2 cores, default workers: the case that starved (min 2, both held by workers)
    [InlineData(8, 8, 8, 16)]
    [InlineData(20, 2, 2, 20)] // already higher (set by the host or another pipeline): never lowered
    [InlineData(4, 4, 1, 5)]
    public void PoolMinimum_IsOneThreadPerCoreOnTopOfTheWorkers_NeverLowered(int current, int processors, int workers, int expected) =>
        Assert.Equal(expected, StreamPipeline.PoolMinimum(current, processors, workers));

    [Fact]
    public async Task Start_RaisesThePoolMinimumByTheWorkerCount_AndAnIdleWorkerShowsItsWaitInProgress()
    {
        const int workers = 3;
        var pipeline = new StreamPipeline(new PipelineOptions { Workers = workers, MaxBatch = 8, ChunkSize = 64 }, PipelineInvariantTests.Models(), [new CollectingOutput()], new CountingDeadLetterSink());
        pipeline.Start();
        try
        {
            ThreadPool.GetMinThreads(out var min, out _);
            Assert.True(min >= Environment.ProcessorCount + workers, $"pool minimum {min} after Start with {workers} workers on {Environment.ProcessorCount} cores");

            // No input: every worker is inside its wait, and says since when (InputWaitNs grows only when a wait ends).
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
