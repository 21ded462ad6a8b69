using Microsoft.Extensions.Logging;

namespace StreamLstm.Sink.Spool;

/// <summary>One spool directory under the spool root, as <c>streamlstm spool list</c> shows it.</summary>
/// <param name="Key">Directory name (the destination's <see cref="SpoolDestination.Key"/>), or <see cref="SpoolCatalog.UnboundKey"/>.</param>
/// <param name="Directory">Full path.</param>
/// <param name="Destination">Recorded destination; null for segments written before destinations were recorded.</param>
/// <param name="Stats">What it holds.</param>
public sealed record SpoolEntry(string Key, string Directory, SpoolDestination? Destination, SpoolStats Stats);

/// <summary>
/// The spool root (<see cref="SpoolOptions.Directory"/>) holds one directory per destination, named by its
/// <see cref="SpoolDestination.Key"/> and holding <c>destination.json</c>. A writer opens only its own destination's
/// directory, so batches spooled for one server and database are never sent to another. Segments lying directly in the
/// root come from versions that did not record a destination: they are "unbound", never replayed automatically, and
/// can be sent with <c>streamlstm spool replay unbound --to ...</c>.
/// </summary>
public static partial class SpoolCatalog
{
    /// <summary>Name under which segments directly in the root are listed.</summary>
    public const string UnboundKey = "unbound";

    /// <summary>The directory of <paramref name="destination"/> under <paramref name="root"/>.</summary>
    /// <param name="root">Spool root.</param>
    /// <param name="destination">Destination.</param>
    /// <returns>The directory path.</returns>
    public static string DirectoryFor(string root, SpoolDestination destination) => Path.Combine(root, destination.Key);

    /// <summary>Opens (creating if needed) the spool bound to <paramref name="destination"/>.</summary>
    /// <param name="options">Spool options; <see cref="SpoolOptions.Directory"/> is the root.</param>
    /// <param name="destination">Where the spooled batches belong.</param>
    /// <param name="deadLetterDirectory">Where unreadable bytes are moved.</param>
    /// <param name="logger">Logger.</param>
    /// <returns>The open spool.</returns>
    public static SegmentSpool OpenFor(SpoolOptions options, SpoolDestination destination, string deadLetterDirectory, ILogger logger)
    {
        PrivateFiles.EnsureDirectory(options.Directory);
        var bound = new SpoolOptions
        {
            Directory = DirectoryFor(options.Directory, destination),
            MaxBytes = options.MaxBytes,
            SegmentBytes = options.SegmentBytes,
            Fsync = options.Fsync,
            FullPolicy = options.FullPolicy,
        };
        var spool = SegmentSpool.Open(bound, deadLetterDirectory, logger);
        var recorded = SpoolDestination.Read(bound.Directory);
        if (recorded is null)
        {
            destination.Write(bound.Directory);
        }
        else if (!recorded.SameAs(destination))
        {
            spool.Dispose();
            throw new IOException($"The spool directory '{bound.Directory}' belongs to {recorded}, not to {destination}; it was renamed or copied by hand. Move it back, or use 'streamlstm spool list'.");
        }

        return spool;
    }

    /// <summary>Lists the spool directories under <paramref name="root"/> (empty ones included), unbound segments first.</summary>
    /// <param name="root">Spool root.</param>
    /// <returns>The entries.</returns>
    public static IReadOnlyList<SpoolEntry> List(string root)
    {
        var entries = new List<SpoolEntry>();
        if (!System.IO.Directory.Exists(root))
        {
            return entries;
        }

        var loose = SegmentSpool.Inspect(root);
        if (loose.Segments > 0)
        {
            entries.Add(new SpoolEntry(UnboundKey, Path.GetFullPath(root), null, loose));
        }

        foreach (var dir in System.IO.Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            var destination = SpoolDestination.Read(dir);
            var stats = SegmentSpool.Inspect(dir);
            if (destination is null && stats.Segments == 0)
            {
                continue;
            }

            entries.Add(new SpoolEntry(Path.GetFileName(dir), Path.GetFullPath(dir), destination, stats));
        }

        return entries;
    }

    /// <summary>Finds an entry by key (or unique key prefix).</summary>
    /// <param name="root">Spool root.</param>
    /// <param name="key">Key, <see cref="UnboundKey"/>, or a prefix of one key.</param>
    /// <returns>The entry.</returns>
    /// <exception cref="ArgumentException">No entry, or several, match.</exception>
    public static SpoolEntry Find(string root, string key)
    {
        var all = List(root);
        var exact = all.FirstOrDefault(e => e.Key == key);
        if (exact is not null)
        {
            return exact;
        }

        var matches = all.Where(e => e.Key.StartsWith(key, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new ArgumentException($"No spool '{key}' under {Path.GetFullPath(root)}; 'streamlstm spool list' shows them."),
            _ => throw new ArgumentException($"'{key}' matches {matches.Count} spools ({string.Join(", ", matches.Select(m => m.Key))}); give more of the name."),
        };
    }

    /// <summary>Deletes the segments of one entry (and its directory), after taking its lock so no writer is using it.</summary>
    /// <param name="root">Spool root.</param>
    /// <param name="entry">Entry from <see cref="List"/>.</param>
    /// <returns>Segments deleted.</returns>
    public static int Drop(string root, SpoolEntry entry)
    {
        var dir = entry.Key == UnboundKey ? root : entry.Directory;
        int deleted;
        using (TakeLock(dir))
        {
            var segments = System.IO.Directory.GetFiles(dir, "seg-*.spool");
            foreach (var s in segments)
            {
                File.Delete(s);
            }

            deleted = segments.Length;
        }

        if (entry.Key != UnboundKey)
        {
            System.IO.Directory.Delete(dir, recursive: true);
        }
        else
        {
            File.Delete(Path.Combine(dir, SegmentSpool.LockFileName));
        }

        return deleted;
    }

    /// <summary>Logs, at start-up, every spool under the root that holds batches for another destination (they are never sent here).</summary>
    /// <param name="root">Spool root.</param>
    /// <param name="current">This writer's destination.</param>
    /// <param name="logger">Logger.</param>
    public static void ReportOthers(string root, SpoolDestination current, ILogger logger)
    {
        foreach (var e in List(root))
        {
            if (e.Key == current.Key || e.Stats.Points == 0)
            {
                continue;
            }

            if (e.Destination is null)
            {
                LogUnbound(logger, e.Stats.Points, e.Stats.Segments, e.Directory);
            }
            else
            {
                LogOther(logger, e.Stats.Points, e.Stats.Segments, e.Destination.ToString(), e.Key);
            }
        }
    }

    private static FileStream TakeLock(string dir)
    {
        try
        {
            return PrivateFiles.Open(Path.Combine(dir, SegmentSpool.LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"The spool '{dir}' is in use by a running writer (spool.lock is held); stop it first.", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The spool holds {Points} points in {Segments} segments for another InfluxDB destination, {Destination} ({Key}); they are kept and never sent here. Use 'streamlstm spool list', 'spool replay {Key}' or 'spool drop {Key}'.")]
    private static partial void LogOther(ILogger logger, long points, int segments, string destination, string key);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The spool root {Directory} holds {Points} points in {Segments} segments written before spools recorded their destination; they are kept and never sent automatically. Use 'streamlstm spool replay unbound --to URL ... --yes-send-elsewhere' or 'spool drop unbound --yes'.")]
    private static partial void LogUnbound(ILogger logger, long points, int segments, string directory);
}
