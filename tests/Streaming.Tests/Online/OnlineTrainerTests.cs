using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Online.Gate;
using StreamLstm.Streaming.Online.Triggers;
using StreamLstm.Streaming.Registry;

namespace StreamLstm.Streaming.Tests.Online;

public sealed class OnlineTrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("online-trainer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static OnlineOptions Options(string registry, double margin = 0.01) => new()
    {
        Window = 128, SnapshotEvery = 16, WindowLength = 16, BatchSize = 16, StepsPerEpoch = 10, Epochs = 6, Patience = 2,
        LearningRate = 1e-2, LrWarmupSteps = 5, HoldoutKeys = 4, MinWindows = 4, GateMargin = margin, RegistryDirectory = registry,
    };

    // Serves a seasonal series (input 0 is the target; input 1 a phase clock) for a few keys, feeding the replay buffer as the pipeline does.
    internal static void Serve(OnlineKind state, int keys, int events)
    {
        var model = state.Serving;
        var cfg = model.Config;
        var slab = new StateSlab(cfg, keys);
        using var stepper = new LstmStepper(model, keys);
        var slots = Enumerable.Range(0, keys).Select(_ => slab.Allocate()).ToArray();
        var x = new float[keys * cfg.InputSize];
        var mu = new float[keys * cfg.Horizons];
        var logSigma = new float[keys * cfg.Horizons];
        var rng = new Random(5);
        var rings = Enumerable.Range(0, keys).Select(k => { state.Replay.BeginFeed(); var r = state.Replay.RingFor("key" + k); state.Replay.EndFeed(); return r; }).ToArray();
        for (var e = 0; e < events; e++)
        {
            for (var k = 0; k < keys; k++)
            {
                x[k * cfg.InputSize] = (float)(Math.Sin((e + 3 * k) * 2 * Math.PI / 12) + 0.05 * (rng.NextDouble() - 0.5));
                x[k * cfg.InputSize + 1] = (float)Math.Cos((e + 3 * k) * 2 * Math.PI / 12);
            }

            state.Replay.BeginFeed();
            for (var k = 0; k < keys; k++) state.Replay.Record(rings[k], x.AsSpan(k * cfg.InputSize, cfg.InputSize), slab, slots[k], (e * keys) + k);
            state.Replay.EndFeed();
            stepper.Step(slab, slots, x, mu, logSigma);
            for (var k = 0; k < keys; k++) ReplayBuffer_Forecast(rings[k], mu[k * cfg.Horizons], logSigma[k * cfg.Horizons]);
        }
    }

    private static void ReplayBuffer_Forecast(Streaming.Online.Replay.KeyRing ring, float mu, float logSigma) => Streaming.Online.Replay.ReplayBuffer.Forecast(ring, mu, logSigma);

    private (OnlineTrainerService Service, OnlineKind State, ModelRegistry Registry) Build(double margin = 0.01)
    {
        var registry = new ModelRegistry(Path.Combine(_dir, "registry"));
        var model = LstmModel.CreateRandom(new LstmConfig(2, 8, 2, 2), 11);
        registry.Save(model, "tick", "tick-base");
        var online = new OnlineLearning(new Dictionary<SourceKind, LstmModel> { [SourceKind.Tick] = model }, Options(registry.Directory, margin));
        var service = new OnlineTrainerService(online, TimeProvider.System, NullLogger<OnlineTrainerService>.Instance);
        var state = online.For(SourceKind.Tick)!;
        Serve(state, keys: 8, events: 200);
        return (service, state, registry);
    }

    [Fact]
    public void AFineTuneThatBeatsTheServingModel_IsPromoted_Registered_AndPublished()
    {
        var (service, state, registry) = Build();
        var parent = state.Serving;
        Assert.Equal(GateVerdict.Promoted, service.RetrainNow(SourceKind.Tick, TriggerReason.Manual, TestContext.Current.CancellationToken));

        var promoted = state.Serving;
        Assert.NotSame(parent, promoted);
        Assert.StartsWith("tick-ft", promoted.Metadata.Version, StringComparison.Ordinal);
        Assert.True(promoted.Metadata.Metrics["holdout_nll"] <= promoted.Metadata.Metrics["parent_holdout_nll"] - 0.01);
        Assert.True(promoted.Metadata.Metrics["holdout_rmse"] <= promoted.Metadata.Metrics["parent_holdout_rmse"]);
        // The serving model itself was not trained in place.
        Assert.NotEqual(parent.HeadWeight, promoted.HeadWeight);
        var entry = Assert.Single(registry.List("tick"), e => e.Version == promoted.Metadata.Version);
        Assert.Equal("tick-base", entry.Metadata.ParentVersion);
        Assert.Equal(promoted.Metadata.Version, registry.ServingVersion("tick"));
        Assert.StartsWith("replay-seq:", ModelFileMetadata(registry, promoted.Metadata.Version).TrainedFrom, StringComparison.Ordinal);
        Assert.Equal(1, service.Counters(SourceKind.Tick)!.Verdicts(GateVerdict.Promoted));
    }

    [Fact]
    public void ACandidateThatDoesNotBeatTheMargin_IsDiscarded_AndTheReasonCounted()
    {
        var (service, state, registry) = Build(margin: 50);
        var parent = state.Serving;
        Assert.Equal(GateVerdict.NllNotBetter, service.RetrainNow(SourceKind.Tick, TriggerReason.Drift, TestContext.Current.CancellationToken));
        Assert.Same(parent, state.Serving);
        Assert.Equal("tick-base", registry.ServingVersion("tick") ?? "tick-base");
        Assert.Single(registry.List("tick"));
        var counters = service.Counters(SourceKind.Tick)!;
        Assert.Equal(1, counters.Verdicts(GateVerdict.NllNotBetter));
        Assert.Equal(0, counters.Verdicts(GateVerdict.Promoted));
        Assert.Equal(1, counters.FineTunes);
    }

    [Fact]
    public void TooLittleHistory_SkipsTheFineTune()
    {
        var model = LstmModel.CreateRandom(new LstmConfig(2, 8, 1, 2), 1);
        var online = new OnlineLearning(new Dictionary<SourceKind, LstmModel> { [SourceKind.Tick] = model }, Options(""));
        var service = new OnlineTrainerService(online, TimeProvider.System, NullLogger<OnlineTrainerService>.Instance);
        Serve(online.For(SourceKind.Tick)!, keys: 2, events: 20);
        Assert.Null(service.RetrainNow(SourceKind.Tick, TriggerReason.Events, TestContext.Current.CancellationToken));
        Assert.Equal(1, service.Counters(SourceKind.Tick)!.Skipped);
        Assert.Same(model, online.For(SourceKind.Tick)!.Serving);
    }

    private static ModelMetadata ModelFileMetadata(ModelRegistry registry, string version) => StreamLstm.Model.Weights.ModelFile.Load(registry.PathOf(version)).Metadata;
}
