using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;
using StreamLstm.Model.Training;
using StreamLstm.Model.Weights;

namespace StreamLstm.Model.Verification;

/// <summary>One compared tensor.</summary>
/// <param name="Name">Reference tensor name (<c>output.mu</c>, <c>grad.weight_hh_l0</c>, …; <c>step:</c> prefix for the incremental step kernel).</param>
/// <param name="Kind"><c>forward</c> or <c>gradient</c>.</param>
/// <param name="MaxAbsError">Largest absolute difference.</param>
/// <param name="MaxRelError">Largest absolute difference over the largest reference magnitude (inf-norm relative error).</param>
/// <param name="Tolerance">The bound applied: absolute for forward tensors, relative for gradients.</param>
/// <param name="Passed">Whether the error is within tolerance.</param>
public sealed record TensorCheck(string Name, string Kind, double MaxAbsError, double MaxRelError, double Tolerance, bool Passed);

/// <summary>The result of checking one reference file.</summary>
/// <param name="Config">Sizes read from the file.</param>
/// <param name="Batch">B.</param>
/// <param name="Steps">T.</param>
/// <param name="Kernel">Step kernel used for the incremental check.</param>
/// <param name="Checks">Per-tensor results.</param>
public sealed record ReferenceReport(LstmConfig Config, int Batch, int Steps, string Kernel, IReadOnlyList<TensorCheck> Checks)
{
    /// <summary>Whether every check passed.</summary>
    public bool Passed => Checks.All(c => c.Passed);
}

/// <summary>
/// Checks the engine against a PyTorch reference file in the layout of <c>../shared/fixtures/torch-reference</c>
/// (<c>param.*</c>, <c>input.x/h0/c0/y</c>, <c>output.*</c>, <c>grad.*</c>; any I, H, L, B, T, K). Runs the sequence forward,
/// the incremental step kernel through a state slab, and the backward pass; compares every reference tensor present.
/// </summary>
public static class ReferenceCheck
{
    /// <summary>Runs the check.</summary>
    /// <param name="content">Parsed reference file.</param>
    /// <param name="forwardTolerance">Absolute bound for forward outputs and the loss.</param>
    /// <param name="gradientTolerance">Relative (inf-norm) bound for gradients.</param>
    /// <param name="threads">Threads for the backward pass.</param>
    /// <returns>The report.</returns>
    /// <exception cref="SafetensorsException">A tensor is missing or misshapen (named in the message).</exception>
    public static ReferenceReport Run(SafetensorsContent content, double forwardTolerance = 1e-5, double gradientTolerance = 1e-4, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(content);
        var model = ModelFile.FromContent(content, "param.");
        var cfg = model.Config;
        int hid = cfg.HiddenSize, k = cfg.Horizons, layers = cfg.Layers;
        var xT = Require(content, "input.x");
        if (xT.Shape.Length != 3 || xT.Shape[2] != cfg.InputSize)
        {
            throw new SafetensorsException(xT.Name, $"Tensor 'input.x' has shape [{string.Join(", ", xT.Shape)}]; expected [B, T, {cfg.InputSize}].");
        }

        int b = xT.Shape[0], t = xT.Shape[1];
        var x = xT.ToSingle();
        var h0 = Optional(content, "input.h0", [layers, b, hid]) ?? new float[layers * b * hid];
        var c0 = Optional(content, "input.c0", [layers, b, hid]) ?? new float[layers * b * hid];
        var y = Optional(content, "input.y", [b, t, k]);
        var checks = new List<TensorCheck>();

        // Sequence forward (the engine's [B, T, I] path).
        var h = (float[])h0.Clone();
        var c = (float[])c0.Clone();
        var seq = new float[b * t * hid];
        var mu = new float[b * t * k];
        var ls = new float[b * t * k];
        SequenceForward.Run(model, x, b, t, h, c, seq, mu, ls);
        Compare(checks, content, "output.seq", seq, forwardTolerance, false);
        Compare(checks, content, "output.hn", h, forwardTolerance, false);
        Compare(checks, content, "output.cn", c, forwardTolerance, false);
        Compare(checks, content, "output.mu", mu, forwardTolerance, false);
        Compare(checks, content, "output.log_sigma", ls, forwardTolerance, false);

        // Incremental: the hot step kernel through a slab, one event at a time.
        using var stepper = new LstmStepper(model, b);
        var (smu, sls, sh, sc) = RunSteps(stepper, x, h0, c0, b, t);
        Compare(checks, content, "output.mu", smu, forwardTolerance, false, "step:");
        Compare(checks, content, "output.log_sigma", sls, forwardTolerance, false, "step:");
        Compare(checks, content, "output.hn", sh, forwardTolerance, false, "step:");
        Compare(checks, content, "output.cn", sc, forwardTolerance, false, "step:");

        if (y is not null)
        {
            var grads = new Gradients(cfg);
            var r = new Backprop(cfg, threads).Run(model, x, y, b, t, h0, c0, grads);
            Compare(checks, content, "output.loss", [(float)r.Loss], forwardTolerance, false, exact: r.Loss);
            for (var p = 0; p < grads.Names.Count; p++)
            {
                var name = "grad." + grads.Names[p];
                if (!content.Tensors.TryGetValue(name, out var gT)) continue;
                if (gT.Values.Length != grads.Values[p].Length)
                {
                    throw new SafetensorsException(name, $"Tensor '{name}' has {gT.Values.Length} values; the parameter has {grads.Values[p].Length}.");
                }

                checks.Add(Measure(name, "gradient", grads.Values[p], gT.Values, gradientTolerance, true));
            }
        }

        return new ReferenceReport(cfg, b, t, stepper.Kernel.ToString(), checks);
    }

    private static (float[] Mu, float[] Ls, float[] H, float[] C) RunSteps(LstmStepper stepper, float[] x, float[] h0, float[] c0, int b, int t)
    {
        var cfg = stepper.Config;
        int hid = cfg.HiddenSize, k = cfg.Horizons, inp = cfg.InputSize, layers = cfg.Layers;
        var slab = new StateSlab(cfg, b);
        var slots = new int[b];
        for (var i = 0; i < b; i++)
        {
            slots[i] = slab.Allocate();
            for (var l = 0; l < layers; l++)
            {
                h0.AsSpan((l * b + i) * hid, hid).CopyTo(slab.H(slots[i], l));
                c0.AsSpan((l * b + i) * hid, hid).CopyTo(slab.C(slots[i], l));
            }
        }

        var xt = new float[b * inp];
        var mu = new float[b * k];
        var ls = new float[b * k];
        var allMu = new float[b * t * k];
        var allLs = new float[b * t * k];
        for (var s = 0; s < t; s++)
        {
            for (var i = 0; i < b; i++) x.AsSpan((i * t + s) * inp, inp).CopyTo(xt.AsSpan(i * inp));
            stepper.Step(slab, slots, xt, mu, ls);
            for (var i = 0; i < b; i++)
            {
                mu.AsSpan(i * k, k).CopyTo(allMu.AsSpan((i * t + s) * k));
                ls.AsSpan(i * k, k).CopyTo(allLs.AsSpan((i * t + s) * k));
            }
        }

        var hn = new float[layers * b * hid];
        var cn = new float[layers * b * hid];
        for (var i = 0; i < b; i++)
        {
            for (var l = 0; l < layers; l++)
            {
                slab.H(slots[i], l).CopyTo(hn.AsSpan((l * b + i) * hid));
                slab.C(slots[i], l).CopyTo(cn.AsSpan((l * b + i) * hid));
            }
        }

        return (allMu, allLs, hn, cn);
    }

    private static SafeTensor Require(SafetensorsContent content, string name) =>
        content.Tensors.TryGetValue(name, out var v) ? v : throw new SafetensorsException(name, $"Missing tensor '{name}'.");

    private static float[]? Optional(SafetensorsContent content, string name, int[] shape)
    {
        if (!content.Tensors.TryGetValue(name, out var v)) return null;
        if (!v.Shape.SequenceEqual(shape))
        {
            throw new SafetensorsException(name, $"Tensor '{name}' has shape [{string.Join(", ", v.Shape)}]; expected [{string.Join(", ", shape)}].");
        }

        return v.ToSingle();
    }

    private static void Compare(List<TensorCheck> checks, SafetensorsContent content, string name, float[] actual, double tol, bool relative,
        string prefix = "", double? exact = null)
    {
        if (!content.Tensors.TryGetValue(name, out var e)) return;
        if (e.Values.Length != actual.Length)
        {
            throw new SafetensorsException(name, $"Tensor '{name}' has {e.Values.Length} values; the engine produced {actual.Length}.");
        }

        var a = exact is { } d ? [d] : actual.Select(v => (double)v).ToArray();
        checks.Add(Measure(prefix + name, "forward", a, e.Values, tol, relative));
    }

    private static TensorCheck Measure(string name, string kind, double[] actual, double[] expected, double tol, bool relative)
    {
        double maxAbs = 0, scale = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            var diff = Math.Abs(actual[i] - expected[i]);
            if (!(diff <= maxAbs)) maxAbs = double.IsNaN(diff) ? double.PositiveInfinity : diff;
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }

        var rel = scale > 0 ? maxAbs / scale : maxAbs;
        var passed = relative ? rel <= tol : maxAbs <= tol;
        return new TensorCheck(name, kind, maxAbs, rel, tol, passed);
    }
}
