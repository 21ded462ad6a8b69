using StreamLstm.Web.Tests.Support;

namespace StreamLstm.Web.Tests.Hosting;

/// <summary>Start-up refuses to expose the service beyond loopback without a token or an explicit opt-out.</summary>
public sealed class StartupValidationTests
{
    [Fact]
    public async Task Demo_on_a_non_loopback_address_without_a_token_stops_with_the_reason()
    {
        var (code, output) = await DemoProcess.RunToEndAsync(["demo", "--epochs", "0", "--duration", "60s", "--urls", "http://0.0.0.0:0"], TimeSpan.FromMinutes(2));
        Assert.Equal(2, code);
        Assert.Contains("Invalid settings", output, StringComparison.Ordinal);
        Assert.Contains("Web:BearerToken", output, StringComparison.Ordinal);
        Assert.StartsWith("bootstrap.servers=", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_with_a_corrupt_model_file_stops_before_starting_naming_the_file()
    {
        var file = Path.Combine(Path.GetTempPath(), $"not-a-model-{Guid.NewGuid():N}.safetensors");
        await File.WriteAllTextAsync(file, "timestamp,value\n1,2\n", TestContext.Current.CancellationToken);
        try
        {
            var (code, output) = await DemoProcess.RunToEndAsync(["demo", "--model", "tick=" + file, "--duration", "60s"], TimeSpan.FromMinutes(2));
            Assert.Equal(2, code);
            Assert.Contains("Invalid settings", output, StringComparison.Ordinal);
            Assert.Contains(file, output, StringComparison.Ordinal);
            Assert.DoesNotContain("bootstrap.servers=", output, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
