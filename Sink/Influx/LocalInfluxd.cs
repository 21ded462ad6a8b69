using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace StreamLstm.Sink.Influx;

/// <summary>
/// Runs a private <c>influxd</c> (InfluxDB 1.x, e.g. Debian's 1.6.7) on free loopback ports with a temporary directory and a
/// generated config (HTTP and RPC bound to 127.0.0.1, reporting and every other service off). For tests and <c>bench sink</c>.
/// <see cref="Stop"/> then <see cref="StartAsync"/> restarts it on the same ports and data.
/// </summary>
public sealed partial class LocalInfluxd : IAsyncDisposable
{
    private readonly string _binary;
    private readonly string _config;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private Process? _process;

    private LocalInfluxd(string binary, string root, int httpPort, int rpcPort)
    {
        _binary = binary;
        Root = root;
        HttpPort = httpPort;
        RpcPort = rpcPort;
        _config = Path.Combine(root, "influxdb.conf");
        File.WriteAllText(_config, string.Create(CultureInfo.InvariantCulture, $"""
            reporting-disabled = true
            bind-address = "127.0.0.1:{rpcPort}"
            [meta]
              dir = "{root}/meta"
            [data]
              dir = "{root}/data"
              wal-dir = "{root}/wal"
              query-log-enabled = false
              trace-logging-enabled = false
            [coordinator]
            [retention]
              enabled = false
            [shard-precreation]
              enabled = false
            [monitor]
              store-enabled = false
            [http]
              enabled = true
              bind-address = "127.0.0.1:{httpPort}"
              auth-enabled = false
              log-enabled = false
              write-tracing = false
              pprof-enabled = false
            [logging]
              level = "warn"
            [subscriber]
              enabled = false
            [continuous_queries]
              enabled = false
            """));
    }

    /// <summary>The temporary directory (config, meta, data, wal, log).</summary>
    public string Root { get; }

    /// <summary>HTTP port.</summary>
    public int HttpPort { get; }

    /// <summary>RPC (backup/restore) port.</summary>
    public int RpcPort { get; }

    /// <summary>HTTP base URL.</summary>
    public string Url => string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{HttpPort}");

    /// <summary>The running process id (0 when stopped).</summary>
    public int ProcessId => _process is { HasExited: false } p ? p.Id : 0;

    /// <summary>Finds <c>influxd</c> (<c>INFLUXD</c> environment variable, <c>/usr/bin/influxd</c>, or PATH).</summary>
    /// <returns>The path, or null.</returns>
    public static string? FindBinary()
    {
        var env = Environment.GetEnvironmentVariable("INFLUXD");
        if (!string.IsNullOrEmpty(env) && File.Exists(env))
        {
            return env;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Prepend("/usr/bin"))
        {
            var candidate = Path.Combine(dir, "influxd");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Creates a temp directory, picks free ports and starts influxd.</summary>
    /// <param name="timeout">How long to wait for <c>/ping</c>.</param>
    /// <returns>The running server.</returns>
    public static async Task<LocalInfluxd> StartNewAsync(TimeSpan timeout)
    {
        var binary = FindBinary() ?? throw new InvalidOperationException(
            "influxd was not found (looked at $INFLUXD, /usr/bin/influxd and PATH). Install it with 'apt-get install influxdb' (InfluxDB 1.x).");
        var root = Directory.CreateTempSubdirectory("streamlstm-influxd-").FullName;
        var server = new LocalInfluxd(binary, root, FreePort(), FreePort());
        await server.StartAsync(timeout).ConfigureAwait(false);
        return server;
    }

    /// <summary>Starts (or restarts) the process and waits for <c>/ping</c>.</summary>
    /// <param name="timeout">How long to wait.</param>
    /// <returns>A task.</returns>
    public async Task StartAsync(TimeSpan timeout)
    {
        if (_process is { HasExited: false })
        {
            return;
        }

        var psi = new ProcessStartInfo(_binary, ["-config", _config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var log = new StreamWriter(Path.Combine(Root, "influxd.log"), append: true) { AutoFlush = true };
        var p = new Process { StartInfo = psi, EnableRaisingEvents = true };
        p.OutputDataReceived += (_, e) => Write(log, e.Data);
        p.ErrorDataReceived += (_, e) => Write(log, e.Data);
        p.Exited += (_, _) => log.Dispose();
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _process = p;
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (p.HasExited)
            {
                throw new InvalidOperationException($"influxd exited with code {p.ExitCode} while starting; see {Path.Combine(Root, "influxd.log")}: {TailLog()}");
            }

            try
            {
                using var r = await _http.GetAsync(new Uri(Url + "/ping")).ConfigureAwait(false);
                if (r.StatusCode == HttpStatusCode.NoContent)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"influxd did not answer /ping on {Url} within {timeout}; log: {TailLog()}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50)).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the process: SIGTERM (graceful), or SIGKILL when <paramref name="kill"/>.</summary>
    /// <param name="kill">Kill instead of terminating.</param>
    public void Stop(bool kill = false)
    {
        var p = _process;
        if (p is null || p.HasExited)
        {
            return;
        }

        if (kill || NativeKill(p.Id, 15) != 0)
        {
            p.Kill(entireProcessTree: true);
        }

        if (!p.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }

        p.WaitForExit();
        p.Dispose();
        _process = null;
    }

    /// <summary>CPU seconds (user + system) the running influxd has used, from <c>/proc/&lt;pid&gt;/stat</c>.</summary>
    /// <returns>CPU seconds, or NaN when unavailable.</returns>
    public double CpuSeconds()
    {
        var pid = ProcessId;
        if (pid == 0 || !File.Exists($"/proc/{pid}/stat"))
        {
            return double.NaN;
        }

        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

        // Fields after "(comm) ": state is index 0, so utime (14th overall) is index 11 and stime index 12; USER_HZ is 100 on Linux.
        return (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>Runs an InfluxQL statement via <c>/query</c> (POST) and returns the JSON.</summary>
    /// <param name="q">Statement.</param>
    /// <param name="db">Database (optional).</param>
    /// <returns>The response document.</returns>
    public async Task<JsonDocument> QueryAsync(string q, string? db = null)
    {
        var uri = new Uri($"{Url}/query?epoch=ms{(db is null ? string.Empty : "&db=" + Uri.EscapeDataString(db))}");
        using var content = new FormUrlEncodedContent([new KeyValuePair<string, string>("q", q)]);
        using var r = await _http.PostAsync(uri, content).ConfigureAwait(false);
        var body = await r.Content.ReadAsStringAsync().ConfigureAwait(false);
        if (!r.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"InfluxQL '{q}' failed with HTTP {(int)r.StatusCode}: {body}");
        }

        var doc = JsonDocument.Parse(body);
        foreach (var result in doc.RootElement.GetProperty("results").EnumerateArray())
        {
            if (result.TryGetProperty("error", out var err))
            {
                throw new InvalidOperationException($"InfluxQL '{q}' failed: {err.GetString()}");
            }
        }

        return doc;
    }

    /// <summary>Creates a database.</summary>
    /// <param name="name">Database name.</param>
    /// <returns>A task.</returns>
    public async Task CreateDatabaseAsync(string name) => (await QueryAsync($"CREATE DATABASE \"{name}\"").ConfigureAwait(false)).Dispose();

    /// <summary>Stops influxd and deletes the temp directory.</summary>
    /// <returns>A task.</returns>
    public ValueTask DisposeAsync()
    {
        Stop(kill: true);
        _http.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }

        return ValueTask.CompletedTask;
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        try
        {
            lock (log)
            {
                log.WriteLine(line);
            }
        }
        catch (ObjectDisposedException)
        {
            // Process exited.
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private string TailLog()
    {
        try
        {
            using var fs = new FileStream(Path.Combine(Root, "influxd.log"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var sr = new StreamReader(fs);
            var text = sr.ReadToEnd();
            return text.Length > 2000 ? text[^2000..] : text;
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int NativeKill(int pid, int signal);
}
