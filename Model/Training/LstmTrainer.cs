using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Training;

/// <summary>
/// The CPU trainer: <see cref="Backprop"/> (chunked BPTT, fixed-order float64 reduction), <see cref="Gradients.ClipNorm"/>
/// and <see cref="AdamOptimizer"/> on the model's own arrays, behind <see cref="ILstmTrainer"/>.
/// Deterministic for a seed whatever <see cref="TrainingOptions.Threads"/> is.
/// </summary>
public sealed class LstmTrainer : TrainerBase
{
    private readonly Backprop _backprop;
    private readonly Gradients _grads;
    private readonly AdamOptimizer _adam;

    /// <summary>Creates a trainer that updates <paramref name="model"/> in place.</summary>
    /// <param name="model">Model to train.</param>
    /// <param name="options">Settings (validated here).</param>
    public LstmTrainer(LstmModel model, TrainingOptions options)
        : base(model, options)
    {
        _backprop = new Backprop(model.Config, options.Threads, options.Scheduler);
        _grads = new Gradients(model.Config);
        _adam = new AdamOptimizer(model, options.LearningRate, options.Beta1, options.Beta2, options.Epsilon);
    }

    /// <inheritdoc/>
    public override string Device => "cpu";

    /// <inheritdoc/>
    public override int StepCount => _adam.StepCount;

    /// <summary>The last computed gradients (after clipping, for <see cref="ILstmTrainer.TrainBatch"/>).</summary>
    public Gradients Gradients => _grads;

    /// <summary>One optimizer step on a prepared batch.</summary>
    /// <param name="x">Inputs <c>[B, T, I]</c>.</param>
    /// <param name="y">Targets <c>[B, T, K]</c>.</param>
    /// <param name="batch">B.</param>
    /// <param name="steps">T.</param>
    /// <param name="h0">Initial hidden states <c>[L, B, H]</c> (null: zeros).</param>
    /// <param name="c0">Initial cell states <c>[L, B, H]</c> (null: zeros).</param>
    /// <returns>Loss before the update and gradient norm before clipping.</returns>
    public (double Loss, double GradNorm) TrainBatch(float[] x, float[] y, int batch, int steps, float[]? h0 = null, float[]? c0 = null)
    {
        var r = TrainBatch(new TrainingBatch(batch, steps, x, y) { H0 = h0, C0 = c0 });
        return (r.Loss, r.GradNorm);
    }

    /// <inheritdoc/>
    protected override (double Loss, double GradNorm) Step(TrainingBatch batch, double learningRate, DropoutMask dropout)
    {
        var (h0, c0) = InitialStates(Model, batch);
        var r = _backprop.Run(Model, batch.X, batch.Y, batch.Batch, batch.Steps, h0, c0, _grads, null, batch.Mask, batch.Weights, dropout);
        var norm = _grads.ClipNorm(Options.ClipNorm);
        _adam.LearningRate = learningRate;
        _adam.Step(_grads);
        return (r.Loss, norm);
    }

    /// <inheritdoc/>
    public override double ComputeGradients(TrainingBatch batch, Gradients grads, ForwardOutputs? outputs = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(grads);
        batch.Validate(Model.Config);
        var (h0, c0) = InitialStates(Model, batch);
        return _backprop.Run(Model, batch.X, batch.Y, batch.Batch, batch.Steps, h0, c0, grads, outputs, batch.Mask, batch.Weights).Loss;
    }

    /// <inheritdoc/>
    public override double Evaluate(SeriesDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var cfg = Model.Config;
        double sum = 0;
        long n = 0;
        for (var s = 0; s < data.Series.Count; s++)
        {
            var len = data.Length(s);
            if (len == 0) continue;
            var h = new float[cfg.Layers * cfg.HiddenSize];
            var c = new float[cfg.Layers * cfg.HiddenSize];
            var mu = new float[len * cfg.Horizons];
            var ls = new float[len * cfg.Horizons];
            SequenceForward.Run(Model, data.Series[s].Inputs, 1, len, h, c, [], mu, ls);
            sum += GaussianNll.Mean(data.Series[s].Targets, mu, ls) * mu.Length;
            n += mu.Length;
        }

        return n == 0 ? double.NaN : sum / n;
    }

    /// <inheritdoc/>
    public override AdamState SaveOptimizerState() => _adam.Export();

    /// <inheritdoc/>
    public override void LoadOptimizerState(AdamState state) => _adam.Import(state);

    /// <inheritdoc/>
    public override void SyncModel()
    {
        // The CPU trainer updates the model's arrays in place.
    }

    /// <inheritdoc/>
    protected override object SnapshotParameters() => Model.Parameters().Select(p => (float[])p.Values.Clone()).ToArray();

    /// <inheritdoc/>
    protected override void RestoreParameters(object snapshot)
    {
        var saved = (float[][])snapshot;
        var ps = Model.Parameters();
        for (var i = 0; i < ps.Count; i++) saved[i].CopyTo(ps[i].Values, 0);
    }
}
