using System.Globalization;
using Microsoft.Extensions.Configuration;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Eval.Alerts;
using StreamLstm.Streaming.Online.Scheduling;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Eval.Alerts;

/// <summary>
/// <c>eval alerts</c> fine-tunes on the service's trainer-thread path: a thread of the service's <see cref="TrainerThreads"/>,
/// lowered to <c>Online:TrainerPriority</c> before it runs anything, not a pool thread at the serving threads' priority.
/// </summary>
public class OnlineTrainerPriorityTests
{
    // Policy (field 41) and nice (field 19) of a thread as the kernel reports them in /proc (read from another thread).
    private static (int Policy, int Nice) ProcStat(int tid)
    {
        var stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (int.Parse(fields[41 - 3], CultureInfo.InvariantCulture), int.Parse(fields[19 - 3], CultureInfo.InvariantCulture));
    }

    private static IConfiguration Config(string priority) => new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?> { ["Online:TrainerPriority"] = priority, ["Online:EveryEvents"] = "1000" }).Build();

    /// <summary>Attaches the trainer to an idle pipeline, runs one fine-tune request and reads back the thread that ran it.</summary>
    private static async Task<(AppliedPriority Applied, (int ThreadId, int Policy, int Nice) Ran, (int Policy, int Nice) Proc)> FineTuneOnce(string priority)
    {
        var models = PipelineInvariantTests.Models(hidden: 8);
        var pipeline = new StreamPipeline(new PipelineOptions { Workers = 1, MaxWait = TimeSpan.Zero }, models, [new CollectingOutput()], new CountingDeadLetterSink());
        await using var trainer = await OnlineTrainer.AttachAsync(pipeline, models, Config(priority), enabled: true, eventsPerKind: 8000, TestContext.Current.CancellationToken);
        pipeline.Start(TestContext.Current.CancellationToken);
        try
        {
            // Too little history to fine-tune: the request still runs RetrainNow (which skips) on the trainer thread.
            await trainer.RetrainAsync(SourceKind.Tick, TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            var ran = Assert.NotNull(trainer.LastFineTuneThread);
            Assert.NotNull(trainer.Priority);
            var applied = trainer.Priority!;
            // The thread is still alive (it waits for the next request): the kernel's view of it, from this thread.
            return (applied, ran, ProcStat(ran.ThreadId));
        }
        finally
        {
            await pipeline.CompleteAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task LowPriority_TheFineTuneRunsOnATrainerThreadAtNice19_NotOnTheCallersOrAPoolThread()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Linux scheduler only");
        var caller = ThreadScheduling.ReadCurrentThread();
        var (applied, ran, proc) = await FineTuneOnce("low");
        Assert.Equal((TrainerPriority.Low, "nice 19"), (applied.Requested, applied.Applied));
        Assert.Equal(applied.ThreadId, ran.ThreadId);
        Assert.Equal((ThreadScheduling.SchedOther, 19), (ran.Policy, ran.Nice));
        Assert.Equal((ran.Policy, ran.Nice), proc);
        Assert.NotEqual(caller.ThreadId, ran.ThreadId);
        // A pool thread would have kept the caller's policy and nice: the test's threads are not lowered.
        var after = ThreadScheduling.ReadCurrentThread();
        Assert.Equal((caller.Policy, caller.Nice), (after.Policy, after.Nice));
        Assert.True(after.Nice < 19, $"the test thread itself runs at nice {after.Nice}: the read-back would not tell a lowered thread apart");
    }

    [Fact]
    public async Task IdlePriority_TheFineTuneRunsUnderSchedIdle_OrNice19WhereRefused()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Linux scheduler only");
        var (applied, ran, proc) = await FineTuneOnce("idle");
        Assert.Equal(TrainerPriority.Idle, applied.Requested);
        Assert.Equal(applied.ThreadId, ran.ThreadId);
        Assert.Equal((ran.Policy, ran.Nice), proc);
        if (applied.Applied == "SCHED_IDLE") Assert.Equal(ThreadScheduling.SchedIdle, ran.Policy);
        else Assert.Equal(("nice 19", 19), (applied.Applied, ran.Nice));
    }

    [Fact]
    public async Task EvalAlerts_ReportsTheTrainerThreadsAppliedPriority()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Linux scheduler only");
        var settings = new AlertEvalSettings { Events = 3_000, Keys = (10, 1, 1), Kinds = [SourceKind.Tick], Hidden = 8, Epochs = 1, TrainEventsPerKey = 100, AnomalyRate = 4, Partitions = 2 };
        var results = await AlertEvalCommand.RunAsync(settings, OnlineRuns.On, ["--Online:TrainerPriority=low", "--Online:EveryEvents=1000"], TextWriter.Null, TestContext.Current.CancellationToken);
        var r = Assert.Single(results);
        Assert.True(r.OnlineActive);
        Assert.NotNull(r.TrainerPriority);
        var p = r.TrainerPriority!;
        Assert.Equal((TrainerPriority.Low, "nice 19", 19), (p.Requested, p.Applied, p.Nice));
        var json = AlertEvalCommand.ToJson(settings, results)["runs"]![0]!["trainer_priority"]!;
        Assert.Equal("nice 19", (string?)json["applied"]);
        Assert.Equal("low", (string?)json["requested"]);
    }
}
