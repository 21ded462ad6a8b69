using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using StreamLstm.Streaming.Web.Endpoints;

namespace StreamLstm.Web.Tests.Hosting;

/// <summary>The bearer-token middleware on a real Kestrel.</summary>
public sealed class BearerTokenTests
{
    private const string Token = "0123456789abcdef-token";

    [Fact]
    public async Task Requests_need_the_token_except_health_probes()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.UseMiddleware<BearerTokenMiddleware>(Token);
        app.MapGet("/api/keys", () => "keys");
        app.MapGet("/health/ready", () => "ready");
        await app.StartAsync(TestContext.Current.CancellationToken);
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/keys")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/keys?access_token=wrong-token-0000000")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/keys?access_token=" + Token)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/keys");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }
}
