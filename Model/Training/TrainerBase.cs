using System.Diagnostics;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Training;

/// <summary>
/// What every trainer shares: the learning-rate schedule and dropout masks per step, and the <see cref="Fit"/> loop
/// (seeded window sampling, warm-up, masks and weights, epochs, validation, early stopping, best parameters).
/// Implementations supply the numerical work.
/// </summary>
public abstract class TrainerBase : ILstmTrainer
{
    /// <summary>Creates the shared part.</summary>
    /// <param name="model">Model to train.</param>
    /// <param name="options">Settings (validated here).</param>
    protected TrainerBase(LstmModel model, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Model = model;
        Options = options;
    }

    /// <inheritdoc/>
    public abstract string Device { get; }

    /// <inheritdoc/>
    public LstmModel Model { get; }

    /// <inheritdoc/>
    public TrainingOptions Options { get; }

    /// <inheritdoc/>
    public abstract int StepCount { get; }

    /// <inheritdoc/>
    public StepResult TrainBatch(TrainingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.Validate(Model.Config);
        var lr = LearningRateSchedule.At(Options, StepCount);
        var dropout = Model.Config.Layers > 1 && Options.Dropout > 0 ? new DropoutMask((float)Options.Dropout, Options.Seed, StepCount) : DropoutMask.None;
        var (loss, norm) = Step(batch, lr, dropout);
        return new StepResult(loss, norm, lr);
    }

    /// <inheritdoc/>
    public abstract double ComputeGradients(TrainingBatch batch, Gradients grads, ForwardOutputs? outputs = null);

    /// <inheritdoc/>
    public abstract double Evaluate(SeriesDataset data);

    /// <inheritdoc/>
    public abstract AdamState SaveOptimizerState();

    /// <inheritdoc/>
    public abstract void LoadOptimizerState(AdamState state);

    /// <inheritdoc/>
    public abstract void SyncModel();

    /// <summary>Forward, backward, clipping and one Adam update.</summary>
    /// <param name="batch">Validated windows.</param>
    /// <param name="learningRate">Rate for this step.</param>
    /// <param name="dropout">Masks for this step.</param>
    /// <returns>Loss and gradient norm before clipping.</returns>
    protected abstract (double Loss, double GradNorm) Step(TrainingBatch batch, double learningRate, DropoutMask dropout);

    /// <summary>A copy of the current parameters (kept where they live).</summary>
    /// <returns>An opaque snapshot.</returns>
    protected abstract object SnapshotParameters();

    /// <summary>Puts a snapshot back.</summary>
    /// <param name="snapshot">From <see cref="SnapshotParameters"/>.</param>
    protected abstract void RestoreParameters(object snapshot);

    /// <inheritdoc/>
    public TrainingReport Fit(SeriesDataset train, SeriesDataset? validation = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        var cfg = Model.Config;
        if (train.InputSize != cfg.InputSize || train.Horizons != cfg.Horizons) throw new ArgumentException("Dataset sizes do not match the model.");
        var o = Options;
        int t = o.WindowLength, w = o.WarmupSteps, b = o.BatchSize, inp = cfg.InputSize;
        var windows = train.Windows(w + t, 1);
        if (windows.Count == 0) throw new ArgumentException($"No series is long enough for a window of {w + t} steps.");
        var rng = new Random(o.Seed);
        var x = new float[b * t * inp];
        var y = new float[b * t * cfg.Horizons];
        var warmX = w > 0 ? new float[b * w * inp] : null;
        var mask = train.Series.Any(s => s.Mask is not null) ? new float[y.Length] : null;
        var weights = train.Series.Any(s => s.Weight != 1f) ? new float[b] : null;
        var batch = new TrainingBatch(b, t, x, y) { WarmupSteps = w, WarmupX = warmX, Mask = mask, Weights = weights };
        var reports = new List<EpochReport>();
        var best = double.PositiveInfinity;
        var bestEpoch = 0;
        object? bestParams = null;
        var stale = 0;
        var stoppedEarly = false;
        for (var epoch = 1; epoch <= o.Epochs; epoch++)
        {
            var sw = Stopwatch.StartNew();
            double lossSum = 0, normSum = 0;
            for (var batchNo = 0; batchNo < o.BatchesPerEpoch; batchNo++)
            {
                for (var row = 0; row < b; row++)
                {
                    var (series, start) = windows[rng.Next(windows.Count)];
                    train.Copy(series, start + w, t, row, x, y);
                    if (warmX is not null) train.Series[series].Inputs.AsSpan(start * inp, w * inp).CopyTo(warmX.AsSpan(row * w * inp));
                    if (mask is not null) train.CopyMask(series, start + w, t, row, mask);
                    if (weights is not null) weights[row] = train.Series[series].Weight;
                }

                var r = TrainBatch(batch);
                lossSum += r.Loss;
                normSum += r.GradNorm;
            }

            sw.Stop();
            var val = validation is null ? double.NaN : Evaluate(validation);
            var report = new EpochReport(epoch, lossSum / o.BatchesPerEpoch, val, normSum / o.BatchesPerEpoch, (long)o.BatchesPerEpoch * b * t, sw.Elapsed);
            reports.Add(report);
            if (validation is not null)
            {
                if (val < best)
                {
                    best = val;
                    bestEpoch = epoch;
                    bestParams = SnapshotParameters();
                    stale = 0;
                }
                else if (o.Patience > 0 && ++stale >= o.Patience)
                {
                    stoppedEarly = true;
                }
            }
            else
            {
                bestEpoch = epoch;
            }

            if (o.OnEpoch is not null && !o.OnEpoch(report)) stoppedEarly = true;
            if (stoppedEarly) break;
        }

        if (bestParams is not null) RestoreParameters(bestParams);
        SyncModel();
        return new TrainingReport(reports, bestEpoch, stoppedEarly);
    }

    /// <summary>The initial (h, c) <c>[L, B, H]</c> of a batch's windows on the CPU: its H0/C0 (zeros when absent), advanced by its warm-up inputs.</summary>
    /// <param name="model">Parameters to run the warm-up with.</param>
    /// <param name="batch">Windows.</param>
    /// <returns>States (null when the batch has neither initial states nor warm-up, meaning zeros).</returns>
    protected static (float[]? H0, float[]? C0) InitialStates(LstmModel model, TrainingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.WarmupSteps == 0) return (batch.H0, batch.C0);
        var cfg = model.Config;
        int hid = cfg.HiddenSize, k = cfg.Horizons, b = batch.Batch, w = batch.WarmupSteps, inp = cfg.InputSize;
        var h0 = new float[cfg.Layers * b * hid];
        var c0 = new float[cfg.Layers * b * hid];
        var h = new float[cfg.Layers * hid];
        var c = new float[cfg.Layers * hid];
        var mu = new float[w * k];
        var ls = new float[w * k];
        for (var row = 0; row < b; row++)
        {
            // One row at a time from its own (h0, c0), exactly as the serving path would have warmed that key.
            for (var l = 0; l < cfg.Layers; l++)
            {
                if (batch.H0 is { Length: > 0 }) batch.H0.AsSpan((l * b + row) * hid, hid).CopyTo(h.AsSpan(l * hid));
                else h.AsSpan(l * hid, hid).Clear();
                if (batch.C0 is { Length: > 0 }) batch.C0.AsSpan((l * b + row) * hid, hid).CopyTo(c.AsSpan(l * hid));
                else c.AsSpan(l * hid, hid).Clear();
            }

            SequenceForward.Run(model, batch.WarmupX.AsSpan(row * w * inp, w * inp), 1, w, h, c, [], mu, ls);
            for (var l = 0; l < cfg.Layers; l++)
            {
                h.AsSpan(l * hid, hid).CopyTo(h0.AsSpan((l * b + row) * hid, hid));
                c.AsSpan(l * hid, hid).CopyTo(c0.AsSpan((l * b + row) * hid, hid));
            }
        }

        return (h0, c0);
    }

    /// <summary>Releases device resources (nothing on the CPU).</summary>
    /// <param name="disposing">From <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }
}
