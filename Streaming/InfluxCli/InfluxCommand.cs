using System.CommandLine;
using System.Globalization;
using StreamLstm.Sink.Influx;

namespace StreamLstm.Streaming.InfluxCli;

/// <summary><c>influx setup</c>: creates the InfluxDB 2.x/3.x bucket the sink writes to, with its retention (through InfluxDB.Client).</summary>
public static class InfluxCommand
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("influx", "InfluxDB tools.");
        command.Subcommands.Add(CreateSetup());
        return command;
    }

    private static Command CreateSetup()
    {
        var url = new Option<string>("--url") { Description = "InfluxDB 2.x/3.x URL.", DefaultValueFactory = _ => "http://127.0.0.1:8086" };
        var org = new Option<string>("--org") { Description = "Organisation (must exist).", Required = true };
        var bucket = new Option<string>("--bucket") { Description = "Bucket to create (or whose retention to set).", Required = true };
        var retention = new Option<string>("--retention") { Description = "Retention: e.g. 30d, 12h, 2w; 0 keeps data forever.", DefaultValueFactory = _ => "30d" };
        var token = new Option<string?>("--token") { Description = "API token allowed to create buckets (or STREAMLSTM_Sink__Influx__Token)." };
        var setup = new Command("setup", "Create the bucket with its retention (idempotent: an existing bucket only gets its retention set). Not for InfluxDB 1.x.");
        foreach (var o in new Option[] { url, org, bucket, retention, token })
        {
            setup.Options.Add(o);
        }

        setup.SetAction((parse, ct) => SetupAsync(
            parse.GetValue(url)!,
            parse.GetValue(org)!,
            parse.GetValue(bucket)!,
            parse.GetValue(retention)!,
            parse.GetValue(token) ?? Environment.GetEnvironmentVariable("STREAMLSTM_Sink__Influx__Token"),
            null,
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error,
            ct));
        return setup;
    }

    /// <summary>The <c>influx setup</c> action: 0 on success, 1 when the server refuses, 2 on a usage error.</summary>
    /// <param name="url">Server URL.</param>
    /// <param name="org">Organisation.</param>
    /// <param name="bucket">Bucket.</param>
    /// <param name="retention">Retention text.</param>
    /// <param name="token">Token.</param>
    /// <param name="http">HTTP client (null: the client's own).</param>
    /// <param name="stdout">Output.</param>
    /// <param name="stderr">Errors.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Exit code.</returns>
    internal static async Task<int> SetupAsync(string url, string org, string bucket, string retention, string? token, HttpClient? http, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        TimeSpan keep;
        try
        {
            keep = InfluxBucketSetup.ParseRetention(retention);
        }
        catch (FormatException e)
        {
            await stderr.WriteLineAsync("influx setup: " + e.Message).ConfigureAwait(false);
            return 2;
        }

        if (string.IsNullOrWhiteSpace(token))
        {
            await stderr.WriteLineAsync("influx setup: an API token is required (--token or STREAMLSTM_Sink__Influx__Token).").ConfigureAwait(false);
            return 2;
        }

        var safeUrl = InfluxOptions.StripUserInfo(url);
        try
        {
            var r = await InfluxBucketSetup.EnsureBucketAsync(url, token, org, bucket, keep, http, cancellationToken).ConfigureAwait(false);
            var kept = r.RetentionSeconds == 0 ? "forever" : TimeSpan.FromSeconds(r.RetentionSeconds).ToString("c", CultureInfo.InvariantCulture);
            var what = r.Action switch
            {
                BucketSetupAction.Created => "created",
                BucketSetupAction.RetentionUpdated => "retention updated",
                _ => "already set up",
            };
            await stdout.WriteLineAsync($"bucket '{bucket}' (id {r.BucketId}) in org '{org}' at {safeUrl}: {what}; data kept {kept}.").ConfigureAwait(false);
            await stdout.WriteLineAsync($"write to it with: --influx-url {safeUrl} --influx-org {org} --influx-bucket {bucket} --influx-token <token>").ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is InvalidOperationException or InfluxDB.Client.Core.Exceptions.InfluxException or HttpRequestException)
        {
            await stderr.WriteLineAsync($"influx setup at {safeUrl}: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}
