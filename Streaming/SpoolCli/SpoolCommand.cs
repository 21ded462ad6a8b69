using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.Spool;

namespace StreamLstm.Streaming.SpoolCli;

/// <summary>
/// <c>spool list|replay|drop</c>: the InfluxDB spool keeps one directory per destination (URL + database or bucket); these
/// commands show what waits where, send it (to its own destination, or with confirmation to another), or delete it.
/// </summary>
public static class SpoolCommand
{
    /// <summary>Flag that confirms sending a spool to a destination other than the recorded one.</summary>
    public const string ConfirmOtherFlag = "--yes-send-elsewhere";

    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("spool", "The InfluxDB spool: list what waits for which destination, replay it, or drop it.");
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateReplay());
        command.Subcommands.Add(CreateDrop());
        return command;
    }

    private static Option<string> DirOption() => new("--dir") { Description = "Spool root (Sink:Spool:Directory).", DefaultValueFactory = _ => Path.Combine("artifacts", "spool") };

    private static Command CreateList()
    {
        var dir = DirOption();
        var list = new Command("list", "One row per destination: key, destination, segments, points, bytes, oldest segment.");
        list.Options.Add(dir);
        list.SetAction(parse => List(parse.GetValue(dir)!, parse.InvocationConfiguration.Output));
        return list;
    }

    private static Command CreateReplay()
    {
        var key = new Argument<string>("key") { Description = "Spool key from 'spool list' (or a unique prefix); 'unbound' for segments without a recorded destination." };
        var dir = DirOption();
        var dlq = new Option<string>("--dlq") { Description = "Dead-letter directory for points InfluxDB rejects.", DefaultValueFactory = _ => Path.Combine("artifacts", "dlq") };
        var user = new Option<string?>("--username") { Description = "v1 user name (or STREAMLSTM_Sink__Influx__Username)." };
        var password = new Option<string?>("--password") { Description = "v1 password (or STREAMLSTM_Sink__Influx__Password)." };
        var token = new Option<string?>("--token") { Description = "v2 API token (or STREAMLSTM_Sink__Influx__Token)." };
        var to = new Option<string?>("--to") { Description = "Send to this InfluxDB URL instead of the recorded destination (needs " + ConfirmOtherFlag + ")." };
        var db = new Option<string?>("--db") { Description = "With --to: v1 database." };
        var rp = new Option<string?>("--rp") { Description = "With --to: v1 retention policy." };
        var org = new Option<string?>("--org") { Description = "With --to: v2 organisation." };
        var bucket = new Option<string?>("--bucket") { Description = "With --to: v2 bucket." };
        var confirm = new Option<bool>(ConfirmOtherFlag) { Description = "Confirm that the batches go to the --to destination, not the one they were spooled for." };
        var timeout = new Option<TimeSpan>("--timeout") { Description = "How long to wait for InfluxDB to take everything.", DefaultValueFactory = _ => TimeSpan.FromMinutes(2) };
        var replay = new Command("replay", "Send one spool's batches to its recorded destination (or, confirmed, to --to); what InfluxDB does not take stays spooled.");
        replay.Arguments.Add(key);
        foreach (var o in new Option[] { dir, dlq, user, password, token, to, db, rp, org, bucket, confirm, timeout })
        {
            replay.Options.Add(o);
        }

        replay.SetAction((parse, ct) => ReplayAsync(
            new ReplayRequest(parse.GetValue(dir)!, parse.GetValue(key)!, parse.GetValue(dlq)!, parse.GetValue(to), parse.GetValue(db), parse.GetValue(rp), parse.GetValue(org), parse.GetValue(bucket), parse.GetValue(confirm), parse.GetValue(timeout))
            {
                Username = parse.GetValue(user) ?? Environment.GetEnvironmentVariable("STREAMLSTM_Sink__Influx__Username"),
                Password = parse.GetValue(password) ?? Environment.GetEnvironmentVariable("STREAMLSTM_Sink__Influx__Password"),
                Token = parse.GetValue(token) ?? Environment.GetEnvironmentVariable("STREAMLSTM_Sink__Influx__Token"),
            },
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error,
            ct));
        return replay;
    }

    private static Command CreateDrop()
    {
        var key = new Argument<string>("key") { Description = "Spool key from 'spool list' (or a unique prefix); 'unbound' for segments without a recorded destination." };
        var dir = DirOption();
        var yes = new Option<bool>("--yes") { Description = "Confirm deleting the batches (they are not sent anywhere)." };
        var drop = new Command("drop", "Delete one spool's batches (needs --yes).");
        drop.Arguments.Add(key);
        drop.Options.Add(dir);
        drop.Options.Add(yes);
        drop.SetAction(parse => Drop(parse.GetValue(dir)!, parse.GetValue(key)!, parse.GetValue(yes), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return drop;
    }

    /// <summary>The <c>spool list</c> action.</summary>
    /// <param name="root">Spool root.</param>
    /// <param name="stdout">Output.</param>
    /// <returns>Exit code 0.</returns>
    internal static int List(string root, TextWriter stdout)
    {
        var entries = SpoolCatalog.List(root);
        if (entries.Count == 0)
        {
            stdout.WriteLine($"spool {Path.GetFullPath(root)} is empty.");
            return 0;
        }

        stdout.WriteLine("| key | destination | segments | points | bytes | oldest segment (UTC) |");
        stdout.WriteLine("|---|---|---:|---:|---:|---|");
        foreach (var e in entries)
        {
            var destination = e.Destination?.ToString() ?? "(unbound: written before destinations were recorded)";
            var oldest = e.Stats.Oldest?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-";
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {e.Key} | {destination} | {e.Stats.Segments} | {e.Stats.Points:N0} | {e.Stats.Bytes:N0} | {oldest} |"));
        }

        return 0;
    }

    /// <summary>The <c>spool replay</c> action: 0 when everything was delivered (or dead-lettered), 1 when some stays spooled, 2 on a usage error.</summary>
    /// <param name="request">What to replay where.</param>
    /// <param name="stdout">Output.</param>
    /// <param name="stderr">Errors.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Exit code.</returns>
    internal static async Task<int> ReplayAsync(ReplayRequest request, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        SpoolEntry entry;
        try
        {
            entry = SpoolCatalog.Find(request.Root, request.Key);
        }
        catch (ArgumentException e)
        {
            await stderr.WriteLineAsync("spool replay: " + e.Message).ConfigureAwait(false);
            return 2;
        }

        var credentials = new InfluxOptions { Username = request.Username, Password = request.Password, Token = request.Token };
        InfluxOptions target;
        if (request.To is null)
        {
            if (entry.Destination is null)
            {
                await stderr.WriteLineAsync($"spool replay: '{entry.Key}' has no recorded destination; give --to URL with --db (or --org/--bucket) and {ConfirmOtherFlag}.").ConfigureAwait(false);
                return 2;
            }

            target = SpoolReplayer.OptionsFor(entry.Destination, credentials);
        }
        else
        {
            target = credentials.Clone();
            target.Url = request.To;
            target.Database = request.Database;
            target.RetentionPolicy = request.RetentionPolicy;
            target.Org = request.Org;
            target.Bucket = request.Bucket;
            target.MoveUrlCredentials();
            if (!(entry.Destination?.SameAs(target.GetDestination()) ?? false) && !request.ConfirmOther)
            {
                await stderr.WriteLineAsync($"spool replay: '{entry.Key}' was spooled for {entry.Destination?.ToString() ?? "an unrecorded destination"}; sending it to {target.GetDestination()} needs {ConfirmOtherFlag}.").ConfigureAwait(false);
                return 2;
            }
        }

        var problems = target.Validate().ToList();
        if (problems.Count > 0)
        {
            await stderr.WriteLineAsync("spool replay: " + string.Join(" ", problems)).ConfigureAwait(false);
            return 2;
        }

        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var result = await SpoolReplayer.ReplayAsync(http, request.Root, entry, target, request.ConfirmOther, request.DeadLetterDirectory, request.Timeout, TimeProvider.System, loggers.CreateLogger("spool"), cancellationToken).ConfigureAwait(false);
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"spool {entry.Key} → {result.Target}: {result.PointsBefore:N0} points waiting, {result.PointsDelivered:N0} delivered, {result.PointsDeadLettered:N0} rejected (dead-lettered), {result.PointsLeft:N0} still spooled.")).ConfigureAwait(false);
        return result.PointsLeft == 0 ? 0 : 1;
    }

    /// <summary>The <c>spool drop</c> action: 0 when dropped, 2 without <c>--yes</c> or when the spool is unknown or in use.</summary>
    /// <param name="root">Spool root.</param>
    /// <param name="key">Key or prefix.</param>
    /// <param name="yes">Confirmation.</param>
    /// <param name="stdout">Output.</param>
    /// <param name="stderr">Errors.</param>
    /// <returns>Exit code.</returns>
    internal static int Drop(string root, string key, bool yes, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            var entry = SpoolCatalog.Find(root, key);
            if (!yes)
            {
                stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"spool drop: this deletes {entry.Stats.Points:N0} points spooled for {entry.Destination?.ToString() ?? "an unrecorded destination"}; add --yes to confirm."));
                return 2;
            }

            var segments = SpoolCatalog.Drop(root, entry);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"spool {entry.Key}: deleted {segments} segments ({entry.Stats.Points:N0} points)."));
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or IOException)
        {
            stderr.WriteLine("spool drop: " + e.Message);
            return 2;
        }
    }

    /// <summary>Arguments of <c>spool replay</c>.</summary>
    /// <param name="Root">Spool root.</param>
    /// <param name="Key">Spool key or prefix.</param>
    /// <param name="DeadLetterDirectory">Dead-letter directory.</param>
    /// <param name="To">Other destination URL, or null for the recorded one.</param>
    /// <param name="Database">v1 database with <paramref name="To"/>.</param>
    /// <param name="RetentionPolicy">v1 retention policy with <paramref name="To"/>.</param>
    /// <param name="Org">v2 org with <paramref name="To"/>.</param>
    /// <param name="Bucket">v2 bucket with <paramref name="To"/>.</param>
    /// <param name="ConfirmOther">The confirmation flag.</param>
    /// <param name="Timeout">Wait for InfluxDB at most this long.</param>
    internal sealed record ReplayRequest(string Root, string Key, string DeadLetterDirectory, string? To, string? Database, string? RetentionPolicy, string? Org, string? Bucket, bool ConfirmOther, TimeSpan Timeout)
    {
        public string? Username { get; init; }

        public string? Password { get; init; }

        public string? Token { get; init; }
    }
}
