using System.CommandLine;

namespace StreamLstm.Streaming.Replay;

/// <summary><c>replay</c>: Produce real data from ../shared/data to Kafka with original timing scaled.</summary>
public static class ReplayCommand
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("replay", "Produce real data from ../shared/data to Kafka with original timing scaled.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("replay: not implemented yet");
            return 2;
        });
        return command;
    }
}
