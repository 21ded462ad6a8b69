namespace StreamLstm.Ingest.Tests.Replay;

/// <summary>Locates the shared real data: a <c>shared/data</c> folder beside the repository or any ancestor of it.</summary>
internal static class TestData
{
    public static string? Directory { get; } = Find();

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data");
            if (System.IO.Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>A throw-away data folder with the same layout, for tests that must run without the real data.</summary>
    public sealed class Fixture : IDisposable
    {
        public Fixture()
        {
            Root = Path.Combine(Path.GetTempPath(), "streamlstm-replay-" + Guid.NewGuid().ToString("N"));
            System.IO.Directory.CreateDirectory(Path.Combine(Root, "market"));
            System.IO.Directory.CreateDirectory(Path.Combine(Root, "vitals"));
            System.IO.Directory.CreateDirectory(Path.Combine(Root, "audio", "fsdd_recordings"));
        }

        public string Root { get; }

        public void Write(string relative, string content) => File.WriteAllText(Path.Combine(Root, relative), content);

        public void WriteBytes(string relative, byte[] content) => File.WriteAllBytes(Path.Combine(Root, relative), content);

        public void Dispose()
        {
            try
            {
                System.IO.Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
                // Best effort; the OS cleans temp eventually.
            }
        }
    }
}
