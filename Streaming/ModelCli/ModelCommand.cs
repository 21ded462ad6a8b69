using System.CommandLine;

namespace StreamLstm.Streaming.ModelCli;

/// <summary><c>model</c>: Model tools: verify against PyTorch reference files, train.</summary>
public static class ModelCommand
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("model", "Model tools: verify against PyTorch reference files, train.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("model: not implemented yet");
            return 2;
        });
        return command;
    }
}
