namespace StreamLstm.Model.Training;

/// <summary>Learning rate per optimizer step: linear warm-up, then constant, cosine or step decay (shared by every trainer).</summary>
public static class LearningRateSchedule
{
    /// <summary>The rate for 0-based optimizer step <paramref name="step"/>.</summary>
    /// <param name="o">Options (base rate, warm-up, decay).</param>
    /// <param name="step">Steps already taken.</param>
    /// <returns>The learning rate.</returns>
    public static double At(TrainingOptions o, long step)
    {
        ArgumentNullException.ThrowIfNull(o);
        var lr = o.LearningRate;
        // A resumed fine-tune's schedule starts at its own first step.
        step = Math.Max(0, step - o.LrScheduleOffset);
        if (step < o.LrWarmupSteps) return lr * (step + 1) / o.LrWarmupSteps;
        var after = step - o.LrWarmupSteps;
        switch (o.LrDecay)
        {
            case LrDecay.Cosine:
                var total = (o.LrDecaySteps > 0 ? o.LrDecaySteps : (long)o.Epochs * o.BatchesPerEpoch) - o.LrWarmupSteps;
                var progress = total <= 0 ? 1.0 : Math.Min(1.0, (double)after / total);
                return o.MinLearningRate + (lr - o.MinLearningRate) * 0.5 * (1 + Math.Cos(Math.PI * progress));
            case LrDecay.Step:
                return lr * Math.Pow(o.LrStepGamma, after / o.LrStepEvery);
            default:
                return lr;
        }
    }
}
