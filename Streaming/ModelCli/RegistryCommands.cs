using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using StreamLstm.Model.Weights;
using StreamLstm.Streaming.Registry;

namespace StreamLstm.Streaming.ModelCli;

/// <summary><c>model list|promote|rollback|register</c>: manage the model registry (<see cref="ModelRegistry"/>).</summary>
internal static class RegistryCommands
{
    /// <summary>The registry subcommands.</summary>
    /// <returns>Commands to add under <c>model</c>.</returns>
    public static IEnumerable<Command> Create() => [CreateList(), CreatePromote(), CreateRollback(), CreateRegister()];

    private static Option<string> RegistryOption() => new("--registry")
    {
        Description = "Registry directory (Models:Registry).",
        DefaultValueFactory = _ => ModelRegistry.DefaultDirectory,
    };

    private static Command CreateList()
    {
        var registry = RegistryOption();
        var kind = new Option<string?>("--kind") { Description = "Only this kind: tick, vitals or audio." };
        var json = new Option<bool>("--json") { Description = "Write the versions as JSON to stdout." };
        var cmd = new Command("list", "List the registry's versions: kind, parent, creation time, metrics, and which serves.");
        cmd.Options.Add(registry);
        cmd.Options.Add(kind);
        cmd.Options.Add(json);
        cmd.SetAction(p => Run("list", p.InvocationConfiguration.Error,
            () => List(new ModelRegistry(p.GetValue(registry)!), p.GetValue(kind), p.GetValue(json), p.InvocationConfiguration.Output)));
        return cmd;
    }

    private static Command CreatePromote()
    {
        var registry = RegistryOption();
        var version = new Argument<string>("version") { Description = "Version to serve." };
        var cmd = new Command("promote", "Make VERSION the serving version of its kind (the one it replaces can be rolled back to).");
        cmd.Arguments.Add(version);
        cmd.Options.Add(registry);
        cmd.SetAction(p => Run("promote", p.InvocationConfiguration.Error, () =>
        {
            var (kind, replaced) = new ModelRegistry(p.GetValue(registry)!).Promote(p.GetValue(version)!);
            var v = p.GetValue(version);
            p.InvocationConfiguration.Output.WriteLine(replaced == v ? $"{v} already serves {kind}"
                : replaced.Length == 0 ? $"{kind}: {v} now serves (first version)" : $"{kind}: {v} now serves (was {replaced})");
            return 0;
        }));
        return cmd;
    }

    private static Command CreateRollback()
    {
        var registry = RegistryOption();
        var kind = new Argument<string>("kind") { Description = "Kind: tick, vitals or audio." };
        var cmd = new Command("rollback", "Return KIND to the version served before the current one.");
        cmd.Arguments.Add(kind);
        cmd.Options.Add(registry);
        cmd.SetAction(p => Run("rollback", p.InvocationConfiguration.Error, () =>
        {
            var k = p.GetValue(kind)!;
            var (now, replaced) = new ModelRegistry(p.GetValue(registry)!).Rollback(k);
            p.InvocationConfiguration.Output.WriteLine($"{k}: {now} now serves (was {replaced})");
            return 0;
        }));
        return cmd;
    }

    private static Command CreateRegister()
    {
        var registry = RegistryOption();
        var file = new Argument<FileInfo>("file") { Description = "A model file (safetensors) to add." };
        var kind = new Option<string>("--kind") { Description = "Kind it serves: tick, vitals or audio.", Required = true };
        var version = new Option<string?>("--version") { Description = "Version name (default: the file's own version if usable and free, else KIND-TIMESTAMP)." };
        var parent = new Option<string?>("--parent") { Description = "Version it was derived from (must be in the registry)." };
        var cmd = new Command("register", "Add an existing safetensors model as a new, immutable version (not served until promoted).");
        cmd.Arguments.Add(file);
        cmd.Options.Add(kind);
        cmd.Options.Add(version);
        cmd.Options.Add(parent);
        cmd.Options.Add(registry);
        cmd.SetAction(p => Run("register", p.InvocationConfiguration.Error, () =>
        {
            var reg = new ModelRegistry(p.GetValue(registry)!);
            var path = p.GetValue(file)!.FullName;
            if (!File.Exists(path)) throw new RegistryException($"no file {path}.");
            var v = reg.Register(path, p.GetValue(kind)!, p.GetValue(version), p.GetValue(parent));
            p.InvocationConfiguration.Output.WriteLine($"registered {v} ({p.GetValue(kind)}) at {reg.PathOf(v)}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>Runs an action; registry and model-file errors become one stderr line and exit code 1.</summary>
    private static int Run(string name, TextWriter stderr, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is RegistryException or SafetensorsException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"model {name}: {e.Message}");
            return 1;
        }
    }

    private static int List(ModelRegistry registry, string? kind, bool json, TextWriter stdout)
    {
        var entries = registry.List(kind);
        if (json)
        {
            var doc = new
            {
                registry = registry.Directory,
                versions = entries.Select(e => new
                {
                    version = e.Version,
                    kind = e.Metadata.Kind,
                    parent = e.Metadata.ParentVersion,
                    created = e.Metadata.CreatedAt,
                    trained_from = e.Metadata.TrainedFrom,
                    trained_to = e.Metadata.TrainedTo,
                    metrics = e.Metadata.Metrics,
                    serving = e.Serving,
                    path = e.Path,
                }),
            };
            stdout.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }

        if (entries.Count == 0)
        {
            stdout.WriteLine($"no versions in {registry.Directory}{(kind is null ? "" : $" for {kind}")}");
            return 0;
        }

        stdout.WriteLine($"{"version",-32} {"kind",-7} {"parent",-24} {"created (UTC)",-20} {"serving",-7} metrics");
        foreach (var e in entries)
        {
            var m = e.Metadata;
            var metrics = string.Join(" ", m.Metrics.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}={kv.Value:G6}")));
            var created = m.CreatedAt?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-";
            stdout.WriteLine($"{e.Version,-32} {m.Kind,-7} {(m.ParentVersion.Length == 0 ? "-" : m.ParentVersion),-24} {created,-20} {(e.Serving ? "*" : ""),-7} {metrics}");
        }

        return 0;
    }
}
