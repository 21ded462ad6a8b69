using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Training;

/// <summary>
/// A trainer of an <see cref="LstmModel"/>: truncated BPTT of the Gaussian NLL with masks and per-window weights,
/// global-norm clipping, Adam (resumable) under a learning-rate schedule, dropout between layers, and a
/// <see cref="Fit"/> loop with validation and early stopping. <see cref="LstmTrainer"/> runs on the CPU,
/// <see cref="Gpu.GpuLstmTrainer"/> on ILGPU; <see cref="TrainerFactory"/> picks one from <see cref="TrainingOptions.Device"/>.
/// </summary>
public interface ILstmTrainer : IDisposable
{
    /// <summary>Where it runs, in words (<c>cpu</c>, <c>gpu: Cuda NVIDIA H100 …</c>, <c>gpu: ILGPU CPU accelerator</c>).</summary>
    string Device { get; }

    /// <summary>The model being trained; it holds the trained parameters after <see cref="Fit"/> or <see cref="SyncModel"/>.</summary>
    LstmModel Model { get; }

    /// <summary>Settings (validated).</summary>
    TrainingOptions Options { get; }

    /// <summary>Optimizer steps taken (including those of an imported <see cref="AdamState"/>).</summary>
    int StepCount { get; }

    /// <summary>One optimizer step on <paramref name="batch"/> with the scheduled learning rate and dropout.</summary>
    /// <param name="batch">Windows.</param>
    /// <returns>Loss before the update, gradient norm before clipping, learning rate used.</returns>
    StepResult TrainBatch(TrainingBatch batch);

    /// <summary>Forward and backward without dropout and without an update: the loss, every gradient and optionally the forward outputs.</summary>
    /// <param name="batch">Windows.</param>
    /// <param name="grads">Receives d loss / d parameter.</param>
    /// <param name="outputs">Optional forward outputs (null arrays are skipped).</param>
    /// <returns>The loss.</returns>
    double ComputeGradients(TrainingBatch batch, Gradients grads, ForwardOutputs? outputs = null);

    /// <summary>Mean NLL on every series of <paramref name="data"/>, each run from zero state over its whole length.</summary>
    /// <param name="data">Series.</param>
    /// <returns>Mean Gaussian NLL over all steps and horizons.</returns>
    double Evaluate(SeriesDataset data);

    /// <summary>Trains on <paramref name="train"/>, validating on <paramref name="validation"/> after each epoch.</summary>
    /// <param name="train">Training series.</param>
    /// <param name="validation">Validation series (null: none; then no early stopping by patience).</param>
    /// <returns>Per-epoch reports. With validation, <see cref="Model"/> ends with its best-validation parameters.</returns>
    TrainingReport Fit(SeriesDataset train, SeriesDataset? validation = null);

    /// <summary>Adam's moments and step count, to resume later with <see cref="LoadOptimizerState"/>.</summary>
    /// <returns>A copy of the state.</returns>
    AdamState SaveOptimizerState();

    /// <summary>Continues from a saved optimizer state (of any implementation, same sizes).</summary>
    /// <param name="state">State.</param>
    void LoadOptimizerState(AdamState state);

    /// <summary>Writes the current parameters into <see cref="Model"/> (a no-op where they already live there).</summary>
    void SyncModel();
}
