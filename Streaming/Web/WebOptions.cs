using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace StreamLstm.Streaming.Web;

/// <summary>
/// Web host settings (configuration section <c>Web</c>; the addresses also from the ASP.NET key <c>urls</c>, i.e.
/// <c>--urls</c> on the command line or <c>STREAMLSTM_urls</c>). Validated at start-up.
/// </summary>
public sealed class WebOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Web";

    /// <summary>Where the web host listens when no address is configured.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    /// <summary>Whether the web host runs (dashboard, <c>/metrics</c>, <c>/health/*</c>).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Addresses, separated by <c>;</c> (ASP.NET convention). Empty: <see cref="DefaultUrl"/>, and when that port is taken
    /// a free loopback port is used instead (and printed). A configured address that cannot be bound fails start-up.
    /// </summary>
    public string Urls { get; set; } = "";

    /// <summary>
    /// When set, every request except <c>/health/*</c> must carry <c>Authorization: Bearer TOKEN</c> (or
    /// <c>?access_token=TOKEN</c>, for the browser's EventSource). Required to bind a non-loopback address unless
    /// <see cref="AllowAnonymousRemote"/>.
    /// </summary>
    public string? BearerToken { get; set; }

    /// <summary>Explicit opt-out: allow binding a non-loopback address without a bearer token.</summary>
    public bool AllowAnonymousRemote { get; set; }

    /// <summary>Longest interval between two points of one key sent to a browser (the per-key sampling period).</summary>
    public TimeSpan KeySamplePeriod { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How often the overview is pushed.</summary>
    public TimeSpan OverviewPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Whether <see cref="Urls"/> came from configuration (else the default with its fallback applies).</summary>
    public bool UrlsConfigured => !string.IsNullOrWhiteSpace(Urls);

    /// <summary>The addresses to bind.</summary>
    public IReadOnlyList<string> Addresses => UrlsConfigured
        ? [.. Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]
        : [DefaultUrl];

    /// <summary>True when <paramref name="url"/> binds only loopback (127.0.0.0/8, ::1, localhost) or a Unix socket.</summary>
    /// <param name="url">An ASP.NET binding address.</param>
    /// <returns>True for loopback.</returns>
    public static bool IsLoopback(string url)
    {
        var address = BindingAddress.Parse(url);
        if (address.IsUnixPipe) return true;
        var host = address.Host.Trim('[', ']');
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip);
    }

    /// <summary>Problems, each saying what to fix.</summary>
    /// <returns>Messages; empty when valid.</returns>
    public IEnumerable<string> Validate()
    {
        if (!Enabled) yield break;
        foreach (var url in Addresses)
        {
            BindingAddress? parsed = null;
            string? error = null;
            try
            {
                parsed = BindingAddress.Parse(url);
            }
            catch (FormatException e)
            {
                error = e.Message;
            }

            if (parsed is null || !(parsed.IsUnixPipe || parsed.Scheme is "http" or "https"))
            {
                yield return $"urls: '{url}' is not an address like http://127.0.0.1:8080 ({error ?? "http or https only"}).";
                continue;
            }

            if (!IsLoopback(url) && string.IsNullOrWhiteSpace(BearerToken) && !AllowAnonymousRemote)
            {
                yield return $"urls: '{url}' is reachable from other machines: set Web:BearerToken (every request then needs 'Authorization: Bearer TOKEN'), or Web:AllowAnonymousRemote=true to serve it without authentication.";
            }
        }

        if (BearerToken is { Length: > 0 and < 16 })
        {
            yield return "Web:BearerToken: use at least 16 characters.";
        }

        if (KeySamplePeriod <= TimeSpan.Zero || OverviewPeriod <= TimeSpan.Zero)
        {
            yield return "Web:KeySamplePeriod and Web:OverviewPeriod must be positive.";
        }
    }
}

/// <summary>Validates <see cref="WebOptions"/> at start-up.</summary>
public sealed class WebOptionsValidator : IValidateOptions<WebOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, WebOptions options)
    {
        var failures = options.Validate().ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
