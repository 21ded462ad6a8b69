namespace StreamLstm.Model.Training;

/// <summary>Settings of every <see cref="ILstmTrainer"/> (bound from the <c>Training</c> configuration section).</summary>
public sealed class TrainingOptions
{
    /// <summary>Which implementation trains: <c>auto</c> (CUDA when a device is present, else CPU), <c>cpu</c> or <c>gpu</c> (see <see cref="TrainerFactory"/>).</summary>
    public TrainingDevice Device { get; set; } = TrainingDevice.Cpu;

    /// <summary>Inverted dropout rate on each layer's output where it feeds the next layer (PyTorch <c>nn.LSTM(dropout=…)</c>; 0: off).</summary>
    public double Dropout { get; set; }

    /// <summary>Optimizer steps of linear learning-rate warm-up from <see cref="LearningRate"/>/n to <see cref="LearningRate"/> (0: none).</summary>
    public int LrWarmupSteps { get; set; }

    /// <summary>Decay after the warm-up: none, cosine to <see cref="MinLearningRate"/>, or step (× <see cref="LrStepGamma"/> every <see cref="LrStepEvery"/> steps).</summary>
    public LrDecay LrDecay { get; set; } = LrDecay.None;

    /// <summary>Steps over which cosine decay runs (0: every step of the run, Epochs × BatchesPerEpoch).</summary>
    public int LrDecaySteps { get; set; }

    /// <summary>Floor of cosine decay.</summary>
    public double MinLearningRate { get; set; }

    /// <summary>Step decay period in optimizer steps.</summary>
    public int LrStepEvery { get; set; } = 1000;

    /// <summary>Step decay factor.</summary>
    public double LrStepGamma { get; set; } = 0.5;

    /// <summary>Steps of each training window that gradients flow through (truncated BPTT length).</summary>
    public int WindowLength { get; set; } = 32;

    /// <summary>Steps run forward without gradients before each window to warm the state (0: windows start from zero state).</summary>
    public int WarmupSteps { get; set; }

    /// <summary>Windows per mini-batch.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Mini-batches per epoch.</summary>
    public int BatchesPerEpoch { get; set; } = 20;

    /// <summary>Maximum epochs.</summary>
    public int Epochs { get; set; } = 20;

    /// <summary>Adam step size.</summary>
    public double LearningRate { get; set; } = 1e-2;

    /// <summary>Adam β1.</summary>
    public double Beta1 { get; set; } = 0.9;

    /// <summary>Adam β2.</summary>
    public double Beta2 { get; set; } = 0.999;

    /// <summary>Adam ε.</summary>
    public double Epsilon { get; set; } = 1e-8;

    /// <summary>Gradient-norm clip (0: off).</summary>
    public double ClipNorm { get; set; } = 1.0;

    /// <summary>Seed for window sampling: the same seed, data and model give the same result.</summary>
    public int Seed { get; set; }

    /// <summary>Threads for the batch (results do not depend on it).</summary>
    public int Threads { get; set; } = 1;

    /// <summary>
    /// Where the batch's parallel chunks run when <see cref="Threads"/> &gt; 1 (null: the thread pool). The online trainer
    /// passes its own low-priority threads so that fine-tuning never runs at the serving threads' priority.
    /// </summary>
    public TaskScheduler? Scheduler { get; set; }

    /// <summary>Stop after this many epochs without a better validation loss (0: never stop early).</summary>
    public int Patience { get; set; }

    /// <summary>Called after every epoch; return false to stop training (the validation/early-stopping hook).</summary>
    public Func<EpochReport, bool>? OnEpoch { get; set; }

    /// <summary>
    /// Optimizer step the learning-rate schedule counts from: a fine-tune that resumes Adam (its moments and step count carry
    /// on) sets it to the resumed step count so that warm-up and decay start again (0: count from the first step).
    /// </summary>
    public int LrScheduleOffset { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        if (WindowLength < 1) throw new ArgumentException($"WindowLength must be >= 1 (was {WindowLength}).");
        if (WarmupSteps < 0) throw new ArgumentException($"WarmupSteps must be >= 0 (was {WarmupSteps}).");
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be >= 1 (was {BatchSize}).");
        if (BatchesPerEpoch < 1) throw new ArgumentException($"BatchesPerEpoch must be >= 1 (was {BatchesPerEpoch}).");
        if (Epochs < 1) throw new ArgumentException($"Epochs must be >= 1 (was {Epochs}).");
        if (!(LearningRate > 0)) throw new ArgumentException($"LearningRate must be > 0 (was {LearningRate}).");
        if (ClipNorm < 0) throw new ArgumentException($"ClipNorm must be >= 0 (was {ClipNorm}).");
        if (Threads < 1) throw new ArgumentException($"Threads must be >= 1 (was {Threads}).");
        if (Patience < 0) throw new ArgumentException($"Patience must be >= 0 (was {Patience}).");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"Dropout must be in [0, 1) (was {Dropout}).");
        if (LrScheduleOffset < 0) throw new ArgumentException($"LrScheduleOffset must be >= 0 (was {LrScheduleOffset}).");
        if (LrWarmupSteps < 0) throw new ArgumentException($"LrWarmupSteps must be >= 0 (was {LrWarmupSteps}).");
        if (LrDecaySteps < 0) throw new ArgumentException($"LrDecaySteps must be >= 0 (was {LrDecaySteps}).");
        if (MinLearningRate < 0 || MinLearningRate > LearningRate) throw new ArgumentException($"MinLearningRate must be in [0, LearningRate] (was {MinLearningRate}).");
        if (LrStepEvery < 1) throw new ArgumentException($"LrStepEvery must be >= 1 (was {LrStepEvery}).");
        if (!(LrStepGamma > 0 && LrStepGamma <= 1)) throw new ArgumentException($"LrStepGamma must be in (0, 1] (was {LrStepGamma}).");
        if (!Enum.IsDefined(Device)) throw new ArgumentException($"Device must be auto, cpu or gpu (was {Device}).");
    }
}

/// <summary>What one epoch did.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="TrainLoss">Mean training NLL over the epoch's batches.</param>
/// <param name="ValidationLoss">Validation NLL (NaN without a validation set).</param>
/// <param name="GradNorm">Mean gradient norm before clipping.</param>
/// <param name="Timesteps">Training timesteps (window steps × windows) processed this epoch.</param>
/// <param name="Elapsed">Wall time of the epoch's training part.</param>
public sealed record EpochReport(int Epoch, double TrainLoss, double ValidationLoss, double GradNorm, long Timesteps, TimeSpan Elapsed);

/// <summary>The outcome of <see cref="ILstmTrainer.Fit"/>.</summary>
/// <param name="Epochs">Per-epoch reports.</param>
/// <param name="BestEpoch">Epoch whose parameters the model holds at the end (best validation loss, or the last epoch without validation).</param>
/// <param name="StoppedEarly">Whether patience or the hook stopped training.</param>
public sealed record TrainingReport(IReadOnlyList<EpochReport> Epochs, int BestEpoch, bool StoppedEarly);

/// <summary>Which trainer implementation runs (<c>Training:Device</c>).</summary>
public enum TrainingDevice
{
    /// <summary>The GPU trainer on CUDA when a CUDA device is present, else the CPU trainer.</summary>
    Auto,

    /// <summary>The CPU trainer (<see cref="LstmTrainer"/>).</summary>
    Cpu,

    /// <summary>The GPU trainer (<see cref="Gpu.GpuLstmTrainer"/>): on CUDA when present, else on ILGPU's CPU accelerator (same kernels, slow).</summary>
    Gpu,
}

/// <summary>Learning-rate decay after the warm-up.</summary>
public enum LrDecay
{
    /// <summary>Constant.</summary>
    None,

    /// <summary>Half cosine from the base rate to <see cref="TrainingOptions.MinLearningRate"/>.</summary>
    Cosine,

    /// <summary>Multiply by <see cref="TrainingOptions.LrStepGamma"/> every <see cref="TrainingOptions.LrStepEvery"/> steps.</summary>
    Step,
}
