using StreamLstm.Streaming.Cli;

return await CommandLineApp.Build().Parse(args).InvokeAsync().ConfigureAwait(false);
