using StreamLstm.Model.Lstm;
using StreamLstm.Model.Training.Gpu;

namespace StreamLstm.Model.Training;

/// <summary>Creates the trainer that <see cref="TrainingOptions.Device"/> asks for.</summary>
public static class TrainerFactory
{
    /// <summary>
    /// <c>cpu</c>: <see cref="LstmTrainer"/>; <c>gpu</c>: <see cref="GpuLstmTrainer"/> on CUDA, or on ILGPU's CPU accelerator
    /// when no CUDA device exists; <c>auto</c>: <see cref="GpuLstmTrainer"/> when a CUDA device exists, else <see cref="LstmTrainer"/>.
    /// </summary>
    /// <param name="model">Model to train.</param>
    /// <param name="options">Settings.</param>
    /// <returns>The trainer (dispose it).</returns>
    public static ILstmTrainer Create(LstmModel model, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Resolve(options.Device) switch
        {
            TrainingDevice.Gpu => new GpuLstmTrainer(model, options, GpuTarget.Best),
            _ => new LstmTrainer(model, options),
        };
    }

    /// <summary>The device <paramref name="device"/> resolves to here (<c>auto</c> becomes <c>gpu</c> or <c>cpu</c>).</summary>
    /// <param name="device">Requested device.</param>
    /// <returns><see cref="TrainingDevice.Cpu"/> or <see cref="TrainingDevice.Gpu"/>.</returns>
    public static TrainingDevice Resolve(TrainingDevice device) => device switch
    {
        TrainingDevice.Auto => GpuAccelerators.CudaAvailable ? TrainingDevice.Gpu : TrainingDevice.Cpu,
        _ => device,
    };
}
