using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace StreamLstm.Streaming.Tests.Cli;

/// <summary>
/// A real <c>streamlstm</c> child process (the built <c>streamlstm.dll</c> of the same configuration as the tests), its
/// output collected line by line, in a temporary working directory of its own.
/// </summary>
internal sealed partial class CliProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly TaskCompletionSource<string> _firstLine = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CliProcess(IEnumerable<string> args)
    {
        WorkingDirectory = Directory.CreateTempSubdirectory("streamlstm-cli-test-").FullName;
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = WorkingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(StreamLstmDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data, stdout: true);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data, stdout: false);
        _process.Exited += (_, _) => _exited.TrySetResult(_process.ExitCode);
    }

    /// <summary>The built <c>streamlstm.dll</c>: Streaming/bin/&lt;configuration&gt;/net10.0 of this repository.</summary>
    public static string StreamLstmDll
    {
        get
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                var path = Path.Combine(d.FullName, "Streaming", "bin", configuration, "net10.0", "streamlstm.dll");
                if (File.Exists(Path.Combine(d.FullName, "StreamLstm.sln")))
                {
                    return File.Exists(path) ? path : throw new FileNotFoundException($"streamlstm.dll not built at {path}; build the solution first.");
                }
            }

            throw new DirectoryNotFoundException("StreamLstm.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The child's working directory (a fresh temporary one).</summary>
    public string WorkingDirectory { get; }

    /// <summary>The first line on standard output.</summary>
    public Task<string> FirstLine => _firstLine.Task;

    /// <summary>Completes with the exit code.</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>Everything printed so far (standard output and error, interleaved as received).</summary>
    public string Output => string.Join('\n', _lines);

    /// <summary>Starts <c>streamlstm ARGS</c>.</summary>
    /// <param name="args">Arguments after <c>streamlstm</c>.</param>
    /// <returns>The running process.</returns>
    public static CliProcess Start(params string[] args)
    {
        var p = new CliProcess(args);
        p._process.Start();
        p._process.BeginOutputReadLine();
        p._process.BeginErrorReadLine();
        return p;
    }

    /// <summary>Waits for the exit, failing with the output when it takes longer than <paramref name="timeout"/>.</summary>
    /// <param name="timeout">Longest wait.</param>
    /// <param name="phase">What the wait is for (in the failure message).</param>
    /// <returns>The exit code.</returns>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, string phase)
    {
        try
        {
            var code = await _exited.Task.WaitAsync(timeout);
            await _process.WaitForExitAsync(); // the output events have all been raised after this
            return code;
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{phase}: streamlstm did not exit within {timeout.TotalSeconds:0} s. Output:\n{Output}");
        }
    }

    /// <summary>Sends SIGTERM (what a service manager sends to stop it).</summary>
    public void Terminate()
    {
        if (kill(_process.Id, 15) != 0) throw new InvalidOperationException($"kill(SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }

        _process.Dispose();
        try
        {
            Directory.Delete(WorkingDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    private void OnLine(string? line, bool stdout)
    {
        if (line is null) return;
        if (stdout) _firstLine.TrySetResult(line);
        _lines.Enqueue(line);
    }
}
