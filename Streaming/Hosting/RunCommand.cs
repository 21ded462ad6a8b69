using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace StreamLstm.Streaming.Hosting;

/// <summary><c>streamlstm run</c>: the pipeline against a real Kafka cluster.</summary>
public static class RunCommand
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("run", "Run the pipeline against Kafka (settings: appsettings.json, STREAMLSTM_* env, --Section:Key=value).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        var bootstrap = new Option<string?>("--bootstrap-servers") { Description = "Kafka brokers HOST:PORT[,HOST:PORT]" };
        var group = new Option<string?>("--group-id") { Description = "Consumer group id" };
        command.Options.Add(bootstrap);
        command.Options.Add(group);
        command.SetAction(async (parse, ct) =>
        {
            var args = new List<string>(parse.UnmatchedTokens);
            if (parse.GetValue(bootstrap) is { } b) args.Add($"--Kafka:BootstrapServers={b}");
            if (parse.GetValue(group) is { } g) args.Add($"--Kafka:GroupId={g}");
            try
            {
                using var host = StreamLstmHost.CreateBuilder([.. args], Web.WebServiceCollectionExtensions.AddStreamLstmWeb).Build();
                await host.RunAsync(ct).ConfigureAwait(false);
                // A worker or consumer failure stops the host on its own: say why and exit non-zero.
                if (host.Services.GetRequiredService<PipelineHostedService>().Failure is { } failure)
                {
                    await Console.Error.WriteLineAsync($"streamlstm stopped because {failure}").ConfigureAwait(false);
                    return 1;
                }

                return 0;
            }
            catch (Exception ex) when (StartupErrors.Describe(ex) is { } failures)
            {
                await Console.Error.WriteLineAsync("Invalid settings:").ConfigureAwait(false);
                foreach (var failure in failures) await Console.Error.WriteLineAsync("  - " + failure).ConfigureAwait(false);
                return 2;
            }
        });
        return command;
    }
}
