using StreamLstm.Streaming.Web;

namespace StreamLstm.Web.Tests.Hosting;

public sealed class WebOptionsTests
{
    [Theory]
    [InlineData("http://127.0.0.1:8080", true)]
    [InlineData("http://127.0.0.2:8080", true)]
    [InlineData("http://localhost:5000", true)]
    [InlineData("http://[::1]:5000", true)]
    [InlineData("http://0.0.0.0:8080", false)]
    [InlineData("http://*:8080", false)]
    [InlineData("http://+:8080", false)]
    [InlineData("http://10.1.2.3:8080", false)]
    public void Loopback_is_recognised(string url, bool loopback) => Assert.Equal(loopback, WebOptions.IsLoopback(url));

    [Fact]
    public void Default_is_loopback_8080_and_valid() => Assert.Empty(new WebOptions().Validate());

    [Fact]
    public void Remote_address_needs_a_token_or_the_opt_out()
    {
        var failures = new WebOptions { Urls = "http://127.0.0.1:1;http://0.0.0.0:8080" }.Validate().ToList();
        Assert.Single(failures);
        Assert.Contains("0.0.0.0", failures[0], StringComparison.Ordinal);
        Assert.Contains("Web:BearerToken", failures[0], StringComparison.Ordinal);
        Assert.Empty(new WebOptions { Urls = "http://0.0.0.0:8080", BearerToken = "0123456789abcdef0123" }.Validate());
        Assert.Empty(new WebOptions { Urls = "http://0.0.0.0:8080", AllowAnonymousRemote = true }.Validate());
    }

    [Fact]
    public void Short_token_and_bad_address_are_rejected()
    {
        Assert.Contains(new WebOptions { BearerToken = "short" }.Validate(), f => f.Contains("16 characters", StringComparison.Ordinal));
        Assert.Contains(new WebOptions { Urls = "ftp://127.0.0.1:21" }.Validate(), f => f.Contains("ftp://", StringComparison.Ordinal));
    }
}
