using System.Runtime.Intrinsics;

namespace StreamLstm.Model.Inference;

/// <summary>Which step kernel a stepper runs.</summary>
public enum StepKernelKind
{
    /// <summary>Chosen at run time: the widest vector the hardware accelerates, else scalar.</summary>
    Auto = 0,

    /// <summary>Portable scalar code: the generic kernel at one float per register, with <c>ScalarCell</c>'s arithmetic.</summary>
    Scalar = 1,

    /// <summary>Vector256 (AVX2 / 256-bit) kernel.</summary>
    Vector256 = 2,

    /// <summary>Vector512 (AVX-512) kernel.</summary>
    Vector512 = 3,

    /// <summary>Vector128 (SSE/AVX, Arm64 AdvSimd) kernel.</summary>
    Vector128 = 4,
}

/// <summary>Run-time kernel selection.</summary>
public static class StepKernels
{
    /// <summary>The kernel <see cref="StepKernelKind.Auto"/> resolves to on this machine and process.</summary>
    public static StepKernelKind Best =>
        System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? StepKernelKind.Vector512
        : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? StepKernelKind.Vector256
        : System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated ? StepKernelKind.Vector128
        : StepKernelKind.Scalar;

    /// <summary>Whether <paramref name="kind"/> can run here (accelerated, not emulated).</summary>
    /// <param name="kind">Kernel.</param>
    /// <returns>True when supported.</returns>
    public static bool IsSupported(StepKernelKind kind) => kind switch
    {
        StepKernelKind.Auto or StepKernelKind.Scalar => true,
        StepKernelKind.Vector256 => System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated,
        StepKernelKind.Vector512 => System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated,
        StepKernelKind.Vector128 => System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated,
        _ => false,
    };
}
