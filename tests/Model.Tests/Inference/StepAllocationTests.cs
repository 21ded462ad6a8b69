using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;

namespace StreamLstm.Model.Tests.Inference;

/// <summary>The hot path allocates nothing per step, on one thread or several.</summary>
public class StepAllocationTests
{
    [Theory]
    [InlineData(1, 1, 64)]
    [InlineData(1, 37, 33)]
    [InlineData(2, 512, 64)]
    public void Step_AllocatesNothing(int threads, int batch, int hidden)
    {
        var cfg = new LstmConfig(8, hidden, 2, 3);
        var model = LstmModel.CreateRandom(cfg, 1);
        var slab = new StateSlab(cfg, batch);
        var slots = Enumerable.Range(0, batch).Select(_ => slab.Allocate()).ToArray();
        var x = new float[batch * 8];
        var mu = new float[batch * 3];
        var ls = new float[batch * 3];
        using var stepper = new LstmStepper(model, batch, threads);
        for (var i = 0; i < 50; i++) stepper.Step(slab, slots, x, mu, ls); // warm-up: JIT, worker start-up

        const int steps = 200;
        var beforeThread = GC.GetAllocatedBytesForCurrentThread();
        var beforeAll = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < steps; i++) stepper.Step(slab, slots, x, mu, ls);
        var onCaller = GC.GetAllocatedBytesForCurrentThread() - beforeThread;
        var inProcess = GC.GetTotalAllocatedBytes(precise: true) - beforeAll;

        Assert.Equal(0, onCaller);
        // Process-wide counts include the test host's threads and one-off lazy event objects of the worker hand-off;
        // anything allocated per step would be at least 24 bytes × 200 steps.
        Assert.True(inProcess < steps * 24, $"{inProcess} bytes allocated over {steps} steps");
    }
}
