namespace StreamLstm.Ingest.Replay;

/// <summary>Finds the shared real-data folder (<c>../shared/data</c> by convention).</summary>
public static class DataDirectory
{
    /// <summary>The conventional relative location.</summary>
    public const string DefaultRelative = "../shared/data";

    /// <summary>
    /// Resolves the data folder: an explicit path must exist; otherwise <c>../shared/data</c> from the current directory,
    /// then <c>shared/data</c> under each ancestor of the current directory and of the application's base directory.
    /// </summary>
    /// <param name="explicitPath">A path given by the user, or null.</param>
    /// <returns>The absolute folder path, or null when none is found.</returns>
    public static string? Find(string? explicitPath = null)
    {
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            var full = Path.GetFullPath(explicitPath);
            return Directory.Exists(full) ? full : null;
        }

        var relative = Path.GetFullPath(DefaultRelative);
        if (Directory.Exists(relative))
        {
            return relative;
        }

        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "data");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    /// <summary>Like <see cref="Find"/>, but throws a message that says what to do when nothing is found.</summary>
    /// <param name="explicitPath">A path given by the user, or null.</param>
    /// <returns>The absolute folder path.</returns>
    public static string Resolve(string? explicitPath = null) => Find(explicitPath) ?? throw new DirectoryNotFoundException(
        string.IsNullOrWhiteSpace(explicitPath)
            ? $"Real data not found: looked for {DefaultRelative} and for shared/data above the current directory; pass --data-dir."
            : $"Data directory '{explicitPath}' does not exist.");
}
