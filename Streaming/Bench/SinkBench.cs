using System.CommandLine;

namespace StreamLstm.Streaming.Bench;

/// <summary><c>sink</c>: InfluxDB writer points/s into a local influxd.</summary>
public static class SinkBench
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("sink", "InfluxDB writer points/s into a local influxd.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("sink: not implemented yet");
            return 2;
        });
        return command;
    }
}
