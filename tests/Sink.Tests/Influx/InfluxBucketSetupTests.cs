using System.Text.Json;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Influx;

/// <summary>
/// <c>influx setup</c> through InfluxDB.Client against a recording HTTP server that answers like the InfluxDB 2.x API
/// (there is no 2.x server on this machine; Debian ships 1.6.7).
/// </summary>
public sealed class InfluxBucketSetupTests : IDisposable
{
    private const string OrgId = "0a1b2c3d4e5f6071";
    private readonly RecordingServer _server = new();
    private string? _existingBucket;

    public InfluxBucketSetupTests()
    {
        _server.Handler = r => (r.Method, r.Path) switch
        {
            ("GET", "/api/v2/orgs") => new Answer(200, $"{{\"orgs\":[{{\"id\":\"{OrgId}\",\"name\":\"acme\"}}]}}"),
            ("GET", "/api/v2/buckets") => new Answer(200, $"{{\"buckets\":[{_existingBucket}]}}"),
            ("POST", "/api/v2/buckets") => new Answer(201, Echo(r.Body, "b-new")),
            ("PATCH", var p) when p.StartsWith("/api/v2/buckets/", StringComparison.Ordinal) => new Answer(200, Echo(r.Body, p["/api/v2/buckets/".Length..])),
            _ => new Answer(404, "{\"code\":\"not found\",\"message\":\"no route\"}"),
        };
    }

    [Fact]
    public async Task Setup_CreatesTheBucketInTheOrg_WithItsRetention_AndTheToken()
    {
        var ct = TestContext.Current.CancellationToken;
        var result = await InfluxBucketSetup.EnsureBucketAsync(_server.Url, "tok-123", "acme", "forecasts", TimeSpan.FromDays(30), new HttpClient(), ct);
        Assert.Equal(BucketSetupAction.Created, result.Action);
        Assert.Equal("b-new", result.BucketId);
        Assert.Equal(OrgId, result.OrgId);
        Assert.Equal(30 * 86400, result.RetentionSeconds);

        var create = Assert.Single(_server.Requests, r => r.Method == "POST");
        Assert.Equal("Token tok-123", create.Authorization);
        using var body = JsonDocument.Parse(create.Body);
        Assert.Equal("forecasts", body.RootElement.GetProperty("name").GetString());
        Assert.Equal(OrgId, body.RootElement.GetProperty("orgID").GetString());
        var rule = Assert.Single(body.RootElement.GetProperty("retentionRules").EnumerateArray());
        Assert.Equal(30 * 86400, rule.GetProperty("everySeconds").GetInt64());
        Assert.Equal("expire", rule.GetProperty("type").GetString());
        Assert.Contains(_server.Requests, r => r.Method == "GET" && r.PathAndQuery.Contains("org=acme", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Setup_OfAnExistingBucket_UpdatesOnlyADifferentRetention()
    {
        var ct = TestContext.Current.CancellationToken;
        _existingBucket = $"{{\"id\":\"b-1\",\"name\":\"forecasts\",\"orgID\":\"{OrgId}\",\"retentionRules\":[{{\"type\":\"expire\",\"everySeconds\":3600}}]}}";
        var same = await InfluxBucketSetup.EnsureBucketAsync(_server.Url, "t", "acme", "forecasts", TimeSpan.FromHours(1), new HttpClient(), ct);
        Assert.Equal(BucketSetupAction.Unchanged, same.Action);
        Assert.DoesNotContain(_server.Requests, r => r.Method is "POST" or "PATCH");

        var changed = await InfluxBucketSetup.EnsureBucketAsync(_server.Url, "t", "acme", "forecasts", TimeSpan.Zero, new HttpClient(), ct);
        Assert.Equal(BucketSetupAction.RetentionUpdated, changed.Action);
        var patch = Assert.Single(_server.Requests, r => r.Method == "PATCH");
        Assert.Equal("/api/v2/buckets/b-1", patch.Path);
        using var body = JsonDocument.Parse(patch.Body);
        Assert.Empty(body.RootElement.GetProperty("retentionRules").EnumerateArray());
    }

    [Fact]
    public async Task Setup_ForAnUnknownOrg_SaysSo()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => InfluxBucketSetup.EnsureBucketAsync(_server.Url, "t", "nobody", "forecasts", TimeSpan.FromDays(1), new HttpClient(), TestContext.Current.CancellationToken));
        Assert.Contains("no organisation 'nobody'", e.Message);
    }

    [Theory]
    [InlineData("30d", 30 * 86400)]
    [InlineData("12h", 12 * 3600)]
    [InlineData("90m", 90 * 60)]
    [InlineData("2w", 14 * 86400)]
    [InlineData("0", 0)]
    [InlineData("infinite", 0)]
    [InlineData("1.00:00:00", 86400)]
    public void Retention_Parses(string text, long seconds) => Assert.Equal(seconds, (long)InfluxBucketSetup.ParseRetention(text).TotalSeconds);

    public void Dispose() => _server.Dispose();

    /// <summary>The created/updated bucket as the server returns it: the request plus an id.</summary>
    private static string Echo(string requestBody, string id)
    {
        using var doc = JsonDocument.Parse(requestBody);
        var fields = doc.RootElement.EnumerateObject().Where(p => p.Name != "id").Select(p => $"\"{p.Name}\":{p.Value.GetRawText()}");
        return "{\"id\":\"" + id + "\"," + string.Join(',', fields) + "}";
    }
}
