using System.Collections.Concurrent;
using System.Diagnostics;

namespace StreamLstm.Web.Tests.Support;

/// <summary>
/// A real <c>streamlstm demo</c> child process (embedded Kafka, generators, pipeline, web host on a free port). Its output
/// is collected line by line; <see cref="StartAsync"/> returns once the dashboard URL was printed.
/// </summary>
internal sealed class DemoProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly TaskCompletionSource<string> _bootstrap = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _url = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private DemoProcess(string[] args, string workingDirectory)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(RepoPaths.StreamLstmDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Exited += (_, _) => _exited.TrySetResult(_process.ExitCode);
    }

    /// <summary>The first line printed, in order (the contract: <c>bootstrap.servers=...</c> comes first).</summary>
    public IReadOnlyList<string> Lines => [.. _lines];

    /// <summary>Kafka bootstrap servers of the demo's embedded cluster.</summary>
    public string BootstrapServers => _bootstrap.Task.Result;

    /// <summary>The dashboard's base URL, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string Url => _url.Task.Result;

    /// <summary>Completes with the exit code.</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>Starts a demo and waits for its dashboard URL (or its exit).</summary>
    /// <param name="args">Arguments after <c>streamlstm</c>.</param>
    /// <param name="timeout">How long to wait for the URL.</param>
    /// <returns>The running demo.</returns>
    public static async Task<DemoProcess> StartAsync(string[] args, TimeSpan timeout)
    {
        var dir = Directory.CreateTempSubdirectory("streamlstm-web-test-").FullName;
        var demo = new DemoProcess(args, dir);
        demo._process.Start();
        demo._process.BeginOutputReadLine();
        demo._process.BeginErrorReadLine();
        Task first;
        try
        {
            first = await Task.WhenAny(demo._url.Task, demo._exited.Task).WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await demo.DisposeAsync().ConfigureAwait(false);
            throw new TimeoutException($"demo start-up: no 'dashboard:' line within {timeout}. Output:\n{demo.Output()}");
        }

        if (first == demo._exited.Task) throw new InvalidOperationException($"demo start-up: the process exited with {demo._exited.Task.Result} before printing its dashboard URL. Output:\n{demo.Output()}");
        return demo;
    }

    /// <summary>Runs a demo to its end (for start-up failures) and returns its exit code and output.</summary>
    /// <param name="args">Arguments.</param>
    /// <param name="timeout">Longest run.</param>
    /// <returns>Exit code and output.</returns>
    public static async Task<(int ExitCode, string Output)> RunToEndAsync(string[] args, TimeSpan timeout)
    {
        var dir = Directory.CreateTempSubdirectory("streamlstm-web-test-").FullName;
        await using var demo = new DemoProcess(args, dir);
        demo._process.Start();
        demo._process.BeginOutputReadLine();
        demo._process.BeginErrorReadLine();
        var code = await demo._exited.Task.WaitAsync(timeout).ConfigureAwait(false);
        demo._process.WaitForExit();
        return (code, demo.Output());
    }

    /// <summary>Everything printed so far.</summary>
    /// <returns>The output.</returns>
    public string Output() => string.Join('\n', _lines);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        _lines.Enqueue(line);
        if (line.StartsWith("bootstrap.servers=", StringComparison.Ordinal)) _bootstrap.TrySetResult(line["bootstrap.servers=".Length..]);
        if (line.StartsWith("dashboard: ", StringComparison.Ordinal)) _url.TrySetResult(line["dashboard: ".Length..].Split(' ', 2)[0].TrimEnd('/'));
    }
}
