using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Online.Scheduling;

namespace StreamLstm.Streaming.Tests.Online;

public class TrainerSchedulingTests
{
    // Policy (field 41) and nice (field 19) of a thread as the kernel reports them in /proc (read from another thread).
    private static (int Policy, int Nice) ProcStat(int tid)
    {
        var stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state).
        return (int.Parse(fields[41 - 3], CultureInfo.InvariantCulture), int.Parse(fields[19 - 3], CultureInfo.InvariantCulture));
    }

    private static (AppliedPriority Applied, (int Tid, int Policy, int Nice) Self, (int Policy, int Nice) Proc) OnTrainerThread(TrainerPriority priority)
    {
        using var threads = new TrainerThreads(1, priority);
        AppliedPriority? applied = null;
        (int, int, int) self = default;
        (int, int) proc = default;
        var thread = threads.Start(a =>
        {
            applied = a;
            self = ThreadScheduling.ReadCurrentThread();
            proc = ProcStat(self.Item1);
        }, "priority-test");
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "trainer thread did not finish");
        return (applied!, self, proc);
    }

    [Fact]
    public void IdlePriority_TheTrainerThreadRunsUnderSchedIdle_OrNice19WhereRefused_AndReportsWhatTheKernelSays()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Linux scheduler only");
        var callerBefore = ThreadScheduling.ReadCurrentThread();
        var (applied, self, proc) = OnTrainerThread(TrainerPriority.Idle);
        Assert.Equal(TrainerPriority.Idle, applied.Requested);
        Assert.Equal(self.Tid, applied.ThreadId);
        Assert.Equal((self.Policy, self.Nice), (applied.Policy, applied.Nice));
        Assert.Equal((self.Policy, self.Nice), proc);
        if (applied.Applied == "SCHED_IDLE") Assert.Equal(ThreadScheduling.SchedIdle, self.Policy);
        else Assert.Equal(("nice 19", 19), (applied.Applied, self.Nice));
        // Only the trainer thread stepped back: the caller's policy and nice are as they were.
        var caller = ThreadScheduling.ReadCurrentThread();
        Assert.Equal((callerBefore.Policy, callerBefore.Nice), (caller.Policy, caller.Nice));
        Assert.NotEqual(ThreadScheduling.SchedIdle, caller.Policy);
    }

    [Fact]
    public void LowPriority_IsNice19UnderTheNormalPolicy_AndNormalLeavesTheThreadAsItWas()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Linux scheduler only");
        var (low, lowSelf, lowProc) = OnTrainerThread(TrainerPriority.Low);
        Assert.Equal("nice 19", low.Applied);
        Assert.Equal((ThreadScheduling.SchedOther, 19), (lowSelf.Policy, lowSelf.Nice));
        Assert.Equal((lowSelf.Policy, lowSelf.Nice), lowProc);

        var caller = ThreadScheduling.ReadCurrentThread();
        var (normal, normalSelf, _) = OnTrainerThread(TrainerPriority.Normal);
        Assert.Equal("none", normal.Applied);
        Assert.Equal((caller.Policy, caller.Nice), (normalSelf.Policy, normalSelf.Nice));
    }

    [Fact]
    public async Task HelperThreads_RunQueuedChunksAtTheLoweredPriority_AndCountTheirCpuTime()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Linux scheduler only");
        using var threads = new TrainerThreads(3, TrainerPriority.Idle);
        Assert.Same(threads, threads.Scheduler);
        var seen = new System.Collections.Concurrent.ConcurrentBag<(string? Name, int Policy, int Nice)>();
        var tasks = Enumerable.Range(0, 4).Select(_ => Task.Factory.StartNew(() =>
        {
            var (_, policy, nice) = ThreadScheduling.ReadCurrentThread();
            seen.Add((Thread.CurrentThread.Name, policy, nice));
            var end = ThreadCpuClock.Current() + TimeSpan.FromMilliseconds(5);
            while (ThreadCpuClock.Current() < end)
            {
                // Burn CPU time for the helper's counter.
            }
        }, CancellationToken.None, TaskCreationOptions.None, threads)).ToArray();
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        Assert.Equal(4, seen.Count);
        Assert.All(seen, s =>
        {
            Assert.StartsWith("online-trainer-", s.Name);
            Assert.True(s.Policy == ThreadScheduling.SchedIdle || s.Nice == 19, $"helper ran at policy {s.Policy}, nice {s.Nice}");
        });
        // A helper adds a task's CPU time just after the task completes: wait for the four 5 ms bursts to be counted.
        Assert.True(SpinWait.SpinUntil(() => threads.HelperCpuTime >= TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(30)), $"helper CPU counted: {threads.HelperCpuTime}");

        // Without helpers there is no scheduler: the batch runs on the fine-tuning thread itself.
        using var single = new TrainerThreads(1, TrainerPriority.Idle);
        Assert.Null(single.Scheduler);
    }

    [Fact]
    public void TrainingOnTheHelperThreads_GivesBitIdenticalWeightsToOneThread()
    {
        var cfg = new Model.Lstm.LstmConfig(3, 8, 2, 2);
        var rng = new Random(11);
        const int b = 40, t = 6;
        var x = Enumerable.Range(0, b * t * 3).Select(_ => (float)rng.NextDouble()).ToArray();
        var y = Enumerable.Range(0, b * t * 2).Select(_ => (float)rng.NextDouble()).ToArray();
        float[] Train(int threads, TaskScheduler? scheduler)
        {
            var model = Model.Lstm.LstmModel.CreateRandom(cfg, 5);
            var trainer = new Model.Training.LstmTrainer(model, new Model.Training.TrainingOptions { Threads = threads, Scheduler = scheduler, LearningRate = 1e-2 });
            for (var s = 0; s < 5; s++) trainer.TrainBatch(x, y, b, t);
            return [.. model.WeightIh[0], .. model.WeightHh[1], .. model.HeadWeight];
        }

        var single = Train(1, null);
        using var threads = new TrainerThreads(3, TrainerPriority.Idle);
        // From a trainer thread (chunks inline there and on the helpers) and from any other thread (all queued to the helpers).
        float[]? onTrainer = null;
        Assert.True(threads.Start(_ => onTrainer = Train(3, threads.Scheduler)).Join(TimeSpan.FromSeconds(60)), "trainer thread did not finish");
        Assert.Equal(single, onTrainer);
        Assert.Equal(single, Train(3, threads.Scheduler));
        Assert.True(SpinWait.SpinUntil(() => threads.HelperCpuTime > TimeSpan.Zero, TimeSpan.FromSeconds(30)), "no chunk ran on a helper");
    }

    // A busy trainer: each step burns `cpuPerStep` of CPU time in `wallPerStep` of wall time (less wall than CPU: several
    // threads; more: the trainer waited for a core), then the limiter's pause passes on the fake clock.
    private static (double Cores, TimeSpan Paused) Simulate(double cores, TimeSpan cpuPerStep, TimeSpan wallPerStep, int steps)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var cpu = TimeSpan.Zero;
        var limiter = new CpuShareLimiter(cores, () => cpu, time);
        for (var s = 0; s < steps; s++)
        {
            cpu += cpuPerStep;
            time.Advance(wallPerStep);
            var pause = limiter.NextPause();
            Assert.True(pause >= TimeSpan.Zero);
            time.Advance(pause);
        }

        Assert.Equal(cpu, limiter.CpuTime);
        return (limiter.MeasuredCores, limiter.Paused);
    }

    [Theory]
    [InlineData(0.25, 1.0)]   // one thread flat out, a quarter core allowed
    [InlineData(0.5, 1.0)]
    [InlineData(1.5, 2.0)]    // two threads' worth of CPU per wall second, 1.5 cores allowed
    [InlineData(0.05, 4.0)]
    public void ABusyTrainer_IsHeldAtTheAllowedCores(double cores, double threads)
    {
        var step = TimeSpan.FromMilliseconds(7);
        var (measured, paused) = Simulate(cores, step * threads, step, 5000);
        Assert.InRange(measured, cores * 0.99, cores * 1.01);
        Assert.True(paused > TimeSpan.Zero);
    }

    [Fact]
    public void ATrainerThatGetsLessThanItsShare_IsNeverPaused()
    {
        // It gets 0.1 core (SCHED_IDLE behind busy serving threads) and may use 0.5: a wall-clock duty cycle would still pause it.
        var (measured, paused) = Simulate(0.5, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(10), 2000);
        Assert.Equal(TimeSpan.Zero, paused);
        Assert.InRange(measured, 0.099, 0.101);
    }

    [Fact]
    public void IdleTime_BanksAtMostTheBurst()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var cpu = TimeSpan.Zero;
        var limiter = new CpuShareLimiter(0.5, () => cpu, time, burst: TimeSpan.FromMilliseconds(100));
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(TimeSpan.Zero, limiter.NextPause());
        // 200 ms of CPU in no wall time right after: 100 ms is covered by the burst, the other 100 ms is paid at 0.5 core.
        cpu += TimeSpan.FromMilliseconds(200);
        Assert.Equal(TimeSpan.FromMilliseconds(200), limiter.NextPause());
    }

    [Fact]
    public async Task Throttle_WaitsOnTheInjectedClock_AndACancelEndsThePause()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var cpu = TimeSpan.Zero;
        var limiter = new CpuShareLimiter(0.25, () => cpu, time, burst: TimeSpan.Zero);
        cpu += TimeSpan.FromSeconds(1);
        using var cts = new CancellationTokenSource();
        var throttled = Task.Run(() => limiter.Throttle(cts.Token), TestContext.Current.CancellationToken);
        // Owed: 1 s of CPU at 0.25 core = 4 s of wall time on the fake clock. The clock moves in 100 ms steps until the pause
        // ends (the thread may reach its wait after some steps), so it cannot end before 4 fake seconds have passed.
        var advanced = TimeSpan.Zero;
        Assert.True(SpinWait.SpinUntil(() =>
        {
            if (throttled.IsCompleted) return true;
            time.Advance(TimeSpan.FromMilliseconds(100));
            advanced += TimeSpan.FromMilliseconds(100);
            return false;
        }, TimeSpan.FromSeconds(30)), "pause did not end as the fake clock moved");
        // Whatever the interleaving (time that passed before the thread looked shortens its pause), 4 fake seconds had passed.
        Assert.True(advanced >= TimeSpan.FromSeconds(4), $"returned after {advanced} of fake time");
        Assert.InRange(limiter.Paused, TimeSpan.Zero, TimeSpan.FromSeconds(4));

        cpu += TimeSpan.FromSeconds(1);
        var cancelled = Task.Run(() => limiter.Throttle(cts.Token), TestContext.Current.CancellationToken);
        await cts.CancelAsync();
        await cancelled.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken); // a cancel ends the pause
    }

    [Fact]
    public void TheCap_IsMaxCpuShareOfTheMachine_OrDutyCycleTimesMaxCoresWhenUnset_AndBadValuesFailValidation()
    {
        Assert.Equal(2.0, new OnlineOptions { MaxCpuShare = 0.25 }.TrainerCores(8));
        Assert.Equal(0.5, new OnlineOptions { DutyCycle = 0.25, MaxCores = 2 }.TrainerCores(8));
        Assert.Equal(TrainerPriority.Idle, new OnlineOptions().TrainerPriority);
        var validator = new OnlineOptionsValidator();
        Assert.True(validator.Validate(null, new OnlineOptions()).Succeeded);
        Assert.False(validator.Validate(null, new OnlineOptions { TrainerPriority = (TrainerPriority)7 }).Succeeded);
        Assert.False(validator.Validate(null, new OnlineOptions { MaxCpuShare = 0 }).Succeeded);

        // As configured: names bind case-insensitively; an unset share keeps the older DutyCycle meaning.
        var configured = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Online:TrainerPriority"] = "low", ["Online:MaxCpuShare"] = "0.3" }).Build()
            .GetSection(OnlineOptions.Section).Get<OnlineOptions>()!;
        Assert.Equal((TrainerPriority.Low, 0.3), (configured.TrainerPriority, configured.MaxCpuShare));
        var legacy = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Online:DutyCycle"] = "0.5" }).Build()
            .GetSection(OnlineOptions.Section).Get<OnlineOptions>()!;
        Assert.Null(legacy.MaxCpuShare);
        Assert.Equal(0.5, legacy.TrainerCores(16));
    }
}
