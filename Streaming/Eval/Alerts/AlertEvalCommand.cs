using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Hosting;

namespace StreamLstm.Streaming.Eval.Alerts;

/// <summary>Which online-trainer settings <c>eval alerts</c> runs with.</summary>
public enum OnlineRuns
{
    /// <summary>As configured (<c>Online:Enabled</c>, default off).</summary>
    Config,

    /// <summary>Trainer off.</summary>
    Off,

    /// <summary>Trainer on.</summary>
    On,

    /// <summary>Twice: off, then on, with the same models and stream.</summary>
    Both,
}

/// <summary>
/// <c>eval alerts</c>: the generators' labelled anomalies through the pipeline; per kind, episode-level precision and
/// recall, median detection delay and false alerts per key-hour. Prints a table and writes JSON.
/// </summary>
public static class AlertEvalCommand
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var events = new Option<int>("--events") { Description = "Events generated per source kind.", DefaultValueFactory = _ => 100_000 };
        var seed = new Option<ulong>("--seed") { Description = "Generator seed of the evaluated stream.", DefaultValueFactory = _ => 42UL };
        var json = new Option<FileInfo>("--json") { Description = "Write the JSON report here.", DefaultValueFactory = _ => new FileInfo("artifacts/eval/alerts.json") };
        var online = new Option<OnlineRuns>("--online") { Description = "Online trainer: config (Online:Enabled, default off), off, on, or both (two runs).", DefaultValueFactory = _ => OnlineRuns.Config };
        var rate = new Option<double>("--anomaly-rate") { Description = "Multiplier on the generators' anomaly rates (the demo's default).", DefaultValueFactory = _ => 3.0 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden size of the models trained at start-up.", DefaultValueFactory = _ => 32 };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs at start-up.", DefaultValueFactory = _ => 6 };
        var models = new Option<string[]>("--model") { Description = "Model file per kind, KIND=PATH, or a directory with tick/vitals/audio.safetensors", AllowMultipleArgumentsPerToken = true };
        var grace = new Option<double>("--grace-events") { Description = "An alert still matches an episode this many mean event intervals of its key after the episode's end.", DefaultValueFactory = _ => 10.0 };
        var command = new Command("alerts", "Generators with labelled anomalies through the pipeline: per kind, episode precision/recall, median detection delay, false alerts per key-hour. Other --Section:Key=value settings (Sink:Anomaly, Pipeline, Online:Enabled) pass through to the configuration.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        foreach (var o in new Option[] { events, seed, json, online, rate, hidden, epochs, models, grace }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var settings = new AlertEvalSettings
            {
                Events = parse.GetValue(events), Seed = parse.GetValue(seed), AnomalyRate = parse.GetValue(rate), Hidden = parse.GetValue(hidden),
                Epochs = parse.GetValue(epochs), ModelFiles = ModelSpecs.Parse(parse.GetValue(models) ?? []), GraceEvents = parse.GetValue(grace),
            };
            var o = parse.InvocationConfiguration.Output;
            if (Invalid(settings) is { } why)
            {
                // Checked before the models are trained: a negative --events used to run and report "-3 events".
                await parse.InvocationConfiguration.Error.WriteLineAsync("eval alerts: " + why).ConfigureAwait(false);
                return 2;
            }

            try
            {
                var results = await RunAsync(settings, parse.GetValue(online), [.. parse.UnmatchedTokens], o, ct).ConfigureAwait(false);
                var path = parse.GetValue(json)!.FullName;
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await File.WriteAllTextAsync(path, ToJson(settings, results).ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
                o.WriteLine($"wrote {path}");
                return 0;
            }
            catch (ArgumentException e)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync("eval alerts: " + e.Message).ConfigureAwait(false);
                return 2;
            }
        });
        return command;
    }

    /// <summary>What is wrong with the command line's numbers (null: nothing).</summary>
    /// <param name="s">Settings.</param>
    /// <returns>The message, or null.</returns>
    internal static string? Invalid(AlertEvalSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (s.Events < 1) return string.Create(inv, $"--events must be >= 1 (got {s.Events}).");
        if (!(s.AnomalyRate >= 0) || double.IsInfinity(s.AnomalyRate)) return string.Create(inv, $"--anomaly-rate must be a finite number >= 0 (got {s.AnomalyRate}).");
        if (s.Hidden < 1 || s.Epochs < 1) return string.Create(inv, $"--hidden and --epochs must be >= 1 (got {s.Hidden}, {s.Epochs}).");
        return !(s.GraceEvents >= 0) || double.IsInfinity(s.GraceEvents) ? string.Create(inv, $"--grace-events must be a finite number >= 0 (got {s.GraceEvents}).") : null;
    }

    /// <summary>Trains (or loads) the models once, then runs the evaluation once per online setting and prints each table.</summary>
    /// <param name="settings">Settings.</param>
    /// <param name="online">Which online settings to run.</param>
    /// <param name="configArgs">Configuration arguments (<c>--Section:Key=value</c>).</param>
    /// <param name="output">Where tables go.</param>
    /// <param name="ct">Cancels.</param>
    /// <returns>One result per run.</returns>
    public static async Task<IReadOnlyList<AlertEvalResult>> RunAsync(AlertEvalSettings settings, OnlineRuns online, string[] configArgs, TextWriter output, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        var modes = online switch { OnlineRuns.Off => new bool?[] { false }, OnlineRuns.On => [true], OnlineRuns.Both => [false, true], _ => [null] };
        IReadOnlyDictionary<SourceKind, Model.Lstm.LstmModel>? models = null;
        var results = new List<AlertEvalResult>();
        foreach (var mode in modes)
        {
            var overrides = new Dictionary<string, string?> { ["Sink:Enabled"] = "false", ["Logging:LogLevel:Default"] = "Warning" };
            if (mode is { } m) overrides["Online:Enabled"] = m ? "true" : "false";
            // The same configuration sources as demo/run (appsettings.json, STREAMLSTM_ environment, --Section:Key=value).
            var configuration = StreamLstmHost.CreateBuilder(configArgs, null, overrides).Configuration;
            models ??= AlertEvalRun.Models(settings, configuration.GetValue("Pipeline:NormalisationAlpha", 0.01), output);
            var result = await AlertEvalRun.RunAsync(settings, configuration, models, ct).ConfigureAwait(false);
            Print(result, output);
            results.Add(result);
        }

        return results;
    }

    /// <summary>Prints one run's table.</summary>
    /// <param name="r">The run.</param>
    /// <param name="o">Writer.</param>
    public static void Print(AlertEvalResult r, TextWriter o)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(o);
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(inv, $"online trainer: requested {(r.OnlineRequested ? "on" : "off")}, {(r.OnlineActive ? $"running ({r.FineTunes} fine-tunes, {r.Promotions} promoted; thread {r.TrainerPriority?.ToString() ?? "not started"})" : "not running")} | {r.Events:N0} events, {r.Forecasts:N0} forecasts, {r.DeadLetters:N0} dead/late, {r.Elapsed.TotalSeconds:F1} s"));
        o.WriteLine("kind     label              episodes detected  recall  alerts  true  precision  delay_s(med)  key_h   false/key_h");
        foreach (var k in r.Kinds)
        {
            o.WriteLine(string.Create(inv, $"{k.Source.ToWireName(),-8} {"(all)",-18} {k.Episodes,8} {k.Detected,8} {F(k.Recall),7} {k.Alerts,7} {k.TrueAlerts,5} {F(k.Precision),10} {F(k.MedianDelayMs / 1000),13} {k.KeyHours,6:F2} {F(k.FalseAlertsPerKeyHour),12}"));
            foreach (var l in k.Labels)
            {
                o.WriteLine(string.Create(inv, $"{"",-8} {l.Label.ToLabel(),-18} {l.Episodes,8} {l.Detected,8} {F(l.Recall),7} {"",7} {"",5} {"",10} {F(l.MedianDelayMs / 1000),13}"));
            }
        }

        static string F(double v) => double.IsNaN(v) ? "-" : v.ToString("F3", CultureInfo.InvariantCulture);
    }

    /// <summary>The JSON report.</summary>
    /// <param name="s">Settings.</param>
    /// <param name="results">Runs.</param>
    /// <returns>The report.</returns>
    public static JsonObject ToJson(AlertEvalSettings s, IReadOnlyList<AlertEvalResult> results)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(results);
        var runs = new JsonArray();
        foreach (var r in results)
        {
            var kinds = new JsonArray();
            foreach (var k in r.Kinds)
            {
                var labels = new JsonArray();
                foreach (var l in k.Labels)
                {
                    labels.Add(new JsonObject { ["label"] = l.Label.ToLabel(), ["episodes"] = l.Episodes, ["detected"] = l.Detected, ["recall"] = N(l.Recall), ["median_delay_s"] = N(l.MedianDelayMs / 1000) });
                }

                kinds.Add(new JsonObject
                {
                    ["kind"] = k.Source.ToWireName(), ["episodes"] = k.Episodes, ["detected"] = k.Detected, ["recall"] = N(k.Recall),
                    ["alerts"] = k.Alerts, ["true_alerts"] = k.TrueAlerts, ["false_alerts"] = k.FalseAlerts, ["precision"] = N(k.Precision),
                    ["median_delay_s"] = N(k.MedianDelayMs / 1000), ["key_hours"] = N(k.KeyHours), ["false_alerts_per_key_hour"] = N(k.FalseAlertsPerKeyHour),
                    ["labels"] = labels,
                });
            }

            runs.Add(new JsonObject
            {
                ["online_requested"] = r.OnlineRequested, ["online_active"] = r.OnlineActive, ["fine_tunes"] = r.FineTunes, ["promotions"] = r.Promotions,
                ["trainer_priority"] = r.TrainerPriority is { } p ? new JsonObject { ["requested"] = p.Requested.ToString().ToLowerInvariant(), ["applied"] = p.Applied, ["policy"] = Online.Scheduling.ThreadScheduling.PolicyName(p.Policy), ["nice"] = p.Nice } : null, ["events"] = r.Events, ["forecasts"] = r.Forecasts,
                ["dead_or_late"] = r.DeadLetters, ["seconds"] = Math.Round(r.Elapsed.TotalSeconds, 2), ["kinds"] = kinds,
            });
        }

        return new JsonObject
        {
            ["command"] = "eval alerts",
            ["settings"] = new JsonObject
            {
                ["events_per_kind"] = s.Events, ["seed"] = s.Seed, ["anomaly_rate"] = s.AnomalyRate, ["hidden"] = s.Hidden, ["epochs"] = s.Epochs,
                ["grace_events"] = s.GraceEvents, ["keys"] = new JsonObject { ["tick"] = s.Keys.Tick, ["vitals"] = s.Keys.Vitals, ["audio"] = s.Keys.Audio },
            },
            ["runs"] = runs,
        };

        // NaN (no alerts, no episodes) is not valid JSON: written as null.
        static JsonNode? N(double v) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 4)) : null;
    }
}
