using StreamLstm.Model.Training;

namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>Settings of <see cref="OnlineLstmForecaster"/>: model size, the fine-tuning schedule and the training recipe.</summary>
public sealed class OnlineLstmSettings
{
    /// <summary>Hidden size H.</summary>
    public int Hidden { get; set; } = 24;

    /// <summary>Stacked layers (dropout applies between layers, so only with 2 or more).</summary>
    public int Layers { get; set; } = 1;

    /// <summary>Dropout between layers.</summary>
    public double Dropout { get; set; } = 0.1;

    /// <summary>Fine-tune every this many rows.</summary>
    public int RetrainEvery { get; set; } = 64;

    /// <summary>Rows with complete targets needed before the first fit (no forecast before it).</summary>
    public int MinRows { get; set; } = 128;

    /// <summary>Replay window: the most recent rows a fine-tune samples from (holdout included).</summary>
    public int ReplayWindow { get; set; } = 1024;

    /// <summary>Most recent rows held out for validation, early stopping and the champion/challenger gate.</summary>
    public int Holdout { get; set; } = 96;

    /// <summary>Rows run before the holdout to warm the state when validating (their loss counts too, for both models alike).</summary>
    public int HoldoutContext { get; set; } = 32;

    /// <summary>Steps the state is re-warmed over, from zero, with a newly promoted model.</summary>
    public int RewarmSteps { get; set; } = 64;

    /// <summary>Epochs of each fine-tune.</summary>
    public int Epochs { get; set; } = 3;

    /// <summary>Epochs of the first fit (from random weights).</summary>
    public int FirstEpochs { get; set; } = 12;

    /// <summary>Mini-batches per epoch.</summary>
    public int BatchesPerEpoch { get; set; } = 4;

    /// <summary>Windows per mini-batch.</summary>
    public int BatchSize { get; set; } = 16;

    /// <summary>Truncated-BPTT window length.</summary>
    public int WindowLength { get; set; } = 32;

    /// <summary>Warm-up steps run without gradients before each window.</summary>
    public int WarmupSteps { get; set; } = 16;

    /// <summary>Peak Adam learning rate (after warm-up, decayed by a cosine to a tenth over the expected run).</summary>
    public double LearningRate { get; set; } = 5e-3;

    /// <summary>Epochs without a better validation loss before a fine-tune stops.</summary>
    public int Patience { get; set; } = 2;

    /// <summary>A candidate replaces the serving model only when its holdout NLL is lower by at least this much.</summary>
    public double GateMargin { get; set; }

    /// <summary>Seed of initialisation, sampling and dropout.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Trainer device (see <see cref="TrainerFactory"/>).</summary>
    public TrainingDevice Device { get; set; } = TrainingDevice.Cpu;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        if (Hidden < 1 || Layers < 1) throw new ArgumentException("Hidden and Layers must be >= 1.");
        if (RetrainEvery < 1) throw new ArgumentException($"RetrainEvery must be >= 1 (was {RetrainEvery}).");
        if (MinRows < WarmupSteps + WindowLength + 8) throw new ArgumentException($"MinRows must be >= WarmupSteps + WindowLength + 8 (was {MinRows}).");
        if (ReplayWindow < MinRows) throw new ArgumentException($"ReplayWindow must be >= MinRows (was {ReplayWindow}).");
        if (Holdout < 1 || HoldoutContext < 0 || RewarmSteps < 1) throw new ArgumentException("Holdout and RewarmSteps must be >= 1, HoldoutContext >= 0.");
        if (Epochs < 1 || FirstEpochs < 1 || BatchesPerEpoch < 1 || BatchSize < 1) throw new ArgumentException("Epochs, FirstEpochs, BatchesPerEpoch and BatchSize must be >= 1.");
        if (!(LearningRate > 0)) throw new ArgumentException($"LearningRate must be > 0 (was {LearningRate}).");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"Dropout must be in [0, 1) (was {Dropout}).");
    }
}
