using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace StreamLstm.Model.Training.Gpu;

/// <summary>Which ILGPU accelerator the GPU trainer runs on.</summary>
public enum GpuTarget
{
    /// <summary>CUDA when a device is present, else the CPU accelerator.</summary>
    Best,

    /// <summary>The first CUDA device (fails when there is none).</summary>
    Cuda,

    /// <summary>ILGPU's CPU accelerator: the same kernels, run by CPU threads (tests, machines without a GPU).</summary>
    CpuAccelerator,
}

/// <summary>Finds and opens ILGPU accelerators.</summary>
public static class GpuAccelerators
{
    private static readonly Lazy<string?> CudaName = new(ProbeCuda);

    /// <summary>Whether a CUDA device can be used here.</summary>
    public static bool CudaAvailable => CudaName.Value is not null;

    /// <summary>The first CUDA device's name (null: none).</summary>
    public static string? CudaDeviceName => CudaName.Value;

    /// <summary>Opens an accelerator.</summary>
    /// <param name="target">Which one.</param>
    /// <returns>The context (owner) and the accelerator; dispose the accelerator, then the context.</returns>
    /// <exception cref="InvalidOperationException"><see cref="GpuTarget.Cuda"/> without a CUDA device.</exception>
    internal static (Context Context, Accelerator Accelerator) Open(GpuTarget target)
    {
        var cuda = target == GpuTarget.Cuda || (target == GpuTarget.Best && CudaAvailable);
        if (cuda)
        {
            if (!CudaAvailable) throw new InvalidOperationException("No CUDA device is available.");
            var context = Context.Create(b => b.Cuda().EnableAlgorithms());
            return (context, context.GetCudaDevice(0).CreateAccelerator(context));
        }

        // The default CPU device simulates one multiprocessor of 4 warps × 4 threads: groups of up to 16 threads.
        var cpu = Context.Create(b => b.CPU(CPUDeviceKind.Default).EnableAlgorithms());
        return (cpu, cpu.CreateCPUAccelerator(0));
    }

    private static string? ProbeCuda()
    {
        try
        {
            using var context = Context.Create(b => b.Cuda());
            var devices = context.GetCudaDevices();
            return devices.Count > 0 ? devices[0].Name : null;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException or NotSupportedException or CudaException)
        {
            return null;
        }
    }
}
