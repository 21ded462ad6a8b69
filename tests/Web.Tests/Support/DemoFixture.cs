using Microsoft.Playwright;

namespace StreamLstm.Web.Tests.Support;

/// <summary>
/// One running demo (child process, web host on a free loopback port, random models so it starts in seconds) and one
/// headless Debian chromium driven by Playwright, shared by a test class.
/// </summary>
public sealed class DemoFixture : IAsyncLifetime
{
    /// <summary>Debian's chromium (Playwright cannot download its own browsers here).</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    private DemoProcess? _demo;
    private IPlaywright? _playwright;

    /// <summary>The demo.</summary>
    internal DemoProcess Demo => _demo ?? throw new InvalidOperationException("not started");

    /// <summary>The browser.</summary>
    public IBrowser Browser { get; private set; } = null!;

    /// <summary>The dashboard's base URL.</summary>
    public string Url => Demo.Url;

    /// <summary>Kafka of the demo.</summary>
    public string BootstrapServers => Demo.BootstrapServers;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        // Random models alert on every symbol about once a minute (the cooldown); 40 symbols keep that flood slow enough that
        // the injected alert stays among the page's last 200 entries long enough for a loaded machine to see it.
        _demo = await DemoProcess.StartAsync(
            ["demo", "--duration", "600s", "--epochs", "0", "--symbols", "40", "--patients", "60", "--audio-streams", "20", "--workers", "2", "--urls", "http://127.0.0.1:0"],
            TimeSpan.FromMinutes(2));
        if (!File.Exists(ChromiumPath)) throw new FileNotFoundException($"{ChromiumPath} is missing: apt-get install chromium (.ci/run installs it).");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = ChromiumPath, Headless = true, Args = ["--no-sandbox"] });
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        if (_demo is not null) await _demo.DisposeAsync();
    }
}

/// <summary>Test classes that share one running demo and browser.</summary>
[CollectionDefinition(Name)]
public sealed class DemoCollection : ICollectionFixture<DemoFixture>
{
    /// <summary>Collection name.</summary>
    public const string Name = "demo";
}
