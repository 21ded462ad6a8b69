using System.CommandLine;
using StreamLstm.Streaming.Cli;

// A value that breaks a parser or validator shows as a one-line error (exit 1, as System.CommandLine's own usage errors),
// never as an unhandled exception.
ParseResult parsed;
try
{
    parsed = CommandLineApp.Build().Parse(args);
}
catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException or OverflowException)
{
    await Console.Error.WriteLineAsync("streamlstm: " + ex.Message).ConfigureAwait(false);
    return 1;
}

return await parsed.InvokeAsync().ConfigureAwait(false);
