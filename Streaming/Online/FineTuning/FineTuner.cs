using StreamLstm.Model.Lstm;
using StreamLstm.Model.Training;
using StreamLstm.Streaming.Online.Gate;
using StreamLstm.Streaming.Online.Replay;
using StreamLstm.Streaming.Online.Scheduling;

namespace StreamLstm.Streaming.Online.FineTuning;

/// <summary>What one fine-tune produced.</summary>
/// <param name="Candidate">The best candidate (held-out NLL), a copy; the serving model is untouched.</param>
/// <param name="Champion">The serving model's held-out score.</param>
/// <param name="Score">The candidate's held-out score.</param>
/// <param name="Adam">Optimizer state to resume next time.</param>
/// <param name="Steps">Optimizer steps taken.</param>
/// <param name="Epochs">Epochs run (fewer than configured when stopped early).</param>
/// <param name="Device">Where it ran.</param>
public sealed record FineTuneResult(LstmModel Candidate, ModelScore Champion, ModelScore Score, AdamState Adam, int Steps, int Epochs, string Device);

/// <summary>
/// Fine-tunes a copy of the serving model on replay windows through <see cref="ILstmTrainer"/> (CPU or GPU per
/// <see cref="OnlineOptions.Device"/>): each window starts from its key's stored (h, c); Adam's state is resumed from the
/// previous fine-tune; the learning rate warms up linearly then decays by cosine over this fine-tune's steps; dropout
/// between layers; windows are drawn by weight (recency × surprise); after each epoch the candidate is scored on the
/// held-out windows and training stops after <see cref="OnlineOptions.Patience"/> epochs without improvement, keeping the best.
/// A <see cref="CpuShareLimiter"/> pauses it between steps to hold the trainer's CPU share.
/// </summary>
public static class FineTuner
{
    /// <summary>Runs one fine-tune.</summary>
    /// <param name="serving">The serving model (copied, never changed).</param>
    /// <param name="sample">Windows from the replay buffer (needs training and held-out windows).</param>
    /// <param name="adam">Optimizer state of the previous fine-tune (null: fresh).</param>
    /// <param name="o">Settings.</param>
    /// <param name="seed">Seed for window draws and dropout.</param>
    /// <param name="ct">Stops between optimizer steps.</param>
    /// <param name="limiter">The CPU-share cap, consulted after every optimizer step and held-out scoring (null: no cap).</param>
    /// <param name="scheduler">Where a batch's parallel chunks run when <see cref="OnlineOptions.MaxCores"/> &gt; 1 (null: the thread pool).</param>
    /// <returns>The result.</returns>
    public static FineTuneResult Run(LstmModel serving, ReplaySample sample, AdamState? adam, OnlineOptions o, int seed, CancellationToken ct = default,
        CpuShareLimiter? limiter = null, TaskScheduler? scheduler = null)
    {
        ArgumentNullException.ThrowIfNull(serving);
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(o);
        if (sample.Train.Count == 0) throw new ArgumentException("The sample has no training windows.", nameof(sample));
        var candidate = ModelCopy.Clone(serving);
        var resumed = adam?.Step ?? 0;
        var total = o.Epochs * o.StepsPerEpoch;
        var options = new TrainingOptions
        {
            Device = o.Device, WindowLength = sample.Train.Steps, BatchSize = o.BatchSize, BatchesPerEpoch = o.StepsPerEpoch, Epochs = o.Epochs,
            LearningRate = o.LearningRate, MinLearningRate = o.LearningRate / 10, LrWarmupSteps = Math.Min(o.LrWarmupSteps, total),
            LrDecay = LrDecay.Cosine, LrDecaySteps = total, LrScheduleOffset = resumed, ClipNorm = 1.0,
            Dropout = serving.Config.Layers > 1 ? o.Dropout : 0, Threads = o.MaxCores, Scheduler = scheduler, Seed = seed,
        };
        using var trainer = TrainerFactory.Create(candidate, options);
        if (adam is not null) trainer.LoadOptimizerState(adam);
        var champion = HoldoutScorer.Score(serving, sample.Holdout);
        var best = champion;
        LstmModel? bestModel = null;
        var rng = new Random(seed);
        var cumulative = Cumulative(sample.Train.Weights.AsSpan(0, sample.Train.Count));
        var picks = new int[Math.Min(o.BatchSize, sample.Train.Count)];
        // One batch refilled every step: the trainer allocates nothing per step (its garbage would pause the serving threads too).
        var batch = sample.Train.NewBatch(picks.Length);
        int epochs = 0, sinceBest = 0, steps = 0;
        for (var epoch = 0; epoch < o.Epochs && !ct.IsCancellationRequested; epoch++)
        {
            for (var s = 0; s < o.StepsPerEpoch && !ct.IsCancellationRequested; s++)
            {
                for (var p = 0; p < picks.Length; p++) picks[p] = Draw(cumulative, rng);
                sample.Train.Fill(picks, batch);
                trainer.TrainBatch(batch);
                steps++;
                limiter?.Throttle(ct);
            }

            epochs++;
            trainer.SyncModel();
            var score = HoldoutScorer.Score(trainer.Model, sample.Holdout);
            limiter?.Throttle(ct);
            if (bestModel is null || score.Nll < best.Nll || sample.Holdout.Count == 0)
            {
                best = score;
                bestModel = ModelCopy.Clone(trainer.Model);
                sinceBest = 0;
            }
            else if (++sinceBest > o.Patience)
            {
                break;
            }
        }

        trainer.SyncModel();
        return new FineTuneResult(bestModel ?? ModelCopy.Clone(trainer.Model), champion, best, trainer.SaveOptimizerState(), steps, epochs, trainer.Device);
    }

    private static double[] Cumulative(ReadOnlySpan<float> weights)
    {
        var c = new double[weights.Length];
        double sum = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            sum += Math.Max(0, weights[i]);
            c[i] = sum;
        }

        return c;
    }

    // Weighted draw: the first window whose cumulative weight passes a uniform point.
    private static int Draw(double[] cumulative, Random rng)
    {
        var total = cumulative[^1];
        if (!(total > 0)) return rng.Next(cumulative.Length);
        var i = Array.BinarySearch(cumulative, rng.NextDouble() * total);
        return Math.Min(i < 0 ? ~i : i, cumulative.Length - 1);
    }
}
