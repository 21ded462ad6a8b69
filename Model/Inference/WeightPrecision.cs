namespace StreamLstm.Model.Inference;

/// <summary>How a stepper stores the LSTM gate weights it streams each step (biases, the head and all arithmetic stay float32).</summary>
public enum WeightPrecision
{
    /// <summary>float32 weights: the reference results (default).</summary>
    Float32 = 0,

    /// <summary>
    /// 16-bit weights (bfloat16 precision, 8 significant bits) with float32 accumulation in the same order: half the bytes
    /// per step, so the one-key path streams 37 KB instead of 74 KB at H = 64. Changes results (see docs/model.md), hence opt-in.
    /// </summary>
    BFloat16 = 1,
}
