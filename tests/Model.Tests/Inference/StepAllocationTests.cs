using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;

namespace StreamLstm.Model.Tests.Inference;

/// <summary>The hot path allocates nothing per step, on one thread or several.</summary>
public class StepAllocationTests
{
    [Theory]
    [InlineData(1, 1, 64, WeightPrecision.Float32)]
    [InlineData(1, 37, 33, WeightPrecision.Float32)]
    [InlineData(2, 512, 64, WeightPrecision.Float32)]
    [InlineData(1, 1, 64, WeightPrecision.BFloat16)]
    [InlineData(1, 3, 33, WeightPrecision.BFloat16)]
    public void Step_AllocatesNothing(int threads, int batch, int hidden, WeightPrecision precision)
    {
        var cfg = new LstmConfig(8, hidden, 2, 3);
        var model = LstmModel.CreateRandom(cfg, 1);
        var slab = new StateSlab(cfg, batch);
        var slots = Enumerable.Range(0, batch).Select(_ => slab.Allocate()).ToArray();
        var x = new float[batch * 8];
        var mu = new float[batch * 3];
        var ls = new float[batch * 3];
        using var stepper = new LstmStepper(model, batch, threads, StepKernelKind.Auto, precision);
        for (var i = 0; i < 50; i++) stepper.Step(slab, slots, x, mu, ls); // warm-up: JIT, worker start-up

        const int steps = 200;
        long onCaller = 0, onWorkers = 0, parts = 0;
        // Up to three windows of 200 steps: an allocation per step shows in every window, while a one-off by the runtime
        // (tiering swapping in a method's optimised code, seen once in CI: 1,960 bytes) shows in one at most.
        for (var window = 0; window < 3; window++)
        {
            var beforeThread = GC.GetAllocatedBytesForCurrentThread();
            var beforeWorkers = stepper.WorkerAllocatedBytes;
            var partsBefore = stepper.WorkerParts;
            for (var i = 0; i < steps; i++) stepper.Step(slab, slots, x, mu, ls);
            onCaller = GC.GetAllocatedBytesForCurrentThread() - beforeThread;
            onWorkers = stepper.WorkerAllocatedBytes - beforeWorkers;
            parts = stepper.WorkerParts - partsBefore;
            if (onCaller == 0 && onWorkers == 0) break;
        }

        // Per-thread counters: other tests running in parallel cannot disturb them.
        Assert.Equal(0, onCaller);
        Assert.Equal(0, onWorkers);
        Assert.Equal(threads > 1 ? steps : 0, parts); // the worker threads really ran
    }
}
