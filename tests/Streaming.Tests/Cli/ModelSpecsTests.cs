using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Hosting;

namespace StreamLstm.Streaming.Tests.Cli;

/// <summary>The <c>--model</c> values shared by <c>demo</c> and <c>run</c>.</summary>
public class ModelSpecsTests
{
    [Fact]
    public void KindEqualsPath_AndADirectory_ResolveToOneFilePerKind()
    {
        var dir = Directory.CreateTempSubdirectory("streamlstm-specs-").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(dir, "vitals.safetensors"), [0]);
            File.WriteAllBytes(Path.Combine(dir, "audio.safetensors"), [0]);
            var files = ModelSpecs.Parse([dir, "ticks=/m/t.safetensors", "audio=/m/a.safetensors"]);
            Assert.Equal("/m/t.safetensors", files[SourceKind.Tick]);
            Assert.Equal(Path.Combine(dir, "vitals.safetensors"), files[SourceKind.Vitals]);
            Assert.Equal("/m/a.safetensors", files[SourceKind.Audio]); // later values win
            var config = ModelSpecs.ToConfiguration(files);
            Assert.Equal("/m/t.safetensors", config["Models:TickModel"]);
            Assert.Equal(Path.Combine(dir, "vitals.safetensors"), config["Models:VitalsModel"]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("weather=x", "unknown kind 'weather'")]
    [InlineData("no-such-dir-or-kind", "give KIND=PATH")]
    [InlineData("=x", "give KIND=PATH")]
    public void BadValues_SayWhatToGive(string spec, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => ModelSpecs.Parse([spec]));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
