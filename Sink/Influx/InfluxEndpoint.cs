using System.Net.Http.Headers;
using System.Text;

namespace StreamLstm.Sink.Influx;

/// <summary>The write URL and authorization header for an <see cref="InfluxOptions"/>. <see cref="ToString"/> never shows secrets.</summary>
public sealed class InfluxEndpoint
{
    private InfluxEndpoint(Uri baseUri, Uri writeUri, AuthenticationHeaderValue? authorization, string description)
    {
        BaseUri = baseUri;
        WriteUri = writeUri;
        Authorization = authorization;
        Description = description;
    }

    /// <summary>Base URL with a trailing slash, without user-info (contains no secrets).</summary>
    public Uri BaseUri { get; }

    /// <summary>Write URL including the query string (contains no secrets).</summary>
    public Uri WriteUri { get; }

    /// <summary><c>Basic ...</c> (v1 with credentials), <c>Token ...</c> (v2) or none.</summary>
    public AuthenticationHeaderValue? Authorization { get; }

    /// <summary>Log-safe description.</summary>
    public string Description { get; }

    /// <summary>Builds the endpoint.</summary>
    /// <param name="options">Validated options with a URL.</param>
    /// <returns>The endpoint.</returns>
    public static InfluxEndpoint Create(InfluxOptions options)
    {
        // Credentials given in the URL (http://user:pass@host) never travel in it: they move into the Authorization header.
        var baseUrl = InfluxOptions.StripUserInfo(options.Url ?? throw new ArgumentException("Influx URL is not set.", nameof(options))).TrimEnd('/');
        var (urlUser, urlPassword) = InfluxOptions.UserInfoOf(options.Url);
        var username = string.IsNullOrEmpty(options.Username) ? urlUser : options.Username;
        var password = string.IsNullOrEmpty(options.Username) ? urlPassword : options.Password;
        var query = new StringBuilder();
        AuthenticationHeaderValue? auth = null;
        string path;
        if (options.EffectiveApi == InfluxApi.V1)
        {
            path = "/write";
            Add(query, "db", options.Database);
            Add(query, "rp", options.RetentionPolicy);
            Add(query, "precision", LineProtocol.WritePrecisionExtensions.ToV1Query(options.Precision));
            if (!string.IsNullOrEmpty(username))
            {
                // Basic auth keeps the password out of URLs, which proxies and servers tend to log.
                var raw = Encoding.UTF8.GetBytes(username + ":" + password);
                auth = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(raw));
            }
        }
        else
        {
            path = "/api/v2/write";
            Add(query, "org", options.Org);
            Add(query, "bucket", options.Bucket);
            Add(query, "precision", LineProtocol.WritePrecisionExtensions.ToV2Query(options.Precision));
            auth = new AuthenticationHeaderValue("Token", options.Token);
        }

        var uri = new Uri(baseUrl + path + "?" + query);
        var who = auth is null ? "no auth" : auth.Scheme + " ***";
        return new InfluxEndpoint(new Uri(baseUrl + "/"), uri, auth, $"{uri} ({who})");
    }

    /// <inheritdoc />
    public override string ToString() => Description;

    private static void Add(StringBuilder query, string name, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        if (query.Length > 0)
        {
            query.Append('&');
        }

        query.Append(name).Append('=').Append(Uri.EscapeDataString(value));
    }
}
