namespace StreamLstm.Streaming.Registry;

/// <summary>Writes registry files owner-only (0600) and atomically: a temporary file in the same directory, flushed, then renamed.</summary>
internal static class PrivateFile
{
    private const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode DirectoryMode = Mode | UnixFileMode.UserExecute;

    /// <summary>Creates <paramref name="directory"/> (0700 when new).</summary>
    /// <param name="directory">Directory.</param>
    public static void EnsureDirectory(string directory)
    {
        if (Directory.Exists(directory)) return;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(directory);
        else Directory.CreateDirectory(directory, DirectoryMode);
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    /// <param name="path">Destination.</param>
    /// <param name="bytes">Contents.</param>
    /// <param name="overwrite">When false, an existing <paramref name="path"/> makes this throw <see cref="IOException"/> and stays untouched.</param>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> bytes, bool overwrite)
    {
        var tmp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = Mode;
        try
        {
            using (var stream = new FileStream(tmp, options))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            // Without overwrite the move fails when the target exists, so two writers of one version cannot both win.
            File.Move(tmp, path, overwrite);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
