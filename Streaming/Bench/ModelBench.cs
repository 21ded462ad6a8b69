using System.CommandLine;

namespace StreamLstm.Streaming.Bench;

/// <summary><c>model</c>: Step kernel vs ONNX Runtime, and CPU training throughput.</summary>
public static class ModelBench
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("model", "Step kernel vs ONNX Runtime, and CPU training throughput.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("model: not implemented yet");
            return 2;
        });
        return command;
    }
}
