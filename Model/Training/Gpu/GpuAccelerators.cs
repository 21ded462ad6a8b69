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

        // Groups of 2 threads on 2 worker threads: ILGPU's CPU runtime hands every launch to all its threads and meets at
        // barriers, so more threads than cores (16 for CPUDevice.Default) made the same tests ~20× slower on 2 busy cores.
        return OpenCpu(new CPUDevice(numThreadsPerWarp: 2, numWarpsPerMultiprocessor: 1, numMultiprocessors: 1));
    }

    /// <summary>Opens ILGPU's CPU accelerator simulating <paramref name="device"/> (tests use larger groups to exercise tiling).</summary>
    internal static (Context Context, Accelerator Accelerator) OpenCpu(CPUDevice device)
    {
        var cpu = Context.Create(b => b.CPU(device).EnableAlgorithms());
        return (cpu, cpu.CreateCPUAccelerator(0, CPUAcceleratorMode.Parallel));
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
