using System.Text.Json;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Weights;
using StreamLstm.Streaming.Cli;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Registry;

namespace StreamLstm.Streaming.Tests.Registry;

/// <summary><c>streamlstm model register|list|promote|rollback</c> on a temporary registry, and the pipeline's use of it.</summary>
public sealed class ModelRegistryCommandTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("registry-");

    private string Reg => Path.Combine(_root.FullName, "models");

    public void Dispose() => _root.Delete(recursive: true);

    private static (int Code, string Out, string Err) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = CommandLineApp.Build().Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private string WriteModel(string name, int seed, ModelMetadata? metadata = null)
    {
        var model = LstmModel.CreateRandom(new LstmConfig(3, 4, 1, 2), seed);
        if (metadata is not null) model.Metadata = metadata;
        var path = Path.Combine(_root.FullName, name + ".safetensors");
        ModelFile.Save(model, path);
        return path;
    }

    private static JsonElement Versions(string stdout) => JsonDocument.Parse(stdout).RootElement.GetProperty("versions");

    [Fact]
    public void RegisterPromoteRollback_RoundTripsThroughTheCommands()
    {
        Assert.Equal(0, Invoke("model", "register", WriteModel("a", 1), "--kind", "tick", "--version", "tick-v1", "--registry", Reg).Code);
        Assert.Equal(0, Invoke("model", "register", WriteModel("b", 2), "--kind", "tick", "--version", "tick-v2", "--parent", "tick-v1", "--registry", Reg).Code);
        Assert.Equal(0, Invoke("model", "register", WriteModel("c", 3), "--kind", "vitals", "--version", "vitals-v1", "--registry", Reg).Code);

        var (code, stdout, _) = Invoke("model", "list", "--kind", "tick", "--json", "--registry", Reg);
        Assert.Equal(0, code);
        var tick = Versions(stdout).EnumerateArray().ToList();
        Assert.Equal(["tick-v1", "tick-v2"], tick.Select(v => v.GetProperty("version").GetString()));
        Assert.Equal("tick-v1", tick[1].GetProperty("parent").GetString());
        Assert.All(tick, v => Assert.False(v.GetProperty("serving").GetBoolean()));

        var reg = new ModelRegistry(Reg);
        Assert.Null(reg.ServingVersion("tick"));
        Assert.Equal(0, Invoke("model", "promote", "tick-v1", "--registry", Reg).Code);
        var promoted = Invoke("model", "promote", "tick-v2", "--registry", Reg);
        Assert.Equal(0, promoted.Code);
        Assert.Contains("was tick-v1", promoted.Out, StringComparison.Ordinal);
        Assert.Equal("tick-v2", reg.ServingVersion("tick"));
        Assert.Null(reg.ServingVersion("vitals"));

        var listed = Versions(Invoke("model", "list", "--json", "--registry", Reg).Out).EnumerateArray()
            .ToDictionary(v => v.GetProperty("version").GetString()!, v => v.GetProperty("serving").GetBoolean());
        Assert.Equal(new Dictionary<string, bool> { ["tick-v1"] = false, ["tick-v2"] = true, ["vitals-v1"] = false }, listed);
        var table = Invoke("model", "list", "--registry", Reg).Out;
        Assert.Contains("tick-v2", table.Split('\n').Single(l => l.Contains('*', StringComparison.Ordinal)), StringComparison.Ordinal);

        var back = Invoke("model", "rollback", "tick", "--registry", Reg);
        Assert.Equal(0, back.Code);
        Assert.Equal("tick-v1", reg.ServingVersion("tick"));
        var history = reg.ReadIndex().History;
        Assert.Equal(["promote", "promote", "rollback"], history.Select(h => h.Action));
        Assert.Equal(("tick-v1", "tick-v2"), (history[2].Version, history[2].Replaced));

        // tick-v1 was the first to serve: nothing further back.
        var none = Invoke("model", "rollback", "tick", "--registry", Reg);
        Assert.Equal(1, none.Code);
        Assert.Contains("nothing to roll back", none.Err, StringComparison.Ordinal);
        Assert.Equal("tick-v1", reg.ServingVersion("tick"));
    }

    [Fact]
    public void Errors_AreClear_AndExitNonZero()
    {
        var file = WriteModel("a", 1);
        Assert.Equal(0, Invoke("model", "register", file, "--kind", "audio", "--version", "a1", "--registry", Reg).Code);

        var unknownVersion = Invoke("model", "promote", "nope", "--registry", Reg);
        Assert.Equal(1, unknownVersion.Code);
        Assert.Contains("unknown version 'nope'", unknownVersion.Err, StringComparison.Ordinal);

        var unknownKind = Invoke("model", "rollback", "video", "--registry", Reg);
        Assert.Equal(1, unknownKind.Code);
        Assert.Contains("unknown kind 'video'", unknownKind.Err, StringComparison.Ordinal);
        Assert.Equal(1, Invoke("model", "register", file, "--kind", "video", "--registry", Reg).Code);
        Assert.Equal(1, Invoke("model", "list", "--kind", "video", "--registry", Reg).Code);

        var neverServed = Invoke("model", "rollback", "audio", "--registry", Reg);
        Assert.Equal(1, neverServed.Code);
        Assert.Contains("no version serves audio", neverServed.Err, StringComparison.Ordinal);

        var badName = Invoke("model", "register", file, "--kind", "audio", "--version", "../escape", "--registry", Reg);
        Assert.Equal(1, badName.Code);
        Assert.Contains("bad version name", badName.Err, StringComparison.Ordinal);

        var badParent = Invoke("model", "register", file, "--kind", "audio", "--version", "a2", "--parent", "ghost", "--registry", Reg);
        Assert.Equal(1, badParent.Code);
        Assert.Contains("parent version 'ghost'", badParent.Err, StringComparison.Ordinal);

        var notAModel = Path.Combine(_root.FullName, "junk.safetensors");
        File.WriteAllText(notAModel, "not safetensors");
        Assert.Equal(1, Invoke("model", "register", notAModel, "--kind", "audio", "--registry", Reg).Code);
        Assert.Equal(1, Invoke("model", "register", Path.Combine(_root.FullName, "missing.safetensors"), "--kind", "audio", "--registry", Reg).Code);
        Assert.Equal(["a1"], new ModelRegistry(Reg).List().Select(e => e.Version));
    }

    [Fact]
    public void Versions_AreImmutable_PrivateAndWrittenWithoutLeftovers()
    {
        Assert.Equal(0, Invoke("model", "register", WriteModel("a", 1), "--kind", "tick", "--version", "v1", "--registry", Reg).Code);
        var reg = new ModelRegistry(Reg);
        var before = File.ReadAllBytes(reg.PathOf("v1"));

        var again = Invoke("model", "register", WriteModel("b", 2), "--kind", "tick", "--version", "v1", "--registry", Reg);
        Assert.Equal(1, again.Code);
        Assert.Contains("already exists", again.Err, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(reg.PathOf("v1")));
        Assert.Throws<RegistryException>(() => reg.Save(LstmModel.CreateRandom(new LstmConfig(3, 4, 1, 2), 9), "tick", "v1"));
        Assert.Equal(before, File.ReadAllBytes(reg.PathOf("v1")));

        Assert.Equal(0, Invoke("model", "promote", "v1", "--registry", Reg).Code);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(reg.PathOf("v1")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(reg.IndexPath));
        }

        Assert.Empty(Directory.EnumerateFiles(Reg, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void Metadata_RoundTripsThroughTheRegistry()
    {
        var created = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);
        var meta = new ModelMetadata
        {
            Version = "ft-7",
            FeatureNames = ["a", "b", "c"],
            TrainedFrom = "2026-03-01T00:00:00Z",
            TrainedTo = "partition 0 offset 123456",
            Metrics = new Dictionary<string, double> { ["nll"] = -1.25, ["rmse"] = 0.5 },
            CreatedAt = created,
            Extra = new Dictionary<string, string> { ["note"] = "kept" },
        };
        Assert.Equal(0, Invoke("model", "register", WriteModel("p", 1), "--kind", "vitals", "--version", "p0", "--registry", Reg).Code);
        var file = WriteModel("ft", 2, meta);
        var (code, stdout, _) = Invoke("model", "register", file, "--kind", "vitals", "--parent", "p0", "--registry", Reg);
        Assert.Equal(0, code);
        Assert.Contains("registered ft-7", stdout, StringComparison.Ordinal);

        var stored = ModelFile.Load(new ModelRegistry(Reg).PathOf("ft-7")).Metadata;
        Assert.Equal("ft-7", stored.Version);
        Assert.Equal("vitals", stored.Kind);
        Assert.Equal("p0", stored.ParentVersion);
        Assert.Equal(meta.TrainedFrom, stored.TrainedFrom);
        Assert.Equal(meta.TrainedTo, stored.TrainedTo);
        Assert.Equal(meta.Metrics, stored.Metrics);
        Assert.Equal(created, stored.CreatedAt);
        Assert.Equal("kept", stored.Extra["note"]);
        Assert.DoesNotContain("metrics", stored.Extra.Keys);

        var listed = Versions(Invoke("model", "list", "--json", "--registry", Reg).Out).EnumerateArray().Single(v => v.GetProperty("version").GetString() == "ft-7");
        Assert.Equal(0.5, listed.GetProperty("metrics").GetProperty("rmse").GetDouble());
        Assert.Equal("partition 0 offset 123456", listed.GetProperty("trained_to").GetString());
    }

    [Fact]
    public void OldFiles_WithoutLineage_StillLoadAndRegister()
    {
        // A file as the previous format wrote it: only the original metadata keys.
        var model = LstmModel.CreateRandom(new LstmConfig(3, 4, 1, 2), 5);
        var oldMeta = new Dictionary<string, string>
        {
            ["format"] = ModelFile.FormatVersion, ["input_size"] = "3", ["hidden_size"] = "4", ["num_layers"] = "1", ["horizons"] = "2",
            ["version"] = "demo-old", ["feature_names"] = "[\"x\",\"y\",\"z\"]", ["feature_mean"] = "[]", ["feature_std"] = "[]",
            ["target_scale"] = "1", ["target_offset"] = "0",
        };
        var path = Path.Combine(_root.FullName, "old.safetensors");
        File.WriteAllBytes(path, SafetensorsFile.Serialize(model.Parameters().Select(p => (p.Name, p.Shape, (ReadOnlyMemory<double>)p.Values.Select(v => (double)v).ToArray())), oldMeta));

        var loaded = ModelFile.Load(path).Metadata;
        Assert.Equal("demo-old", loaded.Version);
        Assert.Equal("", loaded.Kind);
        Assert.Equal("", loaded.ParentVersion);
        Assert.Empty(loaded.Metrics);
        Assert.Null(loaded.CreatedAt);
        // A model without lineage writes exactly the old keys, so older readers see nothing new.
        Assert.Equal(oldMeta.Keys.Append("gate_order").Order(StringComparer.Ordinal),
            SafetensorsFile.Parse(ModelFile.ToBytes(ModelFile.Load(path))).Metadata.Keys.Order(StringComparer.Ordinal));

        Assert.Equal(0, Invoke("model", "register", path, "--kind", "tick", "--registry", Reg).Code);
        var entry = Assert.Single(new ModelRegistry(Reg).List("tick"));
        Assert.Equal("demo-old", entry.Version);
        Assert.NotNull(entry.Metadata.CreatedAt);
    }

    [Fact]
    public void Serving_LoadsThePromotedVersion_WhenNoFileIsConfigured()
    {
        var settings = new ModelSettings { Hidden = 6, Registry = Reg };
        var tickModel = PipelineModels.CreateRandom(SourceKind.Tick, settings, 4);
        var reg = new ModelRegistry(Reg);
        reg.Save(tickModel, "tick", "tick-served");

        // Registered but not promoted: still random.
        PipelineModels.FromSettings(settings, [SourceKind.Tick], 4, out var random);
        Assert.Equal([SourceKind.Tick], random);

        reg.Promote("tick-served");
        var models = PipelineModels.FromSettings(settings, [SourceKind.Tick, SourceKind.Vitals], 4, out random);
        Assert.Equal("tick-served", models.Models[SourceKind.Tick].Metadata.Version);
        Assert.Equal(tickModel.WeightHh[0], models.Models[SourceKind.Tick].WeightHh[0]);
        Assert.Equal([SourceKind.Vitals], random);

        // An explicit file still wins over the registry.
        var explicitModel = PipelineModels.CreateRandom(SourceKind.Tick, settings, 4);
        explicitModel.Metadata = explicitModel.Metadata with { Version = "explicit" };
        var explicitPath = Path.Combine(_root.FullName, "explicit.safetensors");
        ModelFile.Save(explicitModel, explicitPath);
        settings.TickModel = explicitPath;
        Assert.Equal("explicit", PipelineModels.FromSettings(settings, [SourceKind.Tick], 4, out _).Models[SourceKind.Tick].Metadata.Version);

        // A promoted version whose file went missing is a clear start-up error, not a silent random model.
        settings.TickModel = "";
        File.Delete(reg.PathOf("tick-served"));
        var e = Assert.Throws<RegistryException>(() => PipelineModels.FromSettings(settings, [SourceKind.Tick], 4, out _));
        Assert.Contains("tick-served", e.Message, StringComparison.Ordinal);
    }
}
