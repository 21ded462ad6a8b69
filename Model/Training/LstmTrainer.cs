using System.Diagnostics;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Training;

/// <summary>
/// CPU training: mini-batches of windows sampled from a <see cref="SeriesDataset"/>, truncated BPTT (optionally after a
/// no-gradient warm-up), Gaussian NLL, gradient-norm clipping, Adam, per-epoch validation with early stopping.
/// Deterministic for a seed whatever <see cref="TrainingOptions.Threads"/> is.
/// </summary>
public sealed class LstmTrainer
{
    private readonly LstmModel _model;
    private readonly TrainingOptions _options;
    private readonly Backprop _backprop;
    private readonly Gradients _grads;
    private readonly AdamOptimizer _adam;

    /// <summary>Creates a trainer that updates <paramref name="model"/> in place.</summary>
    /// <param name="model">Model to train.</param>
    /// <param name="options">Settings (validated here).</param>
    public LstmTrainer(LstmModel model, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _model = model;
        _options = options;
        _backprop = new Backprop(model.Config, options.Threads);
        _grads = new Gradients(model.Config);
        _adam = new AdamOptimizer(model, options.LearningRate, options.Beta1, options.Beta2, options.Epsilon);
    }

    /// <summary>The last computed gradients.</summary>
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
        var r = _backprop.Run(_model, x, y, batch, steps, h0, c0, _grads);
        var norm = _grads.ClipNorm(_options.ClipNorm);
        _adam.Step(_grads);
        return (r.Loss, norm);
    }

    /// <summary>Trains on <paramref name="train"/>, validating on <paramref name="validation"/> after each epoch.</summary>
    /// <param name="train">Training series.</param>
    /// <param name="validation">Validation series (null: none; then no early stopping by patience).</param>
    /// <returns>Per-epoch reports. With validation, the model ends with its best-validation parameters.</returns>
    public TrainingReport Fit(SeriesDataset train, SeriesDataset? validation = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        var cfg = _model.Config;
        if (train.InputSize != cfg.InputSize || train.Horizons != cfg.Horizons) throw new ArgumentException("Dataset sizes do not match the model.");
        var o = _options;
        int t = o.WindowLength, w = o.WarmupSteps, b = o.BatchSize;
        var windows = train.Windows(w + t, 1);
        if (windows.Count == 0) throw new ArgumentException($"No series is long enough for a window of {w + t} steps.");
        var rng = new Random(o.Seed);
        var x = new float[b * t * cfg.InputSize];
        var y = new float[b * t * cfg.Horizons];
        var h0 = w > 0 ? new float[cfg.Layers * b * cfg.HiddenSize] : null;
        var c0 = w > 0 ? new float[cfg.Layers * b * cfg.HiddenSize] : null;
        var reports = new List<EpochReport>();
        var best = double.PositiveInfinity;
        var bestEpoch = 0;
        float[][]? bestParams = null;
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
                    if (w > 0) Warm(train, series, start, w, row, b, h0!, c0!);
                }

                var (loss, norm) = TrainBatch(x, y, b, t, h0, c0);
                lossSum += loss;
                normSum += norm;
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
                    bestParams = _model.Parameters().Select(p => (float[])p.Values.Clone()).ToArray();
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

        if (bestParams is not null)
        {
            var ps = _model.Parameters();
            for (var i = 0; i < ps.Count; i++) bestParams[i].CopyTo(ps[i].Values, 0);
        }

        return new TrainingReport(reports, bestEpoch, stoppedEarly);
    }

    /// <summary>Mean NLL of the model on every series of <paramref name="data"/>, run from zero state over the whole series.</summary>
    /// <param name="data">Series.</param>
    /// <returns>Mean Gaussian NLL over all steps and horizons.</returns>
    public double Evaluate(SeriesDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var cfg = _model.Config;
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
            SequenceForward.Run(_model, data.Series[s].Inputs, 1, len, h, c, [], mu, ls);
            sum += GaussianNll.Mean(data.Series[s].Targets, mu, ls) * mu.Length;
            n += mu.Length;
        }

        return n == 0 ? double.NaN : sum / n;
    }

    private void Warm(SeriesDataset data, int series, int start, int steps, int row, int batch, float[] h0, float[] c0)
    {
        var cfg = _model.Config;
        int hid = cfg.HiddenSize, k = cfg.Horizons;
        var h = new float[cfg.Layers * hid];
        var c = new float[cfg.Layers * hid];
        var x = data.Series[series].Inputs.AsSpan(start * cfg.InputSize, steps * cfg.InputSize);
        var mu = new float[steps * k];
        var ls = new float[steps * k];
        SequenceForward.Run(_model, x, 1, steps, h, c, [], mu, ls);
        for (var l = 0; l < cfg.Layers; l++)
        {
            h.AsSpan(l * hid, hid).CopyTo(h0.AsSpan((l * batch + row) * hid, hid));
            c.AsSpan(l * hid, hid).CopyTo(c0.AsSpan((l * batch + row) * hid, hid));
        }
    }
}
