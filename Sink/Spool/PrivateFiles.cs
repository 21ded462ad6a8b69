namespace StreamLstm.Sink.Spool;

/// <summary>
/// Creates the sink's data files owner-only: files 0600, directories 0700 (spool segments, dead letters and line-protocol
/// output hold patient ids). On Windows the modes do not apply and the calls fall back to the plain APIs.
/// </summary>
public static class PrivateFiles
{
    /// <summary>rw------- .</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>rwx------ .</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates <paramref name="path"/> (and missing parents) as 0700; an existing directory is tightened to 0700.</summary>
    /// <param name="path">Directory.</param>
    /// <returns>The full path.</returns>
    public static string EnsureDirectory(string path)
    {
        var full = Path.GetFullPath(path);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(full);
            return full;
        }

        if (Directory.Exists(full))
        {
            // A directory left by an older version (or created by hand) may be world-readable: it is ours, so tighten it.
            if ((File.GetUnixFileMode(full) & ~DirectoryMode) != 0)
            {
                File.SetUnixFileMode(full, DirectoryMode);
            }
        }
        else
        {
            Directory.CreateDirectory(full, DirectoryMode);
        }

        return full;
    }

    /// <summary>Opens a file; a new file is created 0600 and an existing one is tightened to 0600.</summary>
    /// <param name="path">File path (its directory must exist).</param>
    /// <param name="mode">Open mode.</param>
    /// <param name="access">Access.</param>
    /// <param name="share">Sharing.</param>
    /// <param name="bufferSize">Buffer size (0 or 1 for none).</param>
    /// <param name="useAsync">Asynchronous I/O.</param>
    /// <returns>The stream.</returns>
    public static FileStream Open(string path, System.IO.FileMode mode, FileAccess access, FileShare share, int bufferSize = 4096, bool useAsync = false)
    {
        var options = new FileStreamOptions
        {
            Mode = mode,
            Access = access,
            Share = share,
            BufferSize = bufferSize,
            Options = useAsync ? FileOptions.Asynchronous : FileOptions.None,
        };
        var creates = mode is System.IO.FileMode.CreateNew or System.IO.FileMode.Create or System.IO.FileMode.OpenOrCreate or System.IO.FileMode.Append;
        if (!OperatingSystem.IsWindows() && creates && (access & FileAccess.Write) != 0)
        {
            options.UnixCreateMode = FileMode;
        }

        var stream = new FileStream(path, options);
        if (!OperatingSystem.IsWindows() && (access & FileAccess.Write) != 0 && (File.GetUnixFileMode(stream.SafeFileHandle) & ~FileMode) != 0)
        {
            // UnixCreateMode applies to new files only; an older, looser file is tightened.
            File.SetUnixFileMode(stream.SafeFileHandle, FileMode);
        }

        return stream;
    }
}
