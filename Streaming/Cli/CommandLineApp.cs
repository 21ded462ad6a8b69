using System.CommandLine;
using StreamLstm.Streaming.Bench;
using StreamLstm.Streaming.Demo;
using StreamLstm.Streaming.Eval;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.ModelCli;
using StreamLstm.Streaming.Replay;
using StreamLstm.Streaming.Soak;

namespace StreamLstm.Streaming.Cli;

/// <summary>The <c>streamlstm</c> command tree. Each feature folder contributes its own command.</summary>
public static class CommandLineApp
{
    /// <summary>Builds the root command.</summary>
    /// <returns>The root command with every sub-command attached.</returns>
    public static RootCommand Build()
    {
        var root = new RootCommand("StreamLstm: per-key stateful LSTM forecasts and anomaly alerts over Kafka streams.");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(ReplayCommand.Create());
        root.Subcommands.Add(ModelCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(NabEvalCommand.Create());
        root.Subcommands.Add(SoakCommand.Create());
        root.Subcommands.Add(StreamLstm.Streaming.SpoolCli.SpoolCommand.Create());
        root.Subcommands.Add(StreamLstm.Streaming.InfluxCli.InfluxCommand.Create());
        root.Subcommands.Add(StreamLstm.Streaming.Broker.BrokerCommand.Create());
        root.Subcommands.Add(StreamLstm.Streaming.Generate.GenerateCommand.Create());
        return root;
    }
}
