using System.CommandLine;

namespace StreamLstm.Streaming.Bench;

/// <summary><c>streamlstm bench model|pipeline|sink</c>: measurements that print a table and write JSON under <c>artifacts/bench/</c>.</summary>
public static class BenchCommand
{
    /// <summary>Builds the <c>bench</c> command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks against a peer in the same run; prints a table and writes artifacts/bench/*.json.");
        bench.Subcommands.Add(ModelBench.Create());
        bench.Subcommands.Add(PipelineBench.Create());
        bench.Subcommands.Add(SinkBench.Create());
        bench.Subcommands.Add(TrainBench.Create());
        bench.Subcommands.Add(StateBench.Create());
        bench.Subcommands.Add(OnlineBench.Create());
        bench.Subcommands.Add(GuaranteeBench.Create());
        return bench;
    }
}
