using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;

namespace StreamLstm.Model.Tests.Inference;

/// <summary>
/// The vector kernels' output bits are pinned: for a fixed set of (sizes, batch, scattered slots) each width must
/// produce exactly the h, c, μ and log σ recorded in <see cref="KernelGolden"/> (SHA-256 per case) when the hand-written
/// StepKernel512/StepKernel256 were replaced by the generic kernel (Vector128, new then, recorded from its first version). A reordered FMA chain or a changed
/// exp/reciprocal changes a hash. Set STREAMLSTM_KERNEL_GOLDEN_OUT=file to write this process's hashes there
/// (all supported kernels, the scalar one included) to re-record after a deliberate numeric change.
/// </summary>
[Trait("Category", "Kernel")]
public class KernelGoldenTests
{
    /// <summary>(I, H, L, K): partial blocks at both widths, single and stacked layers, several heads.</summary>
    private static readonly (int I, int H, int L, int K)[] Configs =
    [
        (3, 1, 1, 1), (4, 5, 2, 3), (8, 8, 1, 2), (3, 16, 2, 2), (5, 17, 1, 2), (8, 24, 1, 1), (8, 33, 2, 3), (8, 64, 1, 2), (8, 64, 2, 1), (6, 128, 1, 2),
    ];

    /// <summary>Batch sizes around every tile boundary (4, 6, the 48-slot tile) and the one-slot pair path.</summary>
    private static readonly int[] Batches = [1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 47, 48, 49, 53, 100, 257];

    public static TheoryData<StepKernelKind> VectorKinds => new([StepKernelKind.Vector128, StepKernelKind.Vector256, StepKernelKind.Vector512]);

    [Theory]
    [MemberData(nameof(VectorKinds))]
    public void VectorKernel_OutputBits_MatchRecorded(StepKernelKind kind)
    {
        Assert.SkipUnless(StepKernels.IsSupported(kind), $"{kind} is not accelerated in this process");
        var fingerprint = Fingerprint(kind);
        var recorded = Recorded();
        var cases = Hashes(kind).ToList();
        var checkedCases = 0;
        foreach (var (name, hash) in cases)
        {
            if (!recorded.TryGetValue($"{fingerprint} {name}", out var expected)) continue;
            Assert.True(expected == hash, $"{fingerprint} {name}: output bits changed (hash {hash}, recorded {expected})");
            checkedCases++;
        }

        Assert.SkipWhen(checkedCases == 0, $"no recorded hashes for {fingerprint} on this machine");
        Assert.Equal(cases.Count, checkedCases);
    }

    /// <summary>Writes this process's hashes for every supported kernel when STREAMLSTM_KERNEL_GOLDEN_OUT is set.</summary>
    [Fact]
    public void Record_WhenRequested()
    {
        var path = Environment.GetEnvironmentVariable("STREAMLSTM_KERNEL_GOLDEN_OUT");
        Assert.SkipWhen(string.IsNullOrEmpty(path), "set STREAMLSTM_KERNEL_GOLDEN_OUT to record kernel hashes");
        var lines = new List<string>();
        foreach (var kind in new[] { StepKernelKind.Scalar, StepKernelKind.Vector128, StepKernelKind.Vector256, StepKernelKind.Vector512 })
        {
            if (!StepKernels.IsSupported(kind)) continue;
            var fingerprint = Fingerprint(kind);
            lines.AddRange(Hashes(kind).Select(c => $"{fingerprint} {c.Name} {c.Hash}"));
        }

        File.AppendAllLines(path!, lines);
        Assert.NotEmpty(lines);
    }

    /// <summary>
    /// Results depend on the width, the reciprocal (AVX-512 estimate + Newton step, or a division) and the architecture
    /// (the runtime's lane-sum order in the head may differ between x64 and Arm64).
    /// </summary>
    private static string Fingerprint(StepKernelKind kind)
    {
        var arch = RuntimeInformation.ProcessArchitecture;
        return kind switch
        {
            StepKernelKind.Scalar => $"Scalar/{RuntimeInformation.RuntimeIdentifier}", // MathF.Exp/Tanh come from the platform's libm
            StepKernelKind.Vector128 => Avx512F.VL.IsSupported ? $"Vector128/rcp14/{arch}" : $"Vector128/div/{arch}",
            StepKernelKind.Vector256 => Avx512F.VL.IsSupported ? $"Vector256/rcp14/{arch}" : $"Vector256/div/{arch}",
            _ => Avx512F.IsSupported ? $"Vector512/rcp14/{arch}" : $"Vector512/div/{arch}",
        };
    }

    private static Dictionary<string, string> Recorded()
    {
        var map = new Dictionary<string, string>();
        foreach (var line in KernelGolden.Lines)
        {
            var parts = line.Split(' ');
            map[$"{parts[0]} {parts[1]}"] = parts[2];
        }

        return map;
    }

    private static IEnumerable<(string Name, string Hash)> Hashes(StepKernelKind kind)
    {
        foreach (var (inp, hid, layers, k) in Configs)
        {
            var cfg = new LstmConfig(inp, hid, layers, k);
            var model = LstmModel.CreateRandom(cfg, 17 * hid + layers);
            using var stepper = new LstmStepper(model, Batches[^1], 1, kind);
            foreach (var b in Batches)
            {
                yield return ($"I{inp}H{hid}L{layers}K{k}B{b}", Run(stepper, cfg, b, new Random(hid * 1000 + b)));
            }
        }
    }

    /// <summary>Three steps over scattered slots; hashes every output and the final state of every chosen slot.</summary>
    private static string Run(LstmStepper stepper, LstmConfig cfg, int b, Random rng)
    {
        var slab = new StateSlab(cfg, 4);
        var all = Enumerable.Range(0, 2 * b + 3).Select(_ => slab.Allocate()).ToArray();
        var slots = all.OrderBy(_ => rng.Next()).Take(b).ToArray();
        foreach (var s in slots)
        {
            for (var l = 0; l < cfg.Layers; l++)
            {
                Fill(rng, slab.H(s, l), 0.9);
                Fill(rng, slab.C(s, l), 2);
            }
        }

        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var x = new float[b * cfg.InputSize];
        var mu = new float[b * cfg.Horizons];
        var ls = new float[b * cfg.Horizons];
        for (var step = 0; step < 3; step++)
        {
            Fill(rng, x, 3);
            stepper.Step(slab, slots, x, mu, ls);
            sha.AppendData(MemoryMarshal.AsBytes(mu.AsSpan()));
            sha.AppendData(MemoryMarshal.AsBytes(ls.AsSpan()));
        }

        foreach (var s in slots)
        {
            for (var l = 0; l < cfg.Layers; l++)
            {
                sha.AppendData(MemoryMarshal.AsBytes(slab.H(s, l)));
                sha.AppendData(MemoryMarshal.AsBytes(slab.C(s, l)));
            }
        }

        return Convert.ToHexString(sha.GetHashAndReset())[..24];
    }

    private static void Fill(Random rng, Span<float> dst, double scale)
    {
        for (var i = 0; i < dst.Length; i++) dst[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
    }
}
