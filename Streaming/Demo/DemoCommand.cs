using System.CommandLine;

namespace StreamLstm.Streaming.Demo;

/// <summary><c>demo</c>: Embedded Kafka + generators + pipeline, with live status.</summary>
public static class DemoCommand
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("demo", "Embedded Kafka + generators + pipeline, with live status.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("demo: not implemented yet");
            return 2;
        });
        return command;
    }
}
