using System.Net;
using StreamLstm.Web.Tests.Support;

namespace StreamLstm.Web.Tests.Hosting;

/// <summary>The web host's HTTP contract on a running demo: page, vendored assets, health and Prometheus metrics.</summary>
[Collection(DemoCollection.Name)]
public sealed class WebContractTests(DemoFixture fixture)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    [Fact]
    public void Bootstrap_line_stays_first_and_the_dashboard_url_is_printed()
    {
        var lines = fixture.Demo.Lines;
        Assert.StartsWith("bootstrap.servers=", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("dashboard: http://127.0.0.1:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Page_and_its_assets_are_served_by_the_service()
    {
        var page = await Http.GetAsync(fixture.Url + "/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("vendor/uplot/uPlot.iife.min.js", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        foreach (var asset in new[] { "/app.js", "/app.css", "/vendor/uplot/uPlot.iife.min.js", "/vendor/uplot/uPlot.min.css" })
        {
            Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(fixture.Url + asset)).StatusCode);
        }
    }

    [Fact]
    public async Task Health_endpoints_report_live_and_ready_with_each_check()
    {
        var live = await Http.GetAsync(fixture.Url + "/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        string body = "";
        await Eventually.WaitAsync("readiness (assignment)", TimeSpan.FromSeconds(60), async () =>
        {
            var ready = await Http.GetAsync(fixture.Url + "/health/ready");
            body = await ready.Content.ReadAsStringAsync();
            return ready.StatusCode == HttpStatusCode.OK;
        });
        Assert.Contains("\"pipeline\"", body, StringComparison.Ordinal);
        Assert.Contains("\"influx\"", body, StringComparison.Ordinal);
        Assert.Contains("\"workers\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_follow_prometheus_conventions_and_cover_the_pipeline()
    {
        string text = "";
        await Eventually.WaitAsync("tick forecasts in /metrics", TimeSpan.FromSeconds(60), async () =>
        {
            text = await Http.GetStringAsync(fixture.Url + "/metrics");
            return text.Contains("streamlstm_forecasts_total{kind=\"tick\"}", StringComparison.Ordinal)
                && text.Contains("streamlstm_event_to_forecast_seconds_bucket{kind=\"tick\"", StringComparison.Ordinal);
        });
        foreach (var name in new[]
        {
            "# TYPE streamlstm_events_total counter", "# TYPE streamlstm_forecasts_total counter", "# TYPE streamlstm_dead_letters_total counter",
            "# TYPE streamlstm_late_events_total counter", "# TYPE streamlstm_consumer_lag_messages gauge", "# TYPE streamlstm_batch_size_rows histogram",
            "# TYPE streamlstm_step_seconds histogram", "# TYPE streamlstm_event_to_forecast_seconds histogram", "# TYPE streamlstm_event_to_forecast_recent_seconds gauge",
            "# TYPE streamlstm_influx_points_accepted_total counter", "# TYPE streamlstm_influx_spool_bytes gauge", "# TYPE streamlstm_alert_events_total counter",
            "# TYPE streamlstm_resident_keys gauge", "# TYPE streamlstm_model_info gauge",
        })
        {
            Assert.Contains(name, text, StringComparison.Ordinal);
        }

        Assert.Contains("streamlstm_consumer_lag_messages{topic=\"ticks\",partition=\"0\",kind=\"tick\"}", text, StringComparison.Ordinal);
        Assert.Contains("streamlstm_dead_letters_total{reason=\"malformed_json\"}", text, StringComparison.Ordinal);
    }
}
