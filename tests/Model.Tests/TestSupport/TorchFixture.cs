using StreamLstm.Model.Lstm;
using StreamLstm.Model.Weights;

namespace StreamLstm.Model.Tests.TestSupport;

/// <summary>A PyTorch reference case embedded in the test assembly (copied from ../shared/fixtures/torch-reference).</summary>
internal sealed class TorchFixture
{
    private TorchFixture(string name, SafetensorsContent content)
    {
        Name = name;
        Content = content;
        Model = ModelFile.FromContent(content, "param.");
        var x = Tensor("input.x");
        Batch = x.Shape[0];
        Steps = x.Shape[1];
    }

    public const string Small = "lstm_small_2layer";
    public const string Medium = "lstm_i8_h64_1layer";

    public string Name { get; }

    public SafetensorsContent Content { get; }

    public LstmModel Model { get; }

    public LstmConfig Config => Model.Config;

    public int Batch { get; }

    public int Steps { get; }

    public static TorchFixture Load(string name) => new(name, SafetensorsFile.Parse(Bytes(name)));

    public static byte[] Bytes(string name)
    {
        using var s = typeof(TorchFixture).Assembly.GetManifestResourceStream($"Fixtures.{name}.safetensors")
            ?? throw new InvalidOperationException($"Embedded fixture {name} not found");
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    public SafeTensor Tensor(string name) => Content.Tensors[name];

    public float[] Floats(string name) => Tensor(name).ToSingle();

    public double[] Doubles(string name) => Tensor(name).Values;

    public static double MaxAbsDiff(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        var m = 0.0;
        for (var i = 0; i < actual.Length; i++) m = Math.Max(m, Math.Abs(actual[i] - expected[i]));
        return m;
    }
}
