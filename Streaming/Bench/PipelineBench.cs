using System.CommandLine;

namespace StreamLstm.Streaming.Bench;

/// <summary><c>pipeline</c>: Pipeline events/s and latency, in-process and through Kafka.</summary>
public static class PipelineBench
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("pipeline", "Pipeline events/s and latency, in-process and through Kafka.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("pipeline: not implemented yet");
            return 2;
        });
        return command;
    }
}
