using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Training;
using StreamLstm.Model.Training.Gpu;
using StreamLstm.Streaming.Cli;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// <c>train</c>: training throughput (forward + BPTT + clipping + Adam) of the CPU or GPU trainer at the shapes PyTorch +
/// cuDNN was timed at, with PyTorch timed in the same run when CUDA and <c>python3 -c 'import torch'</c> are available.
/// Without a CUDA device, <c>--device gpu</c> says so and reports correctness runs of the same kernels on ILGPU's CPU accelerator.
/// </summary>
public static class TrainBench
{
    /// <summary>One shape: B, T, I, H, L (K = 2 horizons).</summary>
    internal sealed record Shape(int Batch, int Steps, int Input, int Hidden, int Layers);

    /// <summary>The shapes of ../shared/tools/gpu/README.md.</summary>
    internal static readonly Shape[] Full = [new(256, 64, 8, 64, 1), new(1024, 64, 8, 64, 1), new(4096, 64, 8, 64, 1), new(1024, 128, 8, 128, 2), new(8192, 64, 16, 128, 2)];

    /// <summary>Smaller shapes for <c>--quick</c>.</summary>
    internal static readonly Shape[] Quick = [new(64, 32, 8, 64, 1), new(256, 32, 8, 64, 1), new(128, 32, 8, 128, 2)];

    private const int Horizons = 2;

    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var device = new Option<string>("--device") { Description = "cpu or gpu.", DefaultValueFactory = _ => "gpu" };
        device.AcceptOnlyFromAmong("cpu", "gpu");
        var quick = new Option<bool>("--quick") { Description = "Smaller shapes and shorter timings." };
        var threads = new Option<int>("--threads") { Description = "Threads of the CPU trainer.", DefaultValueFactory = _ => Environment.ProcessorCount };
        threads.Check(v => v < 1 ? "--threads must be 1 or more." : null);
        var noTorch = new Option<bool>("--no-torch") { Description = "Do not time PyTorch." };
        var output = new Option<FileInfo?>("--out") { Description = "JSON output (default artifacts/bench/train.json)." };
        var command = new Command("train", "Training timesteps/s of the CPU or GPU trainer at PyTorch's reference shapes, with PyTorch timed in the same run on CUDA.");
        command.Options.Add(device);
        command.Options.Add(quick);
        command.Options.Add(threads);
        command.Options.Add(noTorch);
        command.Options.Add(output);
        command.SetAction(parse => Run(parse.GetValue(device) == "gpu", parse.GetValue(quick), Math.Max(1, parse.GetValue(threads)), parse.GetValue(noTorch), parse.GetValue(output)));
        return command;
    }

    /// <summary>One row of <c>train.json</c>.</summary>
    internal sealed record Row(string Trainer, int Batch, int Steps, int Input, int Hidden, int Layers, int TimedSteps, double MsPerStep, double TimestepsPerS,
        double? TorchMsPerStep, double? TorchTimestepsPerS, double? Ratio);

    /// <summary>One CPU-accelerator correctness run (GPU kernels vs the CPU trainer).</summary>
    internal sealed record Correctness(int Batch, int Steps, int Input, int Hidden, int Layers, double LossRelError, double MaxGradRelError, double MaxWeightAbsDiffAfter20Steps, bool Passed);

    private static int Run(bool gpu, bool quick, int threads, bool noTorch, FileInfo? outputOpt)
    {
        var shapes = quick ? Quick : Full;
        var rows = new List<Row>();
        var checks = new List<Correctness>();
        string device;
        string? note = null;
        if (gpu && !GpuAccelerators.CudaAvailable)
        {
            device = "gpu: no CUDA device";
            note = "No CUDA device can be reached here: no GPU timings. Reporting correctness runs of the same kernels on ILGPU's CPU accelerator instead.";
            Console.WriteLine($"bench train: {note}");
            checks.AddRange(CorrectnessRuns());
        }
        else if (gpu)
        {
            device = $"gpu: {GpuAccelerators.CudaDeviceName}";
            Console.WriteLine($"bench train: {device}; {(quick ? "quick" : "full")} shapes; fwd + BPTT + clip + Adam per step, K={Horizons}");
            var torch = noTorch ? null : TorchTimings(shapes, quick);
            if (torch is null && !noTorch) Console.WriteLine("bench train: PyTorch with CUDA is not importable by python3 here; no ratio");
            for (var i = 0; i < shapes.Length; i++)
            {
                var s = shapes[i];
                using var trainer = new GpuLstmTrainer(Model(s), Options(1), GpuTarget.Cuda);
                var (n, ms) = Time(trainer, s, quick);
                var t = torch?[i];
                rows.Add(new Row("gpu", s.Batch, s.Steps, s.Input, s.Hidden, s.Layers, n, ms, Rate(s, ms), t, t is { } tm ? Rate(s, tm) : null, t is { } tm2 ? tm2 / ms : null));
            }
        }
        else
        {
            device = $"cpu: {threads} thread(s) of {Environment.ProcessorCount} cores";
            Console.WriteLine($"bench train: {device}; {(quick ? "quick" : "full")} shapes; fwd + BPTT + clip + Adam per step, K={Horizons}");
            foreach (var s in shapes)
            {
                using var trainer = new LstmTrainer(Model(s), Options(threads));
                var (n, ms) = Time(trainer, s, quick);
                rows.Add(new Row("cpu", s.Batch, s.Steps, s.Input, s.Hidden, s.Layers, n, ms, Rate(s, ms), null, null, null));
            }
        }

        if (rows.Count > 0)
        {
            Console.WriteLine($"{"B",6} {"T",4} {"I",3} {"H",4} {"L",2} {"ms/step",9} {"timesteps/s",12} {"torch ms",9} {"torch ts/s",12} {"ratio",6}");
            foreach (var r in rows)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{r.Batch,6} {r.Steps,4} {r.Input,3} {r.Hidden,4} {r.Layers,2} {r.MsPerStep,9:F2} {Mega(r.TimestepsPerS),12} {r.TorchMsPerStep?.ToString("F2", CultureInfo.InvariantCulture) ?? "-",9} {(r.TorchTimestepsPerS is { } tt ? Mega(tt) : "-"),12} {r.Ratio?.ToString("F2", CultureInfo.InvariantCulture) ?? "-",6}"));
            }
        }

        if (checks.Count > 0)
        {
            Console.WriteLine($"{"B",4} {"T",3} {"I",3} {"H",4} {"L",2} {"loss rel",10} {"max grad rel",13} {"max |Δw| @20",13}  result");
            foreach (var c in checks)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{c.Batch,4} {c.Steps,3} {c.Input,3} {c.Hidden,4} {c.Layers,2} {c.LossRelError,10:E2} {c.MaxGradRelError,13:E2} {c.MaxWeightAbsDiffAfter20Steps,13:E2}  {(c.Passed ? "ok" : "FAIL")}"));
            }
        }

        var outPath = outputOpt?.FullName ?? Path.Combine(FindRepoRoot() ?? Directory.GetCurrentDirectory(), "artifacts", "bench", "train.json");
        Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
        var json = new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        File.WriteAllText(outPath, JsonSerializer.Serialize(new { device, quick, note, shapes = rows, cpu_accelerator_correctness = checks }, json));
        Console.WriteLine($"wrote {outPath}");
        return checks.All(c => c.Passed) ? 0 : 1;
    }

    private static string Mega(double v) => string.Create(CultureInfo.InvariantCulture, $"{v / 1e6:F2} M");

    private static double Rate(Shape s, double msPerStep) => (double)s.Batch * s.Steps / (msPerStep / 1000);

    private static LstmModel Model(Shape s) => LstmModel.CreateRandom(new LstmConfig(s.Input, s.Hidden, s.Layers, Horizons), 1);

    private static TrainingOptions Options(int threads) => new() { LearningRate = 1e-3, ClipNorm = 1.0, Threads = threads, Device = TrainingDevice.Cpu };

    private static TrainingBatch Batch(Shape s, int seed)
    {
        var rng = new Random(seed);
        var x = new float[s.Batch * s.Steps * s.Input];
        var y = new float[s.Batch * s.Steps * Horizons];
        for (var i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        for (var i = 0; i < y.Length; i++) y[i] = (float)(rng.NextDouble() * 2 - 1);
        return new TrainingBatch(s.Batch, s.Steps, x, y);
    }

    /// <summary>Optimizer steps on one resident batch until the time budget is used (each step ends by reading the loss, so it is synchronous).</summary>
    private static (int Steps, double MsPerStep) Time(ILstmTrainer trainer, Shape s, bool quick)
    {
        var batch = Batch(s, 3);
        trainer.TrainBatch(batch);
        trainer.TrainBatch(batch);
        var budget = TimeSpan.FromSeconds(quick ? 0.5 : 2);
        var n = 0;
        var sw = Stopwatch.StartNew();
        do
        {
            trainer.TrainBatch(batch);
            n++;
        }
        while (sw.Elapsed < budget || n < 3);
        return (n, sw.Elapsed.TotalMilliseconds / n);
    }

    /// <summary>The GPU kernels on ILGPU's CPU accelerator against the CPU trainer: one backward pass, then 20 Adam steps.</summary>
    private static IEnumerable<Correctness> CorrectnessRuns()
    {
        foreach (var s in new Shape[] { new(8, 6, 8, 16, 1), new(6, 5, 4, 12, 2), new(16, 4, 8, 32, 1) })
        {
            var cfg = new LstmConfig(s.Input, s.Hidden, s.Layers, Horizons);
            var batch = Batch(s, 7);
            var opts = Options(1);
            opts.Dropout = s.Layers > 1 ? 0.2 : 0;
            using var cpu = new LstmTrainer(LstmModel.CreateRandom(cfg, 2), opts);
            using var gpu = new GpuLstmTrainer(LstmModel.CreateRandom(cfg, 2), opts, GpuTarget.CpuAccelerator);
            var (gc, gg) = (new Gradients(cfg), new Gradients(cfg));
            var lc = cpu.ComputeGradients(batch, gc);
            var lg = gpu.ComputeGradients(batch, gg);
            var gradRel = 0.0;
            for (var p = 0; p < gc.Values.Length; p++)
            {
                var scale = gc.Values[p].Max(Math.Abs);
                var err = gc.Values[p].Zip(gg.Values[p], (a, b) => Math.Abs(a - b)).Max();
                gradRel = Math.Max(gradRel, scale > 0 ? err / scale : err);
            }

            for (var i = 0; i < 20; i++)
            {
                var b = Batch(s, 100 + i);
                cpu.TrainBatch(b);
                gpu.TrainBatch(b);
            }

            gpu.SyncModel();
            var dw = cpu.Model.Parameters().Zip(gpu.Model.Parameters(), (a, b) => a.Values.Zip(b.Values, (x, y) => Math.Abs(x - y)).Max()).Max();
            var lossRel = Math.Abs(lg - lc) / Math.Abs(lc);
            yield return new Correctness(s.Batch, s.Steps, s.Input, s.Hidden, s.Layers, lossRel, gradRel, dw, lossRel <= 1e-4 && gradRel <= 1e-4 && dw <= 1e-4);
        }
    }

    /// <summary>Milliseconds per PyTorch step at each shape (null: no python3 with CUDA torch).</summary>
    private static double[]? TorchTimings(Shape[] shapes, bool quick)
    {
        var script = Path.Combine(Path.GetTempPath(), $"streamlstm-torch-train-{Environment.ProcessId}.py");
        File.WriteAllText(script, TorchScript);
        try
        {
            var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(script);
            psi.ArgumentList.Add(JsonSerializer.Serialize(shapes.Select(s => new[] { s.Batch, s.Steps, s.Input, s.Hidden, s.Layers, Horizons })));
            psi.ArgumentList.Add(quick ? "0.5" : "2");
            using var p = Process.Start(psi);
            if (p is null) return null;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromMinutes(10)))
            {
                p.Kill(true);
                return null;
            }

            if (p.ExitCode != 0)
            {
                Console.Error.WriteLine($"bench train: PyTorch run failed: {stderr.Result.Trim().Split('\n').LastOrDefault()}");
                return null;
            }

            return JsonSerializer.Deserialize<double[]>(stdout.Result.Trim().Split('\n').Last());
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
        finally
        {
            File.Delete(script);
        }
    }

    /// <summary>The PyTorch side: nn.LSTM (cuDNN) + linear Gaussian head, fwd + bwd + clip + Adam, float32, batch_first.</summary>
    private const string TorchScript = """
        import json, sys, time
        import torch
        if not torch.cuda.is_available():
            sys.exit("torch.cuda is not available")
        shapes = json.loads(sys.argv[1]); budget = float(sys.argv[2]); dev = torch.device("cuda")
        out = []
        for b, t, i, h, l, k in shapes:
            torch.manual_seed(1)
            lstm = torch.nn.LSTM(i, h, l, batch_first=True).to(dev); head = torch.nn.Linear(h, 2 * k).to(dev)
            params = list(lstm.parameters()) + list(head.parameters())
            opt = torch.optim.Adam(params, lr=1e-3)
            x = torch.rand(b, t, i, device=dev) * 2 - 1; y = torch.rand(b, t, k, device=dev) * 2 - 1
            def step():
                opt.zero_grad(set_to_none=True)
                o = head(lstm(x)[0]); mu, ls = o[..., :k], o[..., k:]
                loss = (ls + 0.5 * ((y - mu) * torch.exp(-ls)) ** 2 + 0.9189385332046727).mean()
                loss.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step()
                return loss.item()
            step(); step(); torch.cuda.synchronize()
            n = 0; t0 = time.perf_counter()
            while True:
                step(); n += 1
                if n >= 3 and time.perf_counter() - t0 >= budget: break
            out.append((time.perf_counter() - t0) / n * 1000)
        print(json.dumps(out))
        """;

    private static string? FindRepoRoot()
    {
        for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "StreamLstm.sln"))) return d.FullName;
        }

        return null;
    }
}
