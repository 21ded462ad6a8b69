using InfluxDB.Client;
using InfluxDB.Client.Api.Domain;

namespace StreamLstm.Sink.Influx;

/// <summary>What <see cref="InfluxBucketSetup.EnsureBucketAsync"/> did.</summary>
public enum BucketSetupAction
{
    /// <summary>The bucket did not exist and was created with the retention.</summary>
    Created,

    /// <summary>The bucket existed with another retention, which was changed.</summary>
    RetentionUpdated,

    /// <summary>The bucket existed with this retention already.</summary>
    Unchanged,
}

/// <summary>Result of a bucket setup.</summary>
/// <param name="Action">What was done.</param>
/// <param name="BucketId">The bucket's id.</param>
/// <param name="OrgId">The organisation's id.</param>
/// <param name="RetentionSeconds">Retention now in force (0 = keep forever).</param>
public sealed record BucketSetupResult(BucketSetupAction Action, string BucketId, string OrgId, long RetentionSeconds);

/// <summary>Creates the InfluxDB 2.x/3.x bucket the sink writes to, with its retention (<c>streamlstm influx setup</c>), through InfluxDB.Client.</summary>
public static class InfluxBucketSetup
{
    /// <summary>Creates <paramref name="bucket"/> in <paramref name="org"/>, or brings its retention to <paramref name="retention"/>. Idempotent.</summary>
    /// <param name="url">Server URL (credentials in it are ignored: v2 uses the token).</param>
    /// <param name="token">API token allowed to read the org and write buckets.</param>
    /// <param name="org">Organisation name.</param>
    /// <param name="bucket">Bucket name.</param>
    /// <param name="retention">Data older than this expires; <see cref="TimeSpan.Zero"/> keeps it forever.</param>
    /// <param name="http">HTTP client (null: the client makes its own).</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>What was done.</returns>
    /// <exception cref="InvalidOperationException">The organisation does not exist.</exception>
    public static async Task<BucketSetupResult> EnsureBucketAsync(string url, string token, string org, string bucket, TimeSpan retention, HttpClient? http, CancellationToken cancellationToken)
    {
        var options = new InfluxDBClientOptions(InfluxOptions.StripUserInfo(url)) { Token = token, Org = org };
        if (http is not null)
        {
            options.HttpClient = http;
        }

        using var client = new InfluxDBClient(options);
        var orgs = await client.GetOrganizationsApi().FindOrganizationsAsync(org: org, cancellationToken: cancellationToken).ConfigureAwait(false);
        var found = orgs.FirstOrDefault(o => o.Name == org)
            ?? throw new InvalidOperationException($"InfluxDB at {InfluxOptions.StripUserInfo(url)} has no organisation '{org}' visible to this token.");
        var seconds = (long)retention.TotalSeconds;
        List<BucketRetentionRules> rules = seconds > 0 ? [new BucketRetentionRules(BucketRetentionRules.TypeEnum.Expire, seconds)] : [];
        var buckets = client.GetBucketsApi();
        var existing = (await buckets.FindBucketsAsync(name: bucket, orgID: found.Id, cancellationToken: cancellationToken).ConfigureAwait(false))
            .FirstOrDefault(b => b.Name == bucket);
        if (existing is null)
        {
            var created = await buckets.CreateBucketAsync(new Bucket(name: bucket, orgID: found.Id, retentionRules: rules), cancellationToken).ConfigureAwait(false);
            return new BucketSetupResult(BucketSetupAction.Created, created.Id, found.Id, seconds);
        }

        var current = existing.RetentionRules?.FirstOrDefault(r => r.Type == BucketRetentionRules.TypeEnum.Expire)?.EverySeconds ?? 0;
        if (current == seconds)
        {
            return new BucketSetupResult(BucketSetupAction.Unchanged, existing.Id, found.Id, seconds);
        }

        existing.RetentionRules = rules;
        var updated = await buckets.UpdateBucketAsync(existing, cancellationToken).ConfigureAwait(false);
        return new BucketSetupResult(BucketSetupAction.RetentionUpdated, updated.Id, found.Id, seconds);
    }

    /// <summary>Parses a retention such as <c>30d</c>, <c>12h</c>, <c>90m</c>, <c>3600s</c>, <c>1w</c>, or <c>0</c>/<c>infinite</c> (keep forever).</summary>
    /// <param name="text">Text.</param>
    /// <returns>The retention.</returns>
    /// <exception cref="FormatException">Not a duration.</exception>
    public static TimeSpan ParseRetention(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t is "0" or "inf" or "infinite" or "forever")
        {
            return TimeSpan.Zero;
        }

        var unit = t[^1];
        if (char.IsAsciiLetter(unit) && long.TryParse(t[..^1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            return unit switch
            {
                's' => TimeSpan.FromSeconds(n),
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                'w' => TimeSpan.FromDays(7 * n),
                _ => throw new FormatException($"Unknown retention unit in '{text}': use s, m, h, d or w (e.g. 30d), or 0 for infinite."),
            };
        }

        return TimeSpan.TryParse(t, System.Globalization.CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero
            ? span
            : throw new FormatException($"'{text}' is not a retention: use e.g. 30d, 12h, 90m, or 0 for infinite.");
    }
}
