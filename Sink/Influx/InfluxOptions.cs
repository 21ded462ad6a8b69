using StreamLstm.Sink.LineProtocol;

namespace StreamLstm.Sink.Influx;

/// <summary>Which InfluxDB write API to use.</summary>
public enum InfluxApi
{
    /// <summary><c>/write?db=&amp;rp=</c> (InfluxDB 1.x, and the 2.x/3.x compatibility API).</summary>
    V1 = 1,

    /// <summary><c>/api/v2/write?org=&amp;bucket=</c> with <c>Authorization: Token</c>.</summary>
    V2 = 2,
}

/// <summary>How v2 writes travel.</summary>
public enum InfluxV2Transport
{
    /// <summary>The official InfluxDB.Client (default).</summary>
    Client = 0,

    /// <summary>Our own HTTP request to <c>/api/v2/write</c> (kept for comparison in <c>bench sink</c>).</summary>
    Http = 1,
}

/// <summary>Connection, batching and resilience settings of the InfluxDB writer. Secrets are redacted by <see cref="ToString"/>.</summary>
public sealed class InfluxOptions
{
    /// <summary>
    /// Base URL, e.g. <c>http://127.0.0.1:8086</c>. Empty means "no InfluxDB": forecasts go to a line-protocol file.
    /// Credentials in it (<c>http://user:pass@host</c>) are moved into the Authorization header and never logged.
    /// </summary>
    public string? Url { get; set; }

    /// <summary><see cref="Url"/> without user-info: the form used in logs, messages and the spool's destination.</summary>
    public string? SafeUrl => Url is null ? null : StripUserInfo(Url);

    /// <summary>v2 only: InfluxDB.Client (default) or our own HTTP request.</summary>
    public InfluxV2Transport V2Transport { get; set; }

    /// <summary>API flavour; <see langword="null"/> picks V2 when <see cref="Bucket"/> is set, else V1.</summary>
    [System.ComponentModel.DataAnnotations.EnumDataType(typeof(InfluxApi), ErrorMessage = "Sink:Influx:Api must be V1 or V2 (or unset).")]
    public InfluxApi? Api { get; set; }

    /// <summary>V1 database.</summary>
    public string? Database { get; set; }

    /// <summary>V1 retention policy (optional).</summary>
    public string? RetentionPolicy { get; set; }

    /// <summary>V1 user name (optional; sent as HTTP Basic auth, never in the query string).</summary>
    public string? Username { get; set; }

    /// <summary>V1 password (secret).</summary>
    public string? Password { get; set; }

    /// <summary>V2 organisation.</summary>
    public string? Org { get; set; }

    /// <summary>V2 bucket.</summary>
    public string? Bucket { get; set; }

    /// <summary>V2 API token (secret).</summary>
    public string? Token { get; set; }

    /// <summary>Timestamp precision on the wire.</summary>
    [System.ComponentModel.DataAnnotations.EnumDataType(typeof(WritePrecision), ErrorMessage = "Sink:Influx:Precision must be Nanoseconds, Microseconds, Milliseconds or Seconds.")]
    public WritePrecision Precision { get; set; } = WritePrecision.Milliseconds;

    /// <summary>A batch is sent once it holds this many points.</summary>
    public int BatchMaxPoints { get; set; } = 5000;

    /// <summary>A batch is sent once it holds this many bytes.</summary>
    public int BatchMaxBytes { get; set; } = 1 << 20;

    /// <summary>A non-empty batch is sent at the latest this long after its first point.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Sealed batches waiting for the sender before writers feel backpressure.</summary>
    public int MaxQueuedBatches { get; set; } = 8;

    /// <summary>Write requests in flight at once (InfluxDB fsyncs its WAL per request, so one at a time leaves it idle).</summary>
    public int MaxInFlightRequests { get; set; } = 2;

    /// <summary>Gzip request bodies.</summary>
    public bool Gzip { get; set; }

    /// <summary>Timeout of one HTTP attempt.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00", ParseLimitsInInvariantCulture = true, ConvertValueInInvariantCulture = true, ErrorMessage = "Sink:Influx:RequestTimeout must be between {1} and {2}.")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries of one batch before it is spooled.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>First retry delay (exponential with jitter afterwards).</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00", "1.00:00:00", ParseLimitsInInvariantCulture = true, ConvertValueInInvariantCulture = true, ErrorMessage = "Sink:Influx:RetryBaseDelay must be between {1} and {2}.")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest <c>Retry-After</c> honoured.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00", "1.00:00:00", ParseLimitsInInvariantCulture = true, ConvertValueInInvariantCulture = true, ErrorMessage = "Sink:Influx:MaxRetryAfter must be between {1} and {2}.")]
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Failure ratio that opens the circuit breaker.</summary>
    public double BreakerFailureRatio { get; set; } = 0.5;

    /// <summary>Minimum attempts in <see cref="BreakerSamplingDuration"/> before the breaker may open.</summary>
    public int BreakerMinimumThroughput { get; set; } = 4;

    /// <summary>Breaker sampling window.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.500", "1.00:00:00", ParseLimitsInInvariantCulture = true, ConvertValueInInvariantCulture = true, ErrorMessage = "Sink:Influx:BreakerSamplingDuration must be between {1} and {2}.")]
    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the breaker stays open.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.500", "1.00:00:00", ParseLimitsInInvariantCulture = true, ConvertValueInInvariantCulture = true, ErrorMessage = "Sink:Influx:BreakerBreakDuration must be between {1} and {2}.")]
    public TimeSpan BreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Pause between replay attempts while InfluxDB does not answer.</summary>
    public TimeSpan ReplayProbeInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Total time one batch may take (all retries and bisection requests together) before it is spooled.</summary>
    public TimeSpan BatchTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Most extra requests spent isolating the rejected lines of one 400/413/422 batch; what is not isolated then is dead-lettered line by line.</summary>
    public int MaxBisectRequests { get; set; } = 64;

    /// <summary>First pause after a 401/403/404 (doubling on each repeat, up to <see cref="ConfigurationErrorMaxBackoff"/>).</summary>
    public TimeSpan ConfigurationErrorBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest pause between attempts while InfluxDB keeps answering 401/403/404.</summary>
    public TimeSpan ConfigurationErrorMaxBackoff { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long dispose waits for InfluxDB before spooling what is left.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00", "1.00:00:00", ParseLimitsInInvariantCulture = true, ConvertValueInInvariantCulture = true, ErrorMessage = "Sink:Influx:ShutdownTimeout must be between {1} and {2}.")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The effective API.</summary>
    public InfluxApi EffectiveApi => Api ?? (string.IsNullOrEmpty(Bucket) ? InfluxApi.V1 : InfluxApi.V2);

    /// <summary>Where this writer's points go (URL without credentials + database/rp or org/bucket): names its spool directory.
    /// A method, not a property: options validation reads every property, and this one needs a valid URL.</summary>
    /// <returns>The destination.</returns>
    public Spool.SpoolDestination GetDestination() => EffectiveApi == InfluxApi.V1
        ? new Spool.SpoolDestination { Api = "v1", Url = Spool.SpoolDestination.CanonicalUrl(SafeUrl!), Database = Database, RetentionPolicy = NullIfEmpty(RetentionPolicy) }
        : new Spool.SpoolDestination { Api = "v2", Url = Spool.SpoolDestination.CanonicalUrl(SafeUrl!), Org = Org, Bucket = Bucket };

    /// <summary>A copy of these settings.</summary>
    /// <returns>The copy.</returns>
    public InfluxOptions Clone() => (InfluxOptions)MemberwiseClone();

    /// <summary>Moves credentials given in <see cref="Url"/> into <see cref="Username"/>/<see cref="Password"/> (unless those are set) and removes them from the URL.</summary>
    public void MoveUrlCredentials()
    {
        if (Url is null || !Uri.TryCreate(Url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.UserInfo))
        {
            return;
        }

        var (user, password) = UserInfoOf(Url);
        if (string.IsNullOrEmpty(Username))
        {
            Username = user;
            Password = password;
        }

        Url = StripUserInfo(Url);
    }

    /// <summary>Removes user-info from an absolute URL; other text is returned with anything after '@' in its authority hidden.</summary>
    /// <param name="url">URL.</param>
    /// <returns>The URL without credentials.</returns>
    public static string StripUserInfo(string url)
    {
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return string.IsNullOrEmpty(uri.UserInfo)
                ? url
                : uri.GetComponents(UriComponents.AbsoluteUri & ~UriComponents.UserInfo, UriFormat.UriEscaped);
        }

        // Not a URL we can parse (validation reports it): never echo what might be a password.
        var at = url.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? url : "***" + url[at..];
    }

    /// <summary>User name and password from a URL's user-info (unescaped), or nulls.</summary>
    /// <param name="url">URL.</param>
    /// <returns>The pair.</returns>
    public static (string? User, string? Password) UserInfoOf(string? url)
    {
        if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.UserInfo))
        {
            return (null, null);
        }

        var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
        return colon < 0
            ? (Uri.UnescapeDataString(uri.UserInfo), null)
            : (Uri.UnescapeDataString(uri.UserInfo[..colon]), Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]));
    }

    /// <summary>Problems with these settings, each saying what to fix; empty when valid.</summary>
    /// <returns>The problems.</returns>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Url))
        {
            yield break;
        }

        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            yield return $"Sink:Influx:Url '{SafeUrl}' is not an absolute http(s) URL; use e.g. http://127.0.0.1:8086.";
        }
        else if (!string.IsNullOrEmpty(uri.UserInfo) && EffectiveApi == InfluxApi.V2)
        {
            yield return $"Sink:Influx:Url '{SafeUrl}' carries credentials, which the v2 API does not use: remove them and set Sink:Influx:Token.";
        }

        if (EffectiveApi == InfluxApi.V1)
        {
            if (string.IsNullOrWhiteSpace(Database))
            {
                yield return "Sink:Influx:Database is required for the v1 API (--influx-db); or set Sink:Influx:Bucket/Org/Token for v2.";
            }

            if (!string.IsNullOrEmpty(Password) && string.IsNullOrEmpty(Username) && UserInfoOf(Url).User is null)
            {
                yield return "Sink:Influx:Password is set without Sink:Influx:Username.";
            }
        }
        else
        {
            if (string.IsNullOrWhiteSpace(Org) || string.IsNullOrWhiteSpace(Bucket))
            {
                yield return "Sink:Influx:Org and Sink:Influx:Bucket are both required for the v2 API.";
            }

            if (string.IsNullOrWhiteSpace(Token))
            {
                yield return "Sink:Influx:Token is required for the v2 API (an API token with write access to the bucket).";
            }
        }

        if (BatchMaxPoints < 1)
        {
            yield return "Sink:Influx:BatchMaxPoints must be at least 1.";
        }

        if (BatchMaxBytes < 1024)
        {
            yield return "Sink:Influx:BatchMaxBytes must be at least 1024.";
        }

        if (FlushInterval <= TimeSpan.Zero || RequestTimeout <= TimeSpan.Zero || ReplayProbeInterval <= TimeSpan.Zero || BreakerBreakDuration < TimeSpan.FromMilliseconds(500))
        {
            yield return "Sink:Influx:FlushInterval, RequestTimeout and ReplayProbeInterval must be positive and BreakerBreakDuration at least 00:00:00.5.";
        }

        if (MaxRetries < 0 || MaxQueuedBatches < 1 || MaxInFlightRequests is < 1 or > 64)
        {
            yield return "Sink:Influx:MaxRetries must be >= 0, MaxQueuedBatches >= 1 and MaxInFlightRequests between 1 and 64.";
        }

        if (BreakerFailureRatio is <= 0 or > 1 || BreakerMinimumThroughput < 2)
        {
            yield return "Sink:Influx:BreakerFailureRatio must be in (0, 1] and BreakerMinimumThroughput at least 2.";
        }

        if (BatchTimeout <= TimeSpan.Zero || MaxBisectRequests < 0 || ConfigurationErrorBackoff <= TimeSpan.Zero || ConfigurationErrorMaxBackoff < ConfigurationErrorBackoff)
        {
            yield return "Sink:Influx:BatchTimeout and ConfigurationErrorBackoff must be positive, MaxBisectRequests >= 0 and ConfigurationErrorMaxBackoff >= ConfigurationErrorBackoff.";
        }
    }

    /// <summary>Settings with secrets redacted.</summary>
    /// <returns>A log-safe description.</returns>
    public override string ToString() => EffectiveApi == InfluxApi.V1
        ? $"InfluxDB v1 {SafeUrl} db={Database} rp={RetentionPolicy} user={Username} password={Redact(Password)} precision={Precision.ToV1Query()} batch={BatchMaxPoints} points/{BatchMaxBytes} bytes/{FlushInterval.TotalMilliseconds} ms gzip={Gzip}"
        : $"InfluxDB v2 {SafeUrl} org={Org} bucket={Bucket} token={Redact(Token)} transport={V2Transport} precision={Precision.ToV2Query()} batch={BatchMaxPoints} points/{BatchMaxBytes} bytes/{FlushInterval.TotalMilliseconds} ms gzip={Gzip}";

    internal static string Redact(string? secret) => string.IsNullOrEmpty(secret) ? "(none)" : "***";

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
