using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Training;
using StreamLstm.Model.Training.Gpu;
using StreamLstm.Model.Verification;
using StreamLstm.Model.Weights;
using StreamLstm.Streaming.Cli;

namespace StreamLstm.Streaming.ModelCli;

/// <summary><c>model</c>: Model tools: verify against PyTorch reference files, train.</summary>
public static class ModelCommand
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("model", "Model tools: verify against PyTorch reference files, train, manage the model registry.");
        command.Subcommands.Add(CreateVerify());
        command.Subcommands.Add(CreateTrain());
        foreach (var sub in RegistryCommands.Create()) command.Subcommands.Add(sub);
        command.Subcommands.Add(RetrainCommand.Create());
        return command;
    }

    private static Command CreateVerify()
    {
        var file = new Argument<FileInfo>("file") { Description = "Reference file in the torch-reference layout (param.*, input.*, output.*, grad.*)." };
        var json = new Option<bool>("--json") { Description = "Write the report as JSON to stdout." };
        var fwdTol = new Option<double>("--forward-tol") { Description = "Absolute tolerance for forward outputs and the loss.", DefaultValueFactory = _ => 1e-5 };
        fwdTol.Check(v => !(v > 0) || double.IsInfinity(v) ? "--forward-tol must be a number > 0." : null);
        var gradTol = new Option<double>("--grad-tol") { Description = "Relative (max-abs error / max |reference|) tolerance for gradients.", DefaultValueFactory = _ => 1e-4 };
        gradTol.Check(v => !(v > 0) || double.IsInfinity(v) ? "--grad-tol must be a number > 0." : null);
        var threads = new Option<int>("--threads") { Description = "Threads for the backward pass.", DefaultValueFactory = _ => 1 };
        threads.Check(v => v < 1 ? "--threads must be 1 or more." : null);
        var device = new Option<string>("--device")
        {
            Description = "cpu: the CPU engine (sequence forward, step kernel, backward); gpu: the GPU trainer's forward and backward (ILGPU; CUDA when present, else its CPU accelerator).",
            DefaultValueFactory = _ => "cpu",
        };
        device.AcceptOnlyFromAmong("cpu", "gpu");
        var verify = new Command("verify", "Run forward, incremental steps and backward on a PyTorch reference file; print max abs/rel error per tensor; exit 1 over tolerance.");
        verify.Arguments.Add(file);
        verify.Options.Add(json);
        verify.Options.Add(fwdTol);
        verify.Options.Add(gradTol);
        verify.Options.Add(threads);
        verify.Options.Add(device);
        verify.SetAction(parse => Verify(parse.GetValue(file)!, parse.GetValue(json), parse.GetValue(fwdTol), parse.GetValue(gradTol),
            parse.GetValue(threads), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(device) == "gpu"));
        return verify;
    }

    /// <summary>The <c>model verify</c> action: 0 when every tensor is within tolerance, 1 when one is not, 2 when the file cannot be used.</summary>
    /// <param name="file">Reference file.</param>
    /// <param name="json">JSON output.</param>
    /// <param name="forwardTol">Forward absolute tolerance.</param>
    /// <param name="gradTol">Gradient relative tolerance.</param>
    /// <param name="threads">Backward threads.</param>
    /// <param name="stdout">Report destination.</param>
    /// <param name="stderr">Error destination.</param>
    /// <param name="gpu">Check the GPU trainer instead of the CPU engine.</param>
    /// <returns>Exit code.</returns>
    internal static int Verify(FileInfo file, bool json, double forwardTol, double gradTol, int threads, TextWriter stdout, TextWriter stderr, bool gpu = false)
    {
        ReferenceReport report;
        try
        {
            if (gpu && !GpuAccelerators.CudaAvailable)
            {
                stderr.WriteLine("model verify: no CUDA device; running the GPU trainer's kernels on ILGPU's CPU accelerator");
            }

            var content = SafetensorsFile.Read(file.FullName);
            report = gpu
                ? GpuReferenceCheck.Run(content, GpuTarget.Best, forwardTol, gradTol)
                : ReferenceCheck.Run(content, forwardTol, gradTol, Math.Max(1, threads));
        }
        catch (SafetensorsException e)
        {
            stderr.WriteLine($"model verify: {e.Message}");
            return 2;
        }

        var cfg = report.Config;
        if (json)
        {
            var doc = new
            {
                file = file.FullName,
                input_size = cfg.InputSize,
                hidden_size = cfg.HiddenSize,
                num_layers = cfg.Layers,
                horizons = cfg.Horizons,
                batch = report.Batch,
                steps = report.Steps,
                device = gpu ? report.Kernel : "cpu",
                kernel = gpu ? null : report.Kernel,
                forward_tol = forwardTol,
                grad_tol = gradTol,
                passed = report.Passed,
                tensors = report.Checks.Select(c => new
                {
                    name = c.Name,
                    kind = c.Kind,
                    max_abs_error = c.MaxAbsError,
                    max_rel_error = c.MaxRelError,
                    tolerance = c.Tolerance,
                    tolerance_kind = c.Kind == "gradient" ? "relative" : "absolute",
                    passed = c.Passed,
                }),
            };
            stdout.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
        }
        else
        {
            var where = gpu ? $"device={report.Kernel}" : $"step kernel={report.Kernel}";
            stdout.WriteLine($"{file.Name}: I={cfg.InputSize} H={cfg.HiddenSize} L={cfg.Layers} K={cfg.Horizons} B={report.Batch} T={report.Steps} {where}");
            stdout.WriteLine($"{"tensor",-28} {"kind",-9} {"max abs err",12} {"max rel err",12} {"tolerance",14}  result");
            foreach (var c in report.Checks)
            {
                var tol = c.Kind == "gradient" ? $"{c.Tolerance:0.#E+0} rel" : $"{c.Tolerance:0.#E+0} abs";
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{c.Name,-28} {c.Kind,-9} {c.MaxAbsError,12:E3} {c.MaxRelError,12:E3} {tol,14}  {(c.Passed ? "ok" : "FAIL")}"));
            }

            stdout.WriteLine(report.Passed ? $"PASS: {report.Checks.Count} tensors within tolerance" : $"FAIL: {report.Checks.Count(c => !c.Passed)} of {report.Checks.Count} tensors over tolerance");
        }

        return report.Passed ? 0 : 1;
    }

    private static Command CreateTrain()
    {
        var hidden = new Option<int>("--hidden") { Description = "Hidden size H.", DefaultValueFactory = _ => 32 };
        hidden.Check(v => v is < 1 or > 4096 ? "--hidden must be 1..4096." : null);
        var layers = new Option<int>("--layers") { Description = "Stacked layers L.", DefaultValueFactory = _ => 1 };
        layers.Check(v => v is < 1 or > 16 ? "--layers must be 1..16." : null);
        var epochs = new Option<int>("--epochs") { Description = "Maximum epochs.", DefaultValueFactory = _ => 20 };
        epochs.Check(v => v < 0 ? "--epochs must be 0 or more." : null);
        var threads = new Option<int>("--threads") { Description = "Training threads (results do not depend on it).", DefaultValueFactory = _ => Environment.ProcessorCount };
        threads.Check(v => v < 1 ? "--threads must be 1 or more." : null);
        var seed = new Option<int>("--seed") { Description = "Seed for data, initialisation and window sampling.", DefaultValueFactory = _ => 1 };
        var output = new Option<FileInfo?>("--out") { Description = "Write the trained model (safetensors) here." };
        var device = new Option<TrainingDevice>("--device") { Description = "Trainer: auto (CUDA when present, else CPU), cpu or gpu.", DefaultValueFactory = _ => TrainingDevice.Cpu };
        var train = new Command("train", "Train on a generated noisy seasonal series; print validation NLL and RMSE against a last-value forecast.");
        train.Options.Add(hidden);
        train.Options.Add(layers);
        train.Options.Add(epochs);
        train.Options.Add(threads);
        train.Options.Add(seed);
        train.Options.Add(output);
        train.Options.Add(device);
        train.SetAction(parse => Train(parse.GetValue(hidden), parse.GetValue(layers), parse.GetValue(epochs), parse.GetValue(threads),
            parse.GetValue(seed), parse.GetValue(output), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(device)));
        return train;
    }

    /// <summary>The <c>model train</c> action.</summary>
    internal static int Train(int hidden, int layers, int epochs, int threads, int seed, FileInfo? output, TextWriter stdout, TextWriter stderr,
        TrainingDevice device = TrainingDevice.Cpu)
    {
        LstmConfig cfg;
        TrainingOptions options;
        try
        {
            cfg = new LstmConfig(SeasonalData.Inputs, hidden, layers, SeasonalData.Horizons);
            cfg.Validate();
            options = new TrainingOptions
            {
                WindowLength = 24, WarmupSteps = 8, BatchSize = 32, BatchesPerEpoch = 20, Epochs = epochs, LearningRate = 1e-2,
                ClipNorm = 1.0, Seed = seed, Threads = Math.Max(1, threads), Patience = 5, Device = device,
            };
            options.Validate();
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"model train: {e.Message}");
            return 2;
        }

        var trainData = SeasonalData.Create(32, 400, seed);
        var validData = SeasonalData.Create(8, 400, seed + 1000);
        var model = LstmModel.CreateRandom(cfg, seed);
        model.Metadata = new ModelMetadata
        {
            Version = $"seasonal-demo-{seed}",
            FeatureNames = ["value", "day_sin", "day_cos"],
        };
        options.OnEpoch = r =>
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {r.Epoch,3}: train NLL {r.TrainLoss,8:F4}  validation NLL {r.ValidationLoss,8:F4}  grad norm {r.GradNorm,7:F3}  {r.Timesteps / r.Elapsed.TotalSeconds,10:N0} timesteps/s"));
            return true;
        };
        using var trainer = TrainerFactory.Create(model, options);
        stdout.WriteLine($"trainer: {trainer.Device}");
        var report = trainer.Fit(trainData, validData);
        var (rmse, baseline) = SeasonalData.Rmse(model, validData);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"best epoch {report.BestEpoch}: validation NLL {trainer.Evaluate(validData):F4}, RMSE {rmse:F4} vs last-value RMSE {baseline:F4} ({rmse / baseline:P0})"));
        if (output is not null)
        {
            ModelFile.Save(model, output.FullName);
            stdout.WriteLine($"wrote {output.FullName}");
        }

        return 0;
    }
}
