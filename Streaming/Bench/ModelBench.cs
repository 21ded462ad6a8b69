using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;
using StreamLstm.Model.Training;
using StreamLstm.Model.Weights;
using StreamLstm.Streaming.Cli;

namespace StreamLstm.Streaming.Bench;

/// <summary><c>model</c>: Step kernel vs ONNX Runtime, and CPU training throughput.</summary>
public static partial class ModelBench
{
    private static readonly int[] Hiddens = [32, 64, 128];
    private static readonly int[] Batches = [1, 16, 256, 4096];
    private const int Rounds = 5;

    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "Short measurements (finishes in under a minute)." };
        var fixtures = new Option<DirectoryInfo?>("--fixtures") { Description = "Folder with lstm_step_i8_h{32,64,128}.onnx/.safetensors (default ../shared/fixtures/torch-reference from the repo root or current folder)." };
        var threads = new Option<int>("--threads") { Description = "Thread count for our multi-threaded figures.", DefaultValueFactory = _ => 2 };
        threads.Check(v => v < 1 ? "--threads must be 1 or more." : null);
        var output = new Option<FileInfo?>("--out") { Description = "JSON output (default artifacts/bench/model-step.json)." };
        var hiddens = new Option<int[]>("--hidden") { Description = "Only these hidden sizes (default 32 64 128).", AllowMultipleArgumentsPerToken = true };
        var batches = new Option<int[]>("--batch") { Description = "Only these batch sizes (default 1 16 256 4096).", AllowMultipleArgumentsPerToken = true };
        var cpuClock = new Option<bool>("--cpu-time") { Description = "Rates per second of this thread's CPU time instead of wall time (Linux; steadier on a loaded machine, both sides run on the calling thread)." };
        var noTrain = new Option<bool>("--no-train") { Description = "Skip the training throughput figure." };
        var kernel = new Option<StepKernelKind>("--kernel") { Description = "Step kernel to measure (Auto = the widest this machine accelerates; Vector512, Vector256, Vector128, Scalar).", DefaultValueFactory = _ => StepKernelKind.Auto };
        var command = new Command("model", "Step kernel vs ONNX Runtime, and CPU training throughput.");
        command.Options.Add(quick);
        command.Options.Add(fixtures);
        command.Options.Add(threads);
        command.Options.Add(output);
        command.Options.Add(kernel);
        command.Options.Add(hiddens);
        command.Options.Add(batches);
        command.Options.Add(noTrain);
        command.Options.Add(cpuClock);
        command.SetAction(parse => Run(parse.GetValue(quick), parse.GetValue(fixtures), Math.Max(1, parse.GetValue(threads)), parse.GetValue(output), parse.GetValue(kernel),
            new Selection(Pick(parse.GetValue(hiddens), Hiddens), Pick(parse.GetValue(batches), Batches), !parse.GetValue(noTrain), parse.GetValue(cpuClock))));
        return command;
    }

    /// <summary>
    /// One row of <c>model-step.json</c> (float32 weights); the <c>Bf16*</c> fields are the opt-in 16-bit weight layout
    /// (<see cref="WeightPrecision.BFloat16"/>) on one thread in the same interleaved rounds, and its max |Δh, Δc| against ORT.
    /// </summary>
    internal sealed record StepResult(int Hidden, int Batch, int Threads, double OursStepsPerS, double OrtStepsPerS, double Ratio, double MaxAbsDiff,
        double Bf16StepsPerS, double Bf16Ratio, double Bf16MaxAbsDiff);

    /// <summary>Which cells and figures to measure (a subset keeps a repeated B=1 vs B=256 comparison short).</summary>
    private sealed record Selection(int[] Hiddens, int[] Batches, bool Train, bool CpuTime);

    private static int[] Pick(int[]? chosen, int[] all) => chosen is { Length: > 0 } ? chosen : all;

    private static int Run(bool quick, DirectoryInfo? fixturesOpt, int threads, FileInfo? outputOpt, StepKernelKind kernel, Selection sel)
    {
        if (kernel == StepKernelKind.Auto) kernel = StepKernels.Best;
        if (!StepKernels.IsSupported(kernel))
        {
            Console.Error.WriteLine($"bench model: kernel {kernel} is not hardware-accelerated in this process");
            return 2;
        }

        var root = FindRepoRoot();
        var fixtures = fixturesOpt?.FullName ?? FindFixtures(root);
        if (fixtures is null || !File.Exists(Path.Combine(fixtures, "lstm_step_i8_h64.onnx")))
        {
            Console.Error.WriteLine($"bench model: fixtures not found ({fixtures ?? "../shared/fixtures/torch-reference"}); pass --fixtures DIR");
            return 2;
        }

        var budget = TimeSpan.FromMilliseconds(quick ? 300 : 1500);
        s_cpuTime = sel.CpuTime && OperatingSystem.IsLinux();
        Console.WriteLine($"bench model: fixtures {fixtures}; kernel {kernel}; ORT {OrtEnv.Instance().GetVersionString()} with 1 intra-op thread; " +
            $"{(quick ? "quick" : "full")}{(s_cpuTime ? ", per thread CPU second" : "")}: best of {Rounds} interleaved rounds, {budget.TotalMilliseconds} ms per side and cell; {Environment.ProcessorCount} cores");
        Console.WriteLine($"{"H",4} {"B",5} {"max|Δh,Δc|",11} {"ORT Mkey-steps/s",17} {"ours 1T",9} {"ratio",7} {$"ours {threads}T",9} {"ratio",7} {"bf16 1T",9} {"ratio",7} {"bf16 |Δ|",9}");
        var results = new List<StepResult>();
        var ok = true;
        foreach (var hid in sel.Hiddens)
        {
            var model = ModelFile.FromContent(SafetensorsFile.Read(Path.Combine(fixtures, $"lstm_step_i8_h{hid}.safetensors")), requireHead: false);
            using var ort = new OrtStep(Path.Combine(fixtures, $"lstm_step_i8_h{hid}.onnx"), hid);
            foreach (var b in sel.Batches)
            {
                var rng = new Random(hid * 10_000 + b);
                var x = RandomArray(rng, b * 8, 1f);
                var h0 = RandomArray(rng, b * hid, 0.5f);
                var c0 = RandomArray(rng, b * hid, 1f);
                var diff = Compare(model, ort, x, h0, c0, b, kernel, WeightPrecision.Float32);
                // The 16-bit layout changes results by design: its difference is reported, not checked against 1e-5.
                var diffHalf = Compare(model, ort, x, h0, c0, b, kernel, WeightPrecision.BFloat16);
                if (!(diff <= 1e-5)) ok = false;
                // Interleaved rounds, best of each: other processes share these cores, so a single long
                // measurement of one side would mostly measure the neighbours' load at that moment.
                using var ortRun = ort.Prepare(x, h0, c0, b);
                using var one = new OursRun(model, x, h0, c0, b, 1, kernel, WeightPrecision.Float32);
                using var many = threads > 1 ? new OursRun(model, x, h0, c0, b, threads, kernel, WeightPrecision.Float32) : null;
                using var half = new OursRun(model, x, h0, c0, b, 1, kernel, WeightPrecision.BFloat16);
                double ortRate = 0, ours1 = 0, oursN = 0, half1 = 0;
                var slice = budget / Rounds;
                ortRun.Rate(slice / 4);
                one.Rate(slice / 4);
                many?.Rate(slice / 4);
                half.Rate(slice / 4);
                for (var r = 0; r < Rounds; r++)
                {
                    ortRate = Math.Max(ortRate, ortRun.Rate(slice));
                    ours1 = Math.Max(ours1, one.Rate(slice));
                    if (many is not null) oursN = Math.Max(oursN, many.Rate(slice));
                    half1 = Math.Max(half1, half.Rate(slice));
                }

                if (many is null) oursN = ours1;
                results.Add(new StepResult(hid, b, 1, ours1, ortRate, ours1 / ortRate, diff, half1, half1 / ortRate, diffHalf));
                if (threads > 1) results.Add(new StepResult(hid, b, threads, oursN, ortRate, oursN / ortRate, diff, half1, half1 / ortRate, diffHalf));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{hid,4} {b,5} {diff,11:E2} {ortRate / 1e6,17:F3} {ours1 / 1e6,9:F3} {ours1 / ortRate,6:F2}x {oursN / 1e6,9:F3} {oursN / ortRate,6:F2}x {half1 / 1e6,9:F3} {half1 / ortRate,6:F2}x {diffHalf,9:E2}{(diff <= 1e-5 ? "" : "  MISMATCH")}"));
            }
        }

        Console.WriteLine();
        Console.WriteLine("CPU training throughput (B=256, T=64, I=8, H=64, L=1, K=2; forward + BPTT + Adam):");
        var train = new List<object>();
        foreach (var t in !sel.Train ? [] : threads > 1 ? new[] { 1, threads } : [1])
        {
            var rate = MeasureTraining(t, quick);
            train.Add(new { batch = 256, steps = 64, input = 8, hidden = 64, threads = t, timesteps_per_s = rate });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {t} thread(s): {rate,12:N0} timesteps/s"));
        }

        var outPath = outputOpt?.FullName ?? Path.Combine(root ?? Directory.GetCurrentDirectory(), "artifacts", "bench", "model-step.json");
        Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
        var json = new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        File.WriteAllText(outPath, JsonSerializer.Serialize(results, json));
        var trainPath = Path.Combine(Path.GetDirectoryName(outPath)!, "model-train.json");
        File.WriteAllText(trainPath, JsonSerializer.Serialize(train, json));
        Console.WriteLine($"wrote {outPath} and {trainPath}");
        if (!ok) Console.Error.WriteLine("bench model: our h/c differ from ONNX Runtime by more than 1e-5");
        return ok ? 0 : 1;
    }

    private static double Compare(LstmModel model, OrtStep ort, float[] x, float[] h0, float[] c0, int b, StepKernelKind kernel, WeightPrecision precision)
    {
        var (oh, oc) = ort.Once(x, h0, c0, b);
        var slab = NewSlab(model, h0, c0, b, out var slots);
        using var stepper = new LstmStepper(model, b, 1, kernel, precision);
        stepper.Step(slab, slots, x, new float[b], new float[b]);
        var hid = model.Config.HiddenSize;
        double max = 0;
        for (var i = 0; i < b; i++)
        {
            var h = slab.H(slots[i], 0);
            var c = slab.C(slots[i], 0);
            for (var j = 0; j < hid; j++)
            {
                max = Math.Max(max, Math.Abs(h[j] - oh[i * hid + j]));
                max = Math.Max(max, Math.Abs(c[j] - oc[i * hid + j]));
            }
        }

        return max;
    }

    /// <summary>Our stepper on one batch, ready to be timed repeatedly.</summary>
    private sealed class OursRun : IDisposable
    {
        private readonly StateSlab _slab;
        private readonly int[] _slots;
        private readonly LstmStepper _stepper;
        private readonly float[] _x;
        private readonly float[] _mu;
        private readonly float[] _ls;

        public OursRun(LstmModel model, float[] x, float[] h0, float[] c0, int b, int threads, StepKernelKind kernel, WeightPrecision precision)
        {
            _slab = NewSlab(model, h0, c0, b, out _slots);
            _stepper = new LstmStepper(model, b, threads, kernel, precision);
            _x = x;
            _mu = new float[b];
            _ls = new float[b];
        }

        /// <summary>Key-steps per second over about <paramref name="time"/>.</summary>
        public double Rate(TimeSpan time) => Timed(time, _slots.Length, () => _stepper.Step(_slab, _slots, _x, _mu, _ls));

        public void Dispose() => _stepper.Dispose();
    }

    private static bool s_cpuTime;

    /// <summary>Runs <paramref name="call"/> in groups until <paramref name="time"/> has passed; returns key-steps per second (of wall or thread CPU time).</summary>
    private static double Timed(TimeSpan time, int batch, Action call)
    {
        long calls = 0;
        var group = Math.Max(1, 5_000 / batch);
        var sw = Stopwatch.StartNew();
        var cpu0 = s_cpuTime ? ThreadCpuSeconds() : 0;
        do
        {
            for (var i = 0; i < group; i++) call();
            calls += group;
        }
        while (sw.Elapsed < time);
        var seconds = s_cpuTime ? ThreadCpuSeconds() - cpu0 : sw.Elapsed.TotalSeconds;
        return calls * (double)batch / seconds;
    }

    private static unsafe double ThreadCpuSeconds()
    {
        const int clockThreadCpuTimeId = 3;
        long* ts = stackalloc long[2];
        if (ClockGetTime(clockThreadCpuTimeId, ts) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return ts[0] + ts[1] * 1e-9;
    }

    // timespec on 64-bit Linux: two longs (seconds, nanoseconds).
    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static unsafe partial int ClockGetTime(int clock, long* timespec);

    private static StateSlab NewSlab(LstmModel model, float[] h0, float[] c0, int b, out int[] slots)
    {
        var hid = model.Config.HiddenSize;
        var slab = new StateSlab(model.Config, b);
        slots = new int[b];
        for (var i = 0; i < b; i++)
        {
            slots[i] = slab.Allocate();
            h0.AsSpan(i * hid, hid).CopyTo(slab.H(slots[i], 0));
            c0.AsSpan(i * hid, hid).CopyTo(slab.C(slots[i], 0));
        }

        return slab;
    }

    private static double MeasureTraining(int threads, bool quick)
    {
        const int b = 256, t = 64, inp = 8, hid = 64, k = 2;
        var model = LstmModel.CreateRandom(new LstmConfig(inp, hid, 1, k), 1);
        var rng = new Random(5);
        var x = RandomArray(rng, b * t * inp, 1f);
        var y = RandomArray(rng, b * t * k, 1f);
        var trainer = new LstmTrainer(model, new TrainingOptions { Threads = threads, LearningRate = 1e-3 });
        trainer.TrainBatch(x, y, b, t);
        // Best single batch of several (the cores are shared with other processes).
        var best = 0.0;
        var total = Stopwatch.StartNew();
        var n = 0;
        while (total.Elapsed.TotalSeconds < (quick ? 2 : 6) || n < 3)
        {
            var sw = Stopwatch.StartNew();
            trainer.TrainBatch(x, y, b, t);
            best = Math.Max(best, (double)b * t / sw.Elapsed.TotalSeconds);
            n++;
        }

        return best;
    }

    private static float[] RandomArray(Random rng, int n, float scale)
    {
        var a = new float[n];
        for (var i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    private static string? FindRepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "StreamLstm.sln"))) return d.FullName;
            }
        }

        return null;
    }

    /// <summary>../shared/fixtures/torch-reference from the repo root or the current folder, else the nearest ancestor holding shared/ (worktrees).</summary>
    private static string? FindFixtures(string? root)
    {
        foreach (var baseDir in new[] { root, Directory.GetCurrentDirectory() })
        {
            if (baseDir is null) continue;
            for (var d = new DirectoryInfo(baseDir).Parent; d is not null; d = d.Parent)
            {
                var p = Path.Combine(d.FullName, "shared", "fixtures", "torch-reference");
                if (Directory.Exists(p)) return p;
            }
        }

        return null;
    }

    /// <summary>The ONNX peer: one LSTM step with pre-bound input and output buffers, one intra-op thread.</summary>
    private sealed class OrtStep : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly int _hidden;
        private readonly string[] _inputNames;
        private readonly string[] _outputNames;

        public OrtStep(string path, int hidden)
        {
            _hidden = hidden;
            using var options = new SessionOptions
            {
                IntraOpNumThreads = 1,
                InterOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            };
            _session = new InferenceSession(path, options);
            _inputNames = [.. _session.InputMetadata.Keys];
            _outputNames = [.. _session.OutputMetadata.Keys];
        }

        public (float[] H, float[] C) Once(float[] x, float[] h0, float[] c0, int b)
        {
            var outs = Outputs(b);
            using var ins = new DisposableList(Inputs(x, h0, c0, b));
            using var outList = new DisposableList(outs.Values);
            using var run = new RunOptions();
            _session.Run(run, _inputNames, ins.Items, _outputNames, outList.Items);
            return (outs.H, outs.C);
        }

        /// <summary>Binds inputs and outputs once for repeated timed runs.</summary>
        public OrtRun Prepare(float[] x, float[] h0, float[] c0, int b) => new(this, Inputs(x, h0, c0, b), Outputs(b).Values, b);

        /// <summary>One bound ORT call, ready to be timed repeatedly.</summary>
        public sealed class OrtRun(OrtStep owner, List<OrtValue> inputs, List<OrtValue> outputs, int batch) : IDisposable
        {
            private readonly RunOptions _run = new();

            public double Rate(TimeSpan time) =>
                Timed(time, batch, () => owner._session.Run(_run, owner._inputNames, inputs, owner._outputNames, outputs));

            public void Dispose()
            {
                foreach (var v in inputs) v.Dispose();
                foreach (var v in outputs) v.Dispose();
                _run.Dispose();
            }
        }

        private List<OrtValue> Inputs(float[] x, float[] h0, float[] c0, int b)
        {
            var map = new Dictionary<string, OrtValue>
            {
                ["x"] = OrtValue.CreateTensorValueFromMemory(x, [b, 1, 8]),
                ["h0"] = OrtValue.CreateTensorValueFromMemory(h0, [1, b, _hidden]),
                ["c0"] = OrtValue.CreateTensorValueFromMemory(c0, [1, b, _hidden]),
            };
            return _inputNames.Select(n => map.TryGetValue(n, out var v) ? v : throw new InvalidOperationException($"Unexpected ONNX input '{n}'.")).ToList();
        }

        private (float[] H, float[] C, List<OrtValue> Values) Outputs(int b)
        {
            var h = new float[b * _hidden];
            var c = new float[b * _hidden];
            var values = new List<OrtValue>();
            foreach (var n in _outputNames)
            {
                values.Add(n switch
                {
                    "h" => OrtValue.CreateTensorValueFromMemory(h, [1, b, _hidden]),
                    "c" => OrtValue.CreateTensorValueFromMemory(c, [1, b, _hidden]),
                    _ => OrtValue.CreateTensorValueFromMemory(new float[b * _hidden], [b, 1, _hidden]),
                });
            }

            return (h, c, values);
        }

        public void Dispose() => _session.Dispose();
    }

    private sealed class DisposableList(List<OrtValue> items) : IDisposable
    {
        public List<OrtValue> Items { get; } = items;

        public void Dispose()
        {
            foreach (var v in Items) v.Dispose();
        }
    }
}
