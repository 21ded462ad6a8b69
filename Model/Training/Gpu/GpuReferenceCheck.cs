using StreamLstm.Model.Lstm;
using StreamLstm.Model.Verification;
using StreamLstm.Model.Weights;

namespace StreamLstm.Model.Training.Gpu;

/// <summary>
/// <see cref="ReferenceCheck"/> for the GPU trainer: its forward (sequence, final states, μ, log σ), loss and every
/// gradient against a PyTorch reference file (any I, H, L, B, T, K), with the same tolerances and report.
/// </summary>
public static class GpuReferenceCheck
{
    /// <summary>Runs the check on <paramref name="target"/>.</summary>
    /// <param name="content">Parsed reference file.</param>
    /// <param name="target">Accelerator.</param>
    /// <param name="forwardTolerance">Absolute bound for forward outputs and the loss.</param>
    /// <param name="gradientTolerance">Relative (inf-norm) bound for gradients.</param>
    /// <returns>The report; its <see cref="ReferenceReport.Kernel"/> names the device.</returns>
    /// <exception cref="SafetensorsException">A tensor is missing or misshapen (named in the message).</exception>
    public static ReferenceReport Run(SafetensorsContent content, GpuTarget target = GpuTarget.Best, double forwardTolerance = 1e-5, double gradientTolerance = 1e-4)
    {
        ArgumentNullException.ThrowIfNull(content);
        var model = ModelFile.FromContent(content, "param.");
        var cfg = model.Config;
        int hid = cfg.HiddenSize, k = cfg.Horizons, layers = cfg.Layers;
        if (!content.Tensors.TryGetValue("input.x", out var xT)) throw new SafetensorsException("input.x", "Missing tensor 'input.x'.");
        if (xT.Shape.Length != 3 || xT.Shape[2] != cfg.InputSize)
        {
            throw new SafetensorsException(xT.Name, $"Tensor 'input.x' has shape [{string.Join(", ", xT.Shape)}]; expected [B, T, {cfg.InputSize}].");
        }

        int b = xT.Shape[0], t = xT.Shape[1];
        var y = Optional(content, "input.y", [b, t, k]);
        var batch = new TrainingBatch(b, t, xT.ToSingle(), y ?? new float[b * t * k])
        {
            H0 = Optional(content, "input.h0", [layers, b, hid]),
            C0 = Optional(content, "input.c0", [layers, b, hid]),
        };
        var outs = new ForwardOutputs
        {
            Mu = new float[b * t * k], LogSigma = new float[b * t * k], Seq = new float[b * t * hid],
            Hn = new float[layers * b * hid], Cn = new float[layers * b * hid],
        };
        var grads = new Gradients(cfg);
        using var trainer = new GpuLstmTrainer(model, new TrainingOptions(), target);
        var loss = trainer.ComputeGradients(batch, grads, outs);
        var checks = new List<TensorCheck>();
        Compare(checks, content, "output.seq", outs.Seq, forwardTolerance);
        Compare(checks, content, "output.hn", outs.Hn, forwardTolerance);
        Compare(checks, content, "output.cn", outs.Cn, forwardTolerance);
        Compare(checks, content, "output.mu", outs.Mu, forwardTolerance);
        Compare(checks, content, "output.log_sigma", outs.LogSigma, forwardTolerance);
        if (y is not null)
        {
            if (content.Tensors.TryGetValue("output.loss", out var lossT)) checks.Add(Measure("output.loss", "forward", [loss], lossT.Values, forwardTolerance, false));
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

        return new ReferenceReport(cfg, b, t, trainer.Device, checks);
    }

    private static float[]? Optional(SafetensorsContent content, string name, int[] shape)
    {
        if (!content.Tensors.TryGetValue(name, out var v)) return null;
        if (!v.Shape.SequenceEqual(shape))
        {
            throw new SafetensorsException(name, $"Tensor '{name}' has shape [{string.Join(", ", v.Shape)}]; expected [{string.Join(", ", shape)}].");
        }

        return v.ToSingle();
    }

    private static void Compare(List<TensorCheck> checks, SafetensorsContent content, string name, float[] actual, double tol)
    {
        if (!content.Tensors.TryGetValue(name, out var e)) return;
        if (e.Values.Length != actual.Length)
        {
            throw new SafetensorsException(name, $"Tensor '{name}' has {e.Values.Length} values; the GPU trainer produced {actual.Length}.");
        }

        checks.Add(Measure(name, "forward", actual.Select(v => (double)v).ToArray(), e.Values, tol, false));
    }

    /// <summary>Max abs error and inf-norm relative error, as <see cref="ReferenceCheck"/> measures them.</summary>
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
        return new TensorCheck(name, kind, maxAbs, rel, tol, relative ? rel <= tol : maxAbs <= tol);
    }
}
