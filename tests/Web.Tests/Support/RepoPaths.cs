namespace StreamLstm.Web.Tests.Support;

/// <summary>Paths of the repository this test run was built from.</summary>
internal static class RepoPaths
{
    /// <summary>The repository root (the folder holding StreamLstm.sln).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The built <c>streamlstm.dll</c> of the same configuration as the tests.</summary>
    public static string StreamLstmDll
    {
        get
        {
            // tests/Web.Tests/bin/<Configuration>/net10.0/ → Streaming/bin/<Configuration>/net10.0/streamlstm.dll
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            var path = Path.Combine(Root, "Streaming", "bin", configuration, "net10.0", "streamlstm.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"streamlstm.dll not built at {path}; build the solution first.");
        }
    }

    /// <summary>artifacts/ under the root, created.</summary>
    /// <param name="sub">Sub-folder.</param>
    /// <returns>The folder.</returns>
    public static string Artifacts(string sub)
    {
        var dir = Path.Combine(Root, "artifacts", sub);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "StreamLstm.sln"))) return d.FullName;
        }

        throw new DirectoryNotFoundException("StreamLstm.sln not found above " + AppContext.BaseDirectory);
    }
}
