using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CsCheck;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Decoding.Fuzz;

/// <summary>
/// A deterministic fuzz run: <see cref="Cases"/> inputs drawn from a fresh <see cref="FuzzMessages.Cases"/> with one PCG stream
/// from a fixed seed (CsCheck's own <c>Sample</c> seeds only its first iteration, so the run draws the cases itself),
/// each checked by a <see cref="PipelineMirror"/>; outcomes counted by reason, kind and strategy.
/// Environment overrides for longer local runs: <c>STREAMLSTM_FUZZ_CASES</c>, <c>STREAMLSTM_FUZZ_SEED</c> (a CsCheck seed).
/// </summary>
public sealed class FuzzRun
{
    /// <summary>Cases per run unless <c>STREAMLSTM_FUZZ_CASES</c> says otherwise.</summary>
    public const int DefaultCases = 30_000;

    /// <summary>The CsCheck seed of the default run.</summary>
    public static readonly string DefaultSeed = new PCG(7, 20_250_601).ToString();

    private FuzzRun(string seed, int cases)
    {
        Seed = seed;
        Cases = cases;
    }

    /// <summary>Seed of the first case.</summary>
    public string Seed { get; }

    /// <summary>Cases run.</summary>
    public int Cases { get; }

    /// <summary>Wall time of the run.</summary>
    public TimeSpan Elapsed { get; private set; }

    /// <summary>Outcome (reason wire name, <see cref="PipelineMirror.Accepted"/>, <see cref="PipelineMirror.AcceptedLate"/>) → count, per kind.</summary>
    public SortedDictionary<string, long[]> ByOutcome { get; } = new(StringComparer.Ordinal);

    /// <summary>Strategy → outcome → count.</summary>
    public SortedDictionary<string, SortedDictionary<string, long>> ByStrategy { get; } = new(StringComparer.Ordinal);

    /// <summary>Broken properties and exceptions: case number, its seed, the case and what went wrong (at most 20 kept).</summary>
    public List<string> Failures { get; } = [];

    /// <summary>Total failures (<see cref="Failures"/> keeps the first few).</summary>
    public int FailureCount { get; private set; }

    /// <summary>Cases to run: <c>STREAMLSTM_FUZZ_CASES</c> or <see cref="DefaultCases"/>.</summary>
    public static int CasesFromEnvironment() =>
        int.TryParse(Environment.GetEnvironmentVariable("STREAMLSTM_FUZZ_CASES"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : DefaultCases;

    /// <summary>Seed: <c>STREAMLSTM_FUZZ_SEED</c> or <see cref="DefaultSeed"/>.</summary>
    public static string SeedFromEnvironment() => Environment.GetEnvironmentVariable("STREAMLSTM_FUZZ_SEED") is { Length: > 0 } s ? s : DefaultSeed;

    /// <summary>Runs <paramref name="count"/> cases from <paramref name="seed"/>.</summary>
    /// <param name="count">Case count.</param>
    /// <param name="seed">CsCheck seed string.</param>
    /// <returns>The run's outcomes.</returns>
    public static FuzzRun Execute(int count, string seed)
    {
        var run = new FuzzRun(seed, count);
        var pcg = PCG.Parse(seed);
        var mirror = new PipelineMirror();
        var cases = new FuzzMessages().Cases;
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < run.Cases; i++)
        {
            var state = pcg.State;
            var c = cases.Generate(pcg, null, out _);
            string outcome;
            try
            {
                outcome = mirror.Run(c);
            }
            catch (Exception e)
            {
                outcome = "FAILED";
                run.Fail(i, pcg.ToString(state), c, e);
            }

            run.Count(c, outcome);
        }

        run.Elapsed = sw.Elapsed;
        return run;
    }

    private void Count(FuzzCase c, string outcome)
    {
        if (!ByOutcome.TryGetValue(outcome, out var perKind)) ByOutcome[outcome] = perKind = new long[3];
        perKind[(int)c.Kind]++;
        if (!ByStrategy.TryGetValue(c.Strategy, out var perOutcome)) ByStrategy[c.Strategy] = perOutcome = new(StringComparer.Ordinal);
        perOutcome[outcome] = perOutcome.GetValueOrDefault(outcome) + 1;
    }

    private void Fail(int index, string caseSeed, FuzzCase c, Exception e)
    {
        FailureCount++;
        if (Failures.Count >= 20) return;
        var text = $"case {index} (CsCheck seed {caseSeed}): {c}\n  {e.GetType().Name}: {e.Message}";
        if (Failures.Count == 0)
        {
            // Let CsCheck shrink the first failure from its seed, on fresh generators (their event clock must not move
            // this run's) and a fresh mirror per attempt (so a failure that needs earlier events' state may not shrink).
            try
            {
                new FuzzMessages().Cases.Sample(x => { new PipelineMirror().Run(x); }, seed: caseSeed, iter: 2000, threads: 1);
            }
            catch (Exception shrunk)
            {
                text += "\n  shrunk: " + shrunk.Message;
            }
        }

        Failures.Add(text);
    }

    /// <summary>Outcomes by reason and kind as a text table.</summary>
    /// <returns>The table.</returns>
    public string Table()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"decoder fuzz: {Cases:N0} cases, seed {Seed}, {Elapsed.TotalSeconds:F1} s, {FailureCount} failures");
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"outcome",-24} {"tick",8} {"vitals",8} {"audio",8} {"total",8}");
        var totals = new long[3];
        foreach (var (outcome, n) in ByOutcome)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"{outcome,-24} {n[0],8} {n[1],8} {n[2],8} {n.Sum(),8}");
            for (var k = 0; k < 3; k++) totals[k] += n[k];
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"{"total",-24} {totals[0],8} {totals[1],8} {totals[2],8} {totals.Sum(),8}");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"strategy",-18} {"cases",7}  outcomes");
        foreach (var (strategy, outcomes) in ByStrategy)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"{strategy,-18} {outcomes.Values.Sum(),7}  {string.Join(", ", outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key} {o.Value}"))}");
        }

        return sb.ToString();
    }

    /// <summary>Writes the outcomes as JSON.</summary>
    /// <param name="path">File to write (its directory is created).</param>
    public void WriteJson(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteString("test", "tests/Ingest.Tests/Decoding/DecoderFuzzTests");
        w.WriteString("seed", Seed);
        w.WriteNumber("cases", Cases);
        w.WriteNumber("failures", FailureCount);
        w.WriteNumber("elapsed_seconds", Math.Round(Elapsed.TotalSeconds, 2));
        w.WriteString("clock", FuzzMessages.Now.ToString("O", CultureInfo.InvariantCulture));
        w.WriteStartObject("by_reason");
        foreach (var (outcome, n) in ByOutcome) w.WriteNumber(outcome, n.Sum());
        w.WriteEndObject();
        w.WriteStartObject("by_kind");
        foreach (var kind in new[] { SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio })
        {
            w.WriteStartObject(kind.ToWireName());
            foreach (var (outcome, n) in ByOutcome)
            {
                if (n[(int)kind] > 0) w.WriteNumber(outcome, n[(int)kind]);
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteStartObject("by_strategy");
        foreach (var (strategy, outcomes) in ByStrategy)
        {
            w.WriteStartObject(strategy);
            foreach (var (outcome, n) in outcomes) w.WriteNumber(outcome, n);
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The repository root (the folder holding StreamLstm.sln above the test binary), else the current directory.</summary>
    /// <returns>The path.</returns>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "StreamLstm.sln"))) return dir.FullName;
        }

        return Directory.GetCurrentDirectory();
    }
}
