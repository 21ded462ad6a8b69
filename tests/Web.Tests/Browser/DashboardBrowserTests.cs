using Microsoft.Playwright;
using StreamLstm.Web.Tests.Support;

namespace StreamLstm.Web.Tests.Browser;

/// <summary>The dashboard in a real browser (headless chromium) against a running demo.</summary>
[Collection(DemoCollection.Name)]
public sealed class DashboardBrowserTests(DemoFixture fixture)
{
    private static readonly float Timeout = 60_000;

    [Fact]
    public async Task Page_loads_with_the_overview_of_every_kind_and_writes_a_screenshot()
    {
        var page = await NewPageAsync();
        await page.GotoAsync(fixture.Url + "/");
        await page.WaitForSelectorAsync("#status[data-state='live']", new() { Timeout = Timeout });
        // Overview rows arrive with the first status sample; the rate becomes a number once two samples exist.
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#kinds tbody tr').length === 3 && /\\d/.test(document.getElementById('t-events').textContent)", null, new() { Timeout = Timeout });
        var kinds = await page.Locator("#kinds tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.kind)");
        Assert.Equal(["tick", "vitals", "audio"], kinds);
        await Screenshot(page, "dashboard-overview.png");
    }

    [Fact]
    public async Task Chart_of_a_key_found_by_search_updates_with_live_data()
    {
        var page = await NewPageAsync();
        await page.GotoAsync(fixture.Url + "/");
        await page.WaitForSelectorAsync("#status[data-state='live']", new() { Timeout = Timeout });
        // Keys are known once the pipeline has forecast them: wait for the overview to count tick keys.
        await page.WaitForFunctionAsync("() => { const r = document.querySelector('#kinds tr[data-kind=tick]'); return r && +r.cells[5].textContent.replace(/,/g, '') > 0; }", null, new() { Timeout = Timeout });
        await page.SelectOptionAsync("#kind", "tick");
        await page.FillAsync("#key-search", "SYM00");
        await page.WaitForSelectorAsync("#key-results li[data-key^='SYM00']", new() { Timeout = Timeout });
        var key = await page.Locator("#key-results li").First.GetAttributeAsync("data-key");
        Assert.StartsWith("SYM00", key);
        await page.Locator("#key-results li").First.DispatchEventAsync("mousedown");
        await page.WaitForFunctionAsync("() => +document.getElementById('key-chart').dataset.points >= 3", null, new() { Timeout = Timeout });
        var first = int.Parse(await page.Locator("#key-chart").GetAttributeAsync("data-points") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        // Live: more points keep arriving, and they are the chosen key's.
        await page.WaitForFunctionAsync($"() => +document.getElementById('key-chart').dataset.points > {first}", null, new() { Timeout = Timeout });
        var keys = await page.EvaluateAsync<string[]>("() => window.streamlstm.points.map(p => p.key)");
        Assert.All(keys, k => Assert.Equal(key, k));
        var horizons = await page.EvaluateAsync<int>("() => window.streamlstm.points[0].mu.length");
        Assert.Equal(5, horizons);
        Assert.Equal(1, await page.Locator("#key-chart canvas").CountAsync());
        await Screenshot(page, "dashboard.png");
    }

    [Fact]
    public async Task An_injected_anomaly_appears_in_the_live_alert_list()
    {
        var page = await NewPageAsync();
        await page.GotoAsync(fixture.Url + "/");
        await page.WaitForSelectorAsync("#status[data-state='live']", new() { Timeout = Timeout });
        var key = "INJECTED-" + Guid.NewGuid().ToString("N")[..8];
        await SpikeInjector.ProduceAsync(fixture.BootstrapServers, key);
        var item = page.Locator($"#alert-list li[data-key='{key}'][data-state='raised']");
        await item.First.WaitForAsync(new() { Timeout = Timeout });
        Assert.Equal("tick", await item.First.GetAttributeAsync("data-kind"));
        Assert.Equal(SpikeInjector.SpikePrice, double.Parse(await item.First.GetAttributeAsync("data-observed") ?? "NaN", System.Globalization.CultureInfo.InvariantCulture));
        await Screenshot(page, "dashboard-alert.png");
    }

    private async Task<IPage> NewPageAsync()
    {
        var context = await fixture.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1400, Height = 1000 } });
        return await context.NewPageAsync();
    }

    private static async Task Screenshot(IPage page, string name) =>
        await page.ScreenshotAsync(new() { Path = Path.Combine(RepoPaths.Artifacts("screenshots"), name), FullPage = true });
}
