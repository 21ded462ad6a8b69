using System.Buffers.Binary;
using System.Text;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Tests.TestSupport;
using StreamLstm.Model.Weights;

namespace StreamLstm.Model.Tests.Weights;

public class SafetensorsTests
{
    [Fact]
    public void RoundTrip_KeepsEveryTensorAndTheMetadata()
    {
        var model = LstmModel.CreateRandom(new LstmConfig(3, 5, 2, 2), 11);
        model.Metadata = new ModelMetadata
        {
            Version = "v7",
            FeatureNames = ["price", "volume", "spread"],
            FeatureMean = [1.5f, 2f, -3f],
            FeatureStd = [0.5f, 4f, 1f],
            TargetScale = 2.5f,
            TargetOffset = -1.25f,
            Extra = new Dictionary<string, string> { ["trained_on"] = "ticks" },
        };
        var path = Path.Combine(Path.GetTempPath(), $"rt-{Guid.NewGuid():N}.safetensors");
        try
        {
            ModelFile.Save(model, path);
            var back = ModelFile.Load(path);
            Assert.Equal(model.Config, back.Config);
            var a = model.Parameters();
            var b = back.Parameters();
            Assert.Equal(a.Select(p => p.Name), b.Select(p => p.Name));
            for (var i = 0; i < a.Count; i++) Assert.Equal(a[i].Values, b[i].Values);
            Assert.Equal("v7", back.Metadata.Version);
            Assert.Equal(model.Metadata.FeatureNames, back.Metadata.FeatureNames);
            Assert.Equal(model.Metadata.FeatureMean, back.Metadata.FeatureMean);
            Assert.Equal(model.Metadata.FeatureStd, back.Metadata.FeatureStd);
            Assert.Equal(2.5f, back.Metadata.TargetScale);
            Assert.Equal(-1.25f, back.Metadata.TargetOffset);
            Assert.Equal("ticks", back.Metadata.Extra["trained_on"]);

            var raw = SafetensorsFile.Read(path);
            Assert.Equal("F32", raw.Tensors["head.weight"].DType);
            Assert.Equal([4, 5], raw.Tensors["head.weight"].Shape);
            Assert.Equal([20, 3], raw.Tensors["weight_ih_l0"].Shape);
            Assert.Equal("5", raw.Metadata["hidden_size"]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ReadsF64_ReferenceFixture()
    {
        var content = SafetensorsFile.Parse(TorchFixture.Bytes(TorchFixture.Small));
        Assert.Equal("F64", content.Tensors["param.weight_hh_l1"].DType);
        Assert.Equal("5", content.Metadata["hidden_size"]);
        var model = ModelFile.FromContent(content, "param.");
        Assert.Equal(new LstmConfig(3, 5, 2, 1), model.Config);
        Assert.Equal((float)content.Tensors["param.head.bias"].Values[1], model.HeadBias[1]);
    }

    [Fact]
    public void ReadsF32_PeerFileWithoutHead_WhenAllowed()
    {
        var content = SafetensorsFile.Parse(TorchFixture.Bytes("lstm_step_i8_h32"));
        var ex = Assert.Throws<SafetensorsException>(() => ModelFile.FromContent(content));
        Assert.Equal("head.weight", ex.TensorName);
        var model = ModelFile.FromContent(content, requireHead: false);
        Assert.Equal(new LstmConfig(8, 32, 1, 1), model.Config);
        Assert.All(model.HeadWeight, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void MissingTensor_IsNamed()
    {
        var bytes = Rewrite(ModelFile.ToBytes(NewModel()), drop: "bias_hh_l1");
        var ex = Assert.Throws<SafetensorsException>(() => ModelFile.FromContent(SafetensorsFile.Parse(bytes)));
        Assert.Equal("bias_hh_l1", ex.TensorName);
        Assert.Contains("bias_hh_l1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongShape_IsNamed()
    {
        var model = NewModel();
        var tensors = model.Parameters().Select(p => p.Name == "weight_hh_l1"
            ? (p.Name, new[] { 20, 4 }, (ReadOnlyMemory<double>)new double[80])
            : (p.Name, p.Shape, (ReadOnlyMemory<double>)p.Values.Select(v => (double)v).ToArray()));
        var bytes = SafetensorsFile.Serialize(tensors, new Dictionary<string, string>());
        var ex = Assert.Throws<SafetensorsException>(() => ModelFile.FromContent(SafetensorsFile.Parse(bytes)));
        Assert.Equal("weight_hh_l1", ex.TensorName);
        Assert.Contains("[20, 4]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[20, 5]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedData_IsCorruptAndNamesTheTensor()
    {
        var bytes = ModelFile.ToBytes(NewModel());
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Parse(bytes.AsSpan(0, bytes.Length - 10)));
        Assert.Contains("Corrupt", ex.Message, StringComparison.Ordinal);
        Assert.Equal("head.bias", ex.TensorName);
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3 }, "too short")]
    [InlineData(new byte[] { 255, 255, 0, 0, 0, 0, 0, 0, 123 }, "header length")]
    [InlineData(new byte[] { 3, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'x', (byte)'}' }, "not valid JSON")]
    public void GarbageFiles_AreRejectedClearly(byte[] bytes, string expected)
    {
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Parse(bytes));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnsupportedDtype_IsNamed()
    {
        var header = """{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}""";
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Parse(Build(header, new byte[4])));
        Assert.Equal("w", ex.TensorName);
        Assert.Contains("BF16", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NonFiniteWeights_AreRejected_AndNothingIsLoaded()
    {
        var model = NewModel();
        model.WeightIh[1][3] = float.NaN;
        var ex = Assert.Throws<SafetensorsException>(() => ModelFile.FromContent(SafetensorsFile.Parse(ModelFile.ToBytes(model))));
        Assert.Equal("weight_ih_l1", ex.TensorName);
    }

    [Fact]
    public void MissingFile_GivesAClearError()
    {
        var ex = Assert.Throws<SafetensorsException>(() => ModelFile.Load(Path.Combine(Path.GetTempPath(), "no-such-model.safetensors")));
        Assert.Contains("no-such-model", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MetadataThatContradictsShapes_IsRejected()
    {
        var bytes = ModelFile.ToBytes(NewModel());
        var needle = Encoding.UTF8.GetBytes("\"hidden_size\":\"5\"");
        var at = bytes.AsSpan().IndexOf(needle);
        Assert.True(at > 0);
        var patched = (byte[])bytes.Clone();
        patched[at + needle.Length - 2] = (byte)'6';
        var ex = Assert.Throws<SafetensorsException>(() => ModelFile.FromContent(SafetensorsFile.Parse(patched)));
        Assert.Contains("hidden_size=6", ex.Message, StringComparison.Ordinal);
    }

    private static LstmModel NewModel() => LstmModel.CreateRandom(new LstmConfig(3, 5, 2, 2), 11);

    private static byte[] Build(string header, byte[] data)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Length);
        return bytes;
    }

    /// <summary>Re-serialises a file without one tensor.</summary>
    private static byte[] Rewrite(byte[] bytes, string drop)
    {
        var c = SafetensorsFile.Parse(bytes);
        var tensors = c.Tensors.Values.Where(t => t.Name != drop).Select(t => (t.Name, t.Shape, (ReadOnlyMemory<double>)t.Values));
        return SafetensorsFile.Serialize(tensors, c.Metadata);
    }
}
