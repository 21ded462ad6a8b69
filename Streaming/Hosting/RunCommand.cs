using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace StreamLstm.Streaming.Hosting;

/// <summary>
/// <c>streamlstm run</c>: the pipeline against a Kafka cluster. <c>--model</c> loads model files (as in <c>demo</c>),
/// <c>--state-dir</c> sets <c>State:Directory</c>, and <c>--until-caught-up</c> stops gracefully (drain, flush, commit) and
/// exits 0 once every assigned partition has been at zero lag for <c>--caught-up-for</c>: a backfill.
/// </summary>
public static class RunCommand
{
    /// <summary>Exit code when <c>--until-caught-up</c> was stopped by a signal before it caught up.</summary>
    public const int InterruptedExitCode = 130;

    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("run", "Run the pipeline against Kafka (settings: appsettings.json, STREAMLSTM_* env, --Section:Key=value).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        var bootstrap = new Option<string?>("--bootstrap-servers") { Description = "Kafka brokers HOST:PORT[,HOST:PORT]" };
        var group = new Option<string?>("--group-id") { Description = "Consumer group id" };
        var models = new Option<string[]>("--model") { Description = "Model file per kind, KIND=PATH (tick, vitals, audio), or a directory with tick/vitals/audio.safetensors; kinds without one run a random model (with a warning)", AllowMultipleArgumentsPerToken = true };
        var stateDir = new Option<string?>("--state-dir") { Description = "Directory of the per-key state (State:Directory); created with mode 0700" };
        var untilCaughtUp = new Option<bool>("--until-caught-up") { Description = "Stop gracefully and exit 0 once every assigned partition has had zero lag for --caught-up-for (a backfill)" };
        var caughtUpFor = new Option<TimeSpan>("--caught-up-for") { Description = "With --until-caught-up: how long zero lag must last (e.g. 3s)", DefaultValueFactory = _ => TimeSpan.FromSeconds(3), CustomParser = r => DurationText.Argument(r) };
        var assignmentTimeout = new Option<TimeSpan>("--assignment-timeout")
        {
            Description = "With --until-caught-up: exit 1 when no partition has been assigned within this time (brokers unreachable, input topics missing; e.g. 2m)",
            DefaultValueFactory = _ => TimeSpan.FromMinutes(2), CustomParser = r => DurationText.Argument(r),
        };
        foreach (var o in new Option[] { bootstrap, group, models, stateDir, untilCaughtUp, caughtUpFor, assignmentTimeout }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var args = new List<string>(parse.UnmatchedTokens);
            if (parse.GetValue(bootstrap) is { } b) args.Add($"--Kafka:BootstrapServers={b}");
            if (parse.GetValue(group) is { } g) args.Add($"--Kafka:GroupId={g}");
            var overrides = new Dictionary<string, string?>(StringComparer.Ordinal);
            try
            {
                foreach (var (key, value) in ModelSpecs.ToConfiguration(ModelSpecs.Parse(parse.GetValue(models) ?? []))) overrides[key] = value;
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync("Invalid settings:\n  - " + e.Message).ConfigureAwait(false);
                return 2;
            }

            if (parse.GetValue(stateDir) is { } dir) overrides[$"{StateOptions.Section}:{nameof(StateOptions.Directory)}"] = dir;
            var caughtUp = parse.GetValue(untilCaughtUp) ? parse.GetValue(caughtUpFor) : (TimeSpan?)null;
            return await RunAsync([.. args], overrides, caughtUp, parse.GetValue(assignmentTimeout), ct).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(string[] args, Dictionary<string, string?> overrides, TimeSpan? caughtUpFor, TimeSpan assignmentTimeout, CancellationToken ct)
    {
        try
        {
            using var host = StreamLstmHost.CreateBuilder(args, b =>
            {
                b.Services.AddOptions<StateOptions>().Bind(b.Configuration.GetSection(StateOptions.Section));
                Web.WebServiceCollectionExtensions.AddStreamLstmWeb(b);
            }, overrides).Build();
            if (CreateStateDirectory(host.Services.GetRequiredService<IOptions<StateOptions>>().Value) is { } problem)
            {
                await Console.Error.WriteLineAsync("Invalid settings:\n  - " + problem).ConfigureAwait(false);
                return 2;
            }

            var service = host.Services.GetRequiredService<PipelineHostedService>();
            var exit = 0;
            if (caughtUpFor is { } window)
            {
                exit = await RunUntilCaughtUpAsync(host, service, window, assignmentTimeout, ct).ConfigureAwait(false);
            }
            else
            {
                await host.RunAsync(ct).ConfigureAwait(false);
            }

            // A worker or consumer failure stops the host on its own: say why and exit non-zero.
            if (service.Failure is { } failure)
            {
                await Console.Error.WriteLineAsync($"streamlstm stopped because {failure}").ConfigureAwait(false);
                return 1;
            }

            return exit;
        }
        catch (Exception ex) when (StartupErrors.Describe(ex) is { } failures)
        {
            await Console.Error.WriteLineAsync("Invalid settings:").ConfigureAwait(false);
            foreach (var failure in failures) await Console.Error.WriteLineAsync("  - " + failure).ConfigureAwait(false);
            return 2;
        }
    }

    private static async Task<int> RunUntilCaughtUpAsync(IHost host, PipelineHostedService service, TimeSpan window, TimeSpan assignmentTimeout, CancellationToken ct)
    {
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        var time = host.Services.GetRequiredService<TimeProvider>();
        var kafka = host.Services.GetRequiredService<IOptions<KafkaSettings>>().Value;
        await host.StartAsync(ct).ConfigureAwait(false);
        // A signal (ct) or the host stopping on its own (a failed worker) ends the wait.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, lifetime.ApplicationStopping);
        var tracker = new CaughtUpTracker(time, window, assignmentTimeout);
        var caughtUp = false;
        try
        {
            await service.Started.WaitAsync(stop.Token).ConfigureAwait(false);
            using var watcher = new CaughtUpWatcher(service.Consumer!, kafka.BootstrapServers, kafka.GroupId);
            await watcher.WaitAsync(tracker, TimeSpan.FromMilliseconds(250), time, stop.Token).ConfigureAwait(false);
            if (tracker.GaveUp)
            {
                // A backfill against brokers it cannot reach (or topics that do not exist) would otherwise wait forever.
                await Console.Error.WriteLineAsync($"no partition was assigned within {assignmentTimeout.TotalSeconds:0.#} s ({tracker.Status}): check that the brokers at {kafka.BootstrapServers} are reachable and that the input topics ({kafka.TicksTopic}, {kafka.VitalsTopic}, {kafka.AudioTopic}) exist; stopping").ConfigureAwait(false);
                await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
                return 1;
            }

            caughtUp = true;
            var consumed = service.Consumer!.Consumed;
            Console.WriteLine($"caught up: {tracker.Status}, {consumed:N0} messages consumed; stopping (drain, flush, commit)");
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.WriteLine($"stopped before catching up ({tracker.Status})");
        }

        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (caughtUp && service.IncompleteShutdown)
        {
            await Console.Error.WriteLineAsync("caught up, but the final drain did not finish in time: some offsets stay uncommitted").ConfigureAwait(false);
            return 1;
        }

        return caughtUp ? 0 : InterruptedExitCode;
    }

    /// <summary>Creates <see cref="StateOptions.Directory"/> (owner-only on Unix); null when done or not set, else the problem.</summary>
    private static string? CreateStateDirectory(StateOptions state)
    {
        if (string.IsNullOrWhiteSpace(state.Directory)) return null;
        try
        {
            if (OperatingSystem.IsWindows()) Directory.CreateDirectory(state.Directory);
            else Directory.CreateDirectory(state.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return $"State:Directory '{state.Directory}' cannot be created: {e.Message}";
        }
    }
}
