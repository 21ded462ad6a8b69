using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using StreamLstm.Model.Training;
using StreamLstm.Streaming.Online.Scheduling;

namespace StreamLstm.Streaming.Online;

/// <summary>Online learning settings (configuration section <c>Online</c>): replay buffer, trainer, triggers, gate, hot swap.</summary>
public sealed class OnlineOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Online";

    /// <summary>Runs the trainer service and feeds the replay buffer (default off for <c>run</c>).</summary>
    public bool Enabled { get; set; }

    /// <summary>Events kept per key in the replay buffer (the window W).</summary>
    [Range(16, 65536, ErrorMessage = "Online:Window must be {1}..{2} events.")]
    public int Window { get; set; } = 512;

    /// <summary>The key's (h, c) is snapshotted every this many events (training windows start warm from a snapshot).</summary>
    [Range(4, 65536, ErrorMessage = "Online:SnapshotEvery must be {1}..{2} events.")]
    public int SnapshotEvery { get; set; } = 64;

    /// <summary>Keys the replay buffer holds per kind (bounded memory; the least recently fed key is dropped beyond it).</summary>
    [Range(1, 10_000_000, ErrorMessage = "Online:MaxKeys must be {1}..{2} keys per kind.")]
    public int MaxKeys { get; set; } = 2048;

    /// <summary>File the replay buffer is saved to on stop and after each fine-tune, and loaded from at start (empty: not persisted).</summary>
    public string ReplayPath { get; set; } = "";

    /// <summary>Trainer threads: the thread that fine-tunes plus <c>MaxCores − 1</c> helpers for a batch's parallel chunks.</summary>
    [Range(1, 256, ErrorMessage = "Online:MaxCores must be {1}..{2}.")]
    public int MaxCores { get; set; } = 1;

    /// <summary>
    /// Scheduling priority every trainer thread lowers itself to: <c>idle</c> (Linux <c>SCHED_IDLE</c>: runs only on a core
    /// the serving threads leave idle; nice 19 where refused), <c>low</c> (nice 19), <c>normal</c> (unchanged). No-op off Linux.
    /// </summary>
    public TrainerPriority TrainerPriority { get; set; } = TrainerPriority.Idle;

    /// <summary>
    /// Cap on the trainer threads' CPU time as a fraction of the machine's cores (0..1]: e.g. 0.25 on 8 cores is 2 cores'
    /// worth. Measured as the threads' own CPU time (<c>CLOCK_THREAD_CPUTIME_ID</c>), so it holds whatever the scheduler
    /// does with priorities. Unset: <see cref="DutyCycle"/> × <see cref="MaxCores"/> cores.
    /// </summary>
    [Range(0.001, 1.0, ErrorMessage = "Online:MaxCpuShare must be {1}..{2}.")]
    public double? MaxCpuShare { get; set; }

    /// <summary>
    /// The older form of the CPU cap, kept working: the share of each trainer thread's time it may compute (0..1], i.e. a cap of
    /// <c>DutyCycle × MaxCores</c> cores when <see cref="MaxCpuShare"/> is unset. Now counted in CPU time, not wall time
    /// (the trainer is not paused again for time it spent waiting for a core). 1 with no <see cref="MaxCpuShare"/>: no cap.
    /// </summary>
    [Range(0.01, 1.0, ErrorMessage = "Online:DutyCycle must be {1}..{2}.")]
    public double DutyCycle { get; set; } = 0.25;

    /// <summary>Cores' worth of CPU time the trainer threads may use (the effective cap of <see cref="MaxCpuShare"/> or <see cref="DutyCycle"/>).</summary>
    /// <param name="processorCount">The machine's cores (<see cref="Environment.ProcessorCount"/>).</param>
    /// <returns>Cores (≥ <see cref="MaxCores"/>: no cap).</returns>
    public double TrainerCores(int processorCount) => MaxCpuShare is { } share ? share * processorCount : DutyCycle * MaxCores;

    /// <summary>Where fine-tuning runs (<c>cpu</c>, <c>gpu</c>, <c>auto</c>).</summary>
    public TrainingDevice Device { get; set; } = TrainingDevice.Cpu;

    /// <summary>Schedule trigger: a fine-tune every this many events of a kind (0: off).</summary>
    [Range(0, long.MaxValue, ErrorMessage = "Online:EveryEvents must be >= 0.")]
    public long EveryEvents { get; set; } = 200_000;

    /// <summary>Schedule trigger: a fine-tune every this long (zero: off).</summary>
    public TimeSpan EveryInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Page-Hinkley drift trigger on each kind's NLL: tolerated drift δ per event.</summary>
    public double DriftDelta { get; set; } = 0.05;

    /// <summary>Page-Hinkley threshold λ (0: drift trigger off).</summary>
    public double DriftLambda { get; set; } = 50;

    /// <summary>Shortest time between two fine-tunes of a kind (triggers inside it are dropped).</summary>
    public TimeSpan MinGap { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Training window length T (steps gradients flow through).</summary>
    [Range(2, 4096, ErrorMessage = "Online:WindowLength must be {1}..{2}.")]
    public int WindowLength { get; set; } = 32;

    /// <summary>Windows per optimizer step.</summary>
    [Range(1, 4096, ErrorMessage = "Online:BatchSize must be {1}..{2}.")]
    public int BatchSize { get; set; } = 32;

    /// <summary>Optimizer steps per epoch.</summary>
    [Range(1, 100_000, ErrorMessage = "Online:StepsPerEpoch must be {1}..{2}.")]
    public int StepsPerEpoch { get; set; } = 10;

    /// <summary>Most epochs per fine-tune.</summary>
    [Range(1, 10_000, ErrorMessage = "Online:Epochs must be {1}..{2}.")]
    public int Epochs { get; set; } = 8;

    /// <summary>Early stopping: epochs without a better held-out NLL.</summary>
    [Range(0, 10_000, ErrorMessage = "Online:Patience must be {1}..{2}.")]
    public int Patience { get; set; } = 2;

    /// <summary>Peak learning rate (linear warm-up, then cosine decay).</summary>
    [Range(1e-7, 1.0, ErrorMessage = "Online:LearningRate must be {1}..{2}.")]
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Warm-up steps of the learning rate.</summary>
    [Range(0, 100_000, ErrorMessage = "Online:LrWarmupSteps must be {1}..{2}.")]
    public int LrWarmupSteps { get; set; } = 10;

    /// <summary>Dropout between layers (models with more than one layer).</summary>
    [Range(0.0, 0.9, ErrorMessage = "Online:Dropout must be {1}..{2}.")]
    public double Dropout { get; set; } = 0.1;

    /// <summary>Keys whose latest window is held out (most recently fed first) for early stopping and the gate.</summary>
    [Range(1, 100_000, ErrorMessage = "Online:HoldoutKeys must be {1}..{2}.")]
    public int HoldoutKeys { get; set; } = 64;

    /// <summary>Fewest training windows needed before a fine-tune runs.</summary>
    [Range(1, 1_000_000, ErrorMessage = "Online:MinWindows must be {1}..{2}.")]
    public int MinWindows { get; set; } = 8;

    /// <summary>Gate: the candidate's held-out NLL must be lower than the serving model's by at least this.</summary>
    [Range(0.0, 100.0, ErrorMessage = "Online:GateMargin must be {1}..{2}.")]
    public double GateMargin { get; set; } = 0.01;

    /// <summary>Gate: the candidate's held-out RMSE may exceed the serving model's by at most this fraction (0: must not worsen).</summary>
    [Range(0.0, 1.0, ErrorMessage = "Online:RmseTolerance must be {1}..{2}.")]
    public double RmseTolerance { get; set; }

    /// <summary>Hot swap: each key's state is rebuilt by running the new model over its last this many replayed inputs.</summary>
    [Range(1, 65536, ErrorMessage = "Online:RewarmSteps must be {1}..{2}.")]
    public int RewarmSteps { get; set; } = 64;

    /// <summary>Registry directory promoted models are registered in (empty: <c>Models:Registry</c> in the service; not registered when both are empty).</summary>
    public string RegistryDirectory { get; set; } = "";

    /// <summary>Seed of window sampling and dropout.</summary>
    public int Seed { get; set; } = 7;
}

/// <summary>Validates <see cref="OnlineOptions"/> beyond its data annotations.</summary>
public sealed class OnlineOptionsValidator : IValidateOptions<OnlineOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, OnlineOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var errors = new List<string>();
        if (o.SnapshotEvery > o.Window) errors.Add($"Online:SnapshotEvery ({o.SnapshotEvery}) must not exceed Online:Window ({o.Window}).");
        if (o.WindowLength + 8 > o.Window) errors.Add($"Online:WindowLength ({o.WindowLength}) must leave room in Online:Window ({o.Window}).");
        if (o.RewarmSteps > o.Window) errors.Add($"Online:RewarmSteps ({o.RewarmSteps}) must not exceed Online:Window ({o.Window}).");
        if (o.EveryInterval < TimeSpan.Zero) errors.Add("Online:EveryInterval must not be negative.");
        if (o.MinGap < TimeSpan.Zero) errors.Add("Online:MinGap must not be negative.");
        if (!Enum.IsDefined(o.TrainerPriority)) errors.Add($"Online:TrainerPriority ({o.TrainerPriority}) must be idle, low or normal.");
        if (o.MaxCpuShare is { } share && !(share > 0)) errors.Add("Online:MaxCpuShare must be > 0.");
        if (!(o.DriftDelta >= 0) || !(o.DriftLambda >= 0)) errors.Add("Online:DriftDelta and Online:DriftLambda must be >= 0.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
