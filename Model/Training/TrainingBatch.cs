using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Training;

/// <summary>
/// One mini-batch of windows, the input every <see cref="ILstmTrainer"/> takes: inputs and targets, the windows' initial
/// (h, c) (optionally advanced by a no-gradient warm-up run), per-element masks and per-window weights.
/// The loss is <c>Σ wᵦ·mᵦₜₖ·nll(y, μ, log σ) / Σ wᵦ·mᵦₜₖ</c> (the plain mean over B·T·K when both are absent).
/// </summary>
public sealed class TrainingBatch
{
    /// <summary>Creates a batch around caller-owned arrays.</summary>
    /// <param name="batch">B.</param>
    /// <param name="steps">T.</param>
    /// <param name="x">Inputs <c>[B, T, I]</c>.</param>
    /// <param name="y">Targets <c>[B, T, K]</c>.</param>
    public TrainingBatch(int batch, int steps, float[] x, float[] y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (batch < 1 || steps < 1) throw new ArgumentException("Batch and steps must be >= 1.");
        Batch = batch;
        Steps = steps;
        X = x;
        Y = y;
    }

    /// <summary>B.</summary>
    public int Batch { get; }

    /// <summary>T (steps that gradients flow through).</summary>
    public int Steps { get; }

    /// <summary>Inputs <c>[B, T, I]</c>.</summary>
    public float[] X { get; }

    /// <summary>Targets <c>[B, T, K]</c>.</summary>
    public float[] Y { get; }

    /// <summary>Initial hidden states <c>[L, B, H]</c> (null: zeros).</summary>
    public float[]? H0 { get; init; }

    /// <summary>Initial cell states <c>[L, B, H]</c> (null: zeros).</summary>
    public float[]? C0 { get; init; }

    /// <summary>Steps of <see cref="WarmupX"/> run forward, without gradients, from (H0, C0) before the window (0: none).</summary>
    public int WarmupSteps { get; init; }

    /// <summary>Warm-up inputs <c>[B, W, I]</c> (used when <see cref="WarmupSteps"/> &gt; 0).</summary>
    public float[]? WarmupX { get; init; }

    /// <summary>Per-element loss mask <c>[B, T, K]</c>, ≥ 0 (null: all ones), e.g. 0 where a horizon's target does not exist.</summary>
    public float[]? Mask { get; init; }

    /// <summary>Per-window loss weights <c>[B]</c>, ≥ 0 (null: all ones).</summary>
    public float[]? Weights { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> when an array does not fit <paramref name="cfg"/>'s sizes.</summary>
    /// <param name="cfg">Model sizes.</param>
    public void Validate(LstmConfig cfg)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        int b = Batch, t = Steps, state = cfg.Layers * b * cfg.HiddenSize;
        if (X.Length != b * t * cfg.InputSize) throw new ArgumentException($"x has {X.Length} values; [B, T, I] needs {b * t * cfg.InputSize}.");
        if (Y.Length != b * t * cfg.Horizons) throw new ArgumentException($"y has {Y.Length} values; [B, T, K] needs {b * t * cfg.Horizons}.");
        if (H0 is { Length: > 0 } && H0.Length != state) throw new ArgumentException("h0 must be [L, B, H].");
        if (C0 is { Length: > 0 } && C0.Length != state) throw new ArgumentException("c0 must be [L, B, H].");
        if (WarmupSteps < 0) throw new ArgumentException("WarmupSteps must be >= 0.");
        if (WarmupSteps > 0 && WarmupX?.Length != b * WarmupSteps * cfg.InputSize) throw new ArgumentException("WarmupX must be [B, W, I].");
        if (Mask is not null && Mask.Length != Y.Length) throw new ArgumentException("mask must be [B, T, K].");
        if (Weights is not null && Weights.Length != b) throw new ArgumentException("weights must be [B].");
    }

    /// <summary>The loss denominator <c>Σ wᵦ·mᵦₜₖ</c> (B·T·K without mask and weights).</summary>
    /// <param name="horizons">K.</param>
    /// <returns>The sum, in float64.</returns>
    public double LossDenominator(int horizons)
    {
        if (Mask is null && Weights is null) return (double)Batch * Steps * horizons;
        var per = Steps * horizons;
        var sum = 0.0;
        for (var b = 0; b < Batch; b++)
        {
            var w = Weights?[b] ?? 1f;
            if (Mask is null)
            {
                sum += (double)w * per;
                continue;
            }

            for (var i = 0; i < per; i++) sum += (double)w * Mask[b * per + i];
        }

        return sum;
    }

    /// <summary>The factor <c>wᵦ·mᵦₜₖ</c> of element (b, t, k) at flat index <paramref name="i"/> of <c>[B, T, K]</c>.</summary>
    /// <param name="i">Flat index.</param>
    /// <param name="perRow">T·K.</param>
    /// <returns>The factor.</returns>
    internal float Factor(int i, int perRow) => (Weights?[i / perRow] ?? 1f) * (Mask?[i] ?? 1f);
}

/// <summary>Adam's resumable state, in <see cref="LstmModel.Parameters"/> order.</summary>
/// <param name="Step">Steps taken.</param>
/// <param name="M">First moments per parameter.</param>
/// <param name="V">Second moments per parameter.</param>
public sealed record AdamState(int Step, double[][] M, double[][] V);

/// <summary>What one optimizer step did.</summary>
/// <param name="Loss">Loss before the update.</param>
/// <param name="GradNorm">Gradient norm before clipping.</param>
/// <param name="LearningRate">Learning rate used.</param>
public readonly record struct StepResult(double Loss, double GradNorm, double LearningRate);
