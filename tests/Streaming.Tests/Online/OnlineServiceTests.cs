using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Online;

namespace StreamLstm.Streaming.Tests.Online;

public sealed class OnlineServiceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("online-service-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ServiceProvider Build(bool enabled)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Online:Enabled"] = enabled ? "true" : "false", ["Online:Window"] = "128", ["Online:SnapshotEvery"] = "16", ["Online:WindowLength"] = "16",
            ["Online:BatchSize"] = "8", ["Online:Epochs"] = "2", ["Online:HoldoutKeys"] = "2", ["Online:MinWindows"] = "2",
            ["Online:EveryEvents"] = "0", ["Online:EveryInterval"] = "00:00:00", ["Online:DriftLambda"] = "0",
            ["Online:ReplayPath"] = Path.Combine(_dir, "replay"), ["Models:Registry"] = Path.Combine(_dir, "registry"),
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddSingleton(TimeProvider.System);
        services.AddOptions<ModelSettings>().Bind(config.GetSection(ModelSettings.Section));
        services.AddSingleton(new PipelineModels(new Dictionary<SourceKind, LstmModel> { [SourceKind.Tick] = LstmModel.CreateRandom(new LstmConfig(2, 8, 1, 2), 3) }));
        services.AddStreamLstmOnline(config);
        return services.BuildServiceProvider();
    }

    [Fact]
    public void Disabled_RegistersNoTrainer()
    {
        using var sp = Build(enabled: false);
        Assert.Null(sp.GetService<OnlineTrainerService>());
        Assert.Null(sp.GetService<OnlineLearning>());
    }

    [Fact]
    public async Task AManualRequest_RunsAFineTuneOnTheTrainerThread_AndTheReplayHistorySurvivesARestart()
    {
        var ct = TestContext.Current.CancellationToken;
        using (var sp = Build(enabled: true))
        {
            var online = sp.GetRequiredService<OnlineLearning>();
            Assert.Equal(Path.Combine(_dir, "registry"), online.Options.RegistryDirectory);
            OnlineTrainerTests.Serve(online.For(SourceKind.Tick)!, keys: 4, events: 120);
            var service = sp.GetRequiredService<OnlineTrainerService>();
            Assert.Contains(service, sp.GetServices<IHostedService>());
            await service.StartAsync(ct);
            Assert.False(service.RequestRetrain(SourceKind.Audio));
            Assert.True(service.RequestRetrain(SourceKind.Tick));
            var counters = service.Counters(SourceKind.Tick)!;
            Assert.True(SpinWait.SpinUntil(() => counters.FineTunes == 1, TimeSpan.FromSeconds(60)), $"waiting for the manual fine-tune to run (skipped {counters.Skipped}, failed {counters.Failed})");
            await service.StopAsync(ct);
        }

        Assert.True(File.Exists(Path.Combine(_dir, "replay", "replay-tick.bin")));
        using (var sp = Build(enabled: true))
        {
            var service = sp.GetRequiredService<OnlineTrainerService>();
            await service.StartAsync(ct);
            // Loaded before the triggers start: the four keys' history is back.
            Assert.Equal(4, sp.GetRequiredService<OnlineLearning>().For(SourceKind.Tick)!.Replay.KeyCount);
            await service.StopAsync(ct);
        }
    }
}
