using System.Runtime.InteropServices;

namespace StreamLstm.Ingest.Kafka;

/// <summary>
/// Loads the librdkafka build that works on this platform and points Confluent.Kafka at it.
/// On Debian the default <c>librdkafka.so</c> needs <c>libsasl2.so.3</c>, so the CentOS 8 build is preferred.
/// </summary>
public static class KafkaNative
{
    private static readonly Lock Gate = new();
    private static nint _handle;

    /// <summary>Path of the loaded native library (null until <see cref="EnsureLoaded"/> ran).</summary>
    public static string? LoadedPath { get; private set; }

    /// <summary>Loads librdkafka once per process; safe to call from anywhere before creating Kafka clients.</summary>
    /// <returns>The native library handle.</returns>
    public static nint EnsureLoaded()
    {
        lock (Gate)
        {
            if (_handle != 0)
            {
                return _handle;
            }

            var errors = new List<string>();
            foreach (var candidate in Candidates())
            {
                if (!File.Exists(candidate))
                {
                    continue;
                }

                try
                {
                    _handle = NativeLibrary.Load(candidate);
                    LoadedPath = candidate;
                    // Confluent.Kafka dlopen()s through "libdl", which Debian 12 ships only as libdl.so.2.
                    TrySetResolver(typeof(Confluent.Kafka.Library).Assembly);
                    // Confluent.Kafka must use the very same library, or mock-cluster handles would cross libraries.
                    Confluent.Kafka.Library.Load(candidate);
                    return _handle;
                }
                catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException or InvalidOperationException)
                {
                    errors.Add($"{candidate}: {ex.Message}");
                }
            }

            throw new DllNotFoundException("Could not load librdkafka. Tried: " + string.Join("; ", errors.DefaultIfEmpty("no candidate file found under " + AppContext.BaseDirectory)));
        }
    }

    private static void TrySetResolver(System.Reflection.Assembly assembly)
    {
        try
        {
            NativeLibrary.SetDllImportResolver(assembly, static (name, asm, path) =>
            {
                if (name is "libdl" or "dl")
                {
                    return NativeLibrary.TryLoad("libdl.so.2", out var dl) ? dl : 0;
                }

                return name.Contains("rdkafka", StringComparison.Ordinal) && _handle != 0 ? _handle : 0;
            });
        }
        catch (InvalidOperationException)
        {
            // A resolver is already registered (by us earlier or by the library itself).
        }
    }

    private static IEnumerable<string> Candidates()
    {
        var env = Environment.GetEnvironmentVariable("STREAMLSTM_LIBRDKAFKA");
        if (!string.IsNullOrWhiteSpace(env))
        {
            yield return env;
        }

        var native = Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier.StartsWith("linux-arm64", StringComparison.Ordinal) ? "linux-arm64" : "linux-x64", "native");
        yield return Path.Combine(native, "centos8-librdkafka.so");
        yield return Path.Combine(native, "librdkafka.so");
        yield return Path.Combine(AppContext.BaseDirectory, "librdkafka.so");
    }
}
