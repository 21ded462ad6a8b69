using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Cli;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Web.Endpoints;

namespace StreamLstm.Streaming.Tests.Online;

public class RetrainEndpointTests
{
    private static async Task<WebApplication> StartAsync(OnlineLearning? online, OnlineTrainerService? service)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        if (online is not null) builder.Services.AddSingleton(online);
        if (service is not null) builder.Services.AddSingleton(service);
        var app = builder.Build();
        app.MapOnline();
        await app.StartAsync(TestContext.Current.CancellationToken);
        return app;
    }

    [Fact]
    public async Task TheRetrainCommand_PostsToTheEndpoint_WhichQueuesAManualFineTune()
    {
        var ct = TestContext.Current.CancellationToken;
        var online = new OnlineLearning(new Dictionary<SourceKind, LstmModel> { [SourceKind.Tick] = LstmModel.CreateRandom(new LstmConfig(2, 8, 1, 2), 3) },
            new OnlineOptions { Window = 128, SnapshotEvery = 16, WindowLength = 16, BatchSize = 8, Epochs = 2, HoldoutKeys = 2, MinWindows = 2, EveryEvents = 0, EveryInterval = TimeSpan.Zero, DriftLambda = 0 });
        OnlineTrainerTests.Serve(online.For(SourceKind.Tick)!, keys: 4, events: 120);
        using var service = new OnlineTrainerService(online, TimeProvider.System, NullLogger<OnlineTrainerService>.Instance);
        await service.StartAsync(ct);
        await using var app = await StartAsync(online, service);
        var url = app.Urls.First();

        var output = new StringWriter();
        var error = new StringWriter();
        var code = await CommandLineApp.Build().Parse(["model", "retrain", "tick", "--url", url]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = error }, ct);
        Assert.True(code == 0, error.ToString());
        Assert.StartsWith("202", output.ToString(), StringComparison.Ordinal);
        var counters = service.Counters(SourceKind.Tick)!;
        Assert.True(SpinWait.SpinUntil(() => counters.FineTunes == 1, TimeSpan.FromSeconds(60)), "waiting for the fine-tune the command asked for");

        using var http = new HttpClient();
        var status = await http.GetStringAsync(new Uri(url + "/api/models/tick/online"), ct);
        Assert.Contains("\"fineTunes\":1", status, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync(new Uri(url + "/api/models/audio/retrain"), null, ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync(new Uri(url + "/api/models/bogus/retrain"), null, ct)).StatusCode);
        await service.StopAsync(ct);
    }

    [Fact]
    public async Task WithOnlineLearningOff_TheEndpointSaysSo_AndTheCommandFails()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var app = await StartAsync(null, null);
        var url = app.Urls.First();
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsync(new Uri(url + "/api/models/tick/retrain"), null, ct)).StatusCode);
        var error = new StringWriter();
        var code = await CommandLineApp.Build().Parse(["model", "retrain", "tick", "--url", url]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = new StringWriter(), Error = error }, ct);
        Assert.Equal(1, code);
        Assert.Contains("Online:Enabled=false", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("notaurl")]
    [InlineData("ftp://host:21")]
    [InlineData("http://")]
    public async Task ACommandWithAnAddressThatIsNotHttp_SaysSo_WithExitTwo(string url)
    {
        var error = new StringWriter();
        var code = await CommandLineApp.Build().Parse(["model", "retrain", "tick", "--url", url]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = new StringWriter(), Error = error }, TestContext.Current.CancellationToken);
        Assert.Equal(2, code);
        Assert.Contains("is not an http(s) address", error.ToString(), StringComparison.Ordinal);
    }
}
