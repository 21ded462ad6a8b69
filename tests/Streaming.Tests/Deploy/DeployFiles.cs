using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StreamLstm.Streaming.Hosting;
using YamlDotNet.RepresentationModel;

namespace StreamLstm.Streaming.Tests.Deploy;

/// <summary>Locates deploy/ and reads its YAML; navigation helpers fail with the file and path that is missing.</summary>
internal static class DeployFiles
{
    /// <summary>The repository root (the folder holding StreamLstm.sln).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>deploy/.</summary>
    public static string DeployDir => Path.Combine(Root, "deploy");

    /// <summary>Path under deploy/.</summary>
    /// <param name="parts">Relative parts.</param>
    /// <returns>The absolute path.</returns>
    public static string InDeploy(params string[] parts) => Path.Combine([DeployDir, .. parts]);

    /// <summary>Every YAML document in <paramref name="path"/> (parsing throws on a syntax error, with line and column).</summary>
    /// <param name="path">The file.</param>
    /// <returns>The root node of each document.</returns>
    public static List<YamlMappingNode> LoadAll(string path)
    {
        Assert.True(File.Exists(path), $"file phase: {path} is missing");
        var stream = new YamlStream();
        using (var reader = new StringReader(File.ReadAllText(path)))
        {
            stream.Load(reader);
        }

        return [.. stream.Documents.Select(d => Assert.IsType<YamlMappingNode>(d.RootNode, exactMatch: false))];
    }

    /// <summary>The single YAML document in <paramref name="path"/>.</summary>
    /// <param name="path">The file.</param>
    /// <returns>Its root mapping.</returns>
    public static YamlMappingNode Load(string path) => Assert.Single(LoadAll(path));

    /// <summary>The child at <paramref name="key"/>, or null.</summary>
    public static YamlNode? Get(this YamlNode node, string key) =>
        node is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;

    /// <summary>The child mapping at a dotted path; fails naming the path when absent.</summary>
    public static YamlMappingNode Map(this YamlNode node, string path) => Assert.IsType<YamlMappingNode>(At(node, path), exactMatch: false);

    /// <summary>The child sequence at a dotted path.</summary>
    public static YamlSequenceNode Seq(this YamlNode node, string path) => Assert.IsType<YamlSequenceNode>(At(node, path), exactMatch: false);

    /// <summary>The scalar text at a dotted path.</summary>
    public static string Str(this YamlNode node, string path) => Assert.IsType<YamlScalarNode>(At(node, path), exactMatch: false).Value ?? "";

    /// <summary>The scalar text at a dotted path, or null when absent.</summary>
    public static string? StrOrNull(this YamlNode node, string path)
    {
        YamlNode? cur = node;
        foreach (var part in path.Split('.'))
        {
            cur = cur?.Get(part);
        }

        return (cur as YamlScalarNode)?.Value;
    }

    /// <summary>Scalars of a sequence (or the keys of a mapping).</summary>
    public static IEnumerable<string> Scalars(this YamlNode node) => node switch
    {
        YamlSequenceNode s => s.Children.OfType<YamlScalarNode>().Select(c => c.Value ?? ""),
        YamlMappingNode m => m.Children.Keys.OfType<YamlScalarNode>().Select(c => c.Value ?? ""),
        YamlScalarNode v => [v.Value ?? ""],
        _ => [],
    };

    /// <summary>Children of a mapping as name → node.</summary>
    public static IEnumerable<(string Name, YamlNode Node)> Entries(this YamlMappingNode node) =>
        node.Children.Select(kv => (((YamlScalarNode)kv.Key).Value ?? "", kv.Value));

    /// <summary>The shutdown (drain) timeout the service's host is configured with.</summary>
    /// <returns>HostOptions.ShutdownTimeout of a host built as <c>run</c> builds it.</returns>
    public static TimeSpan HostShutdownTimeout()
    {
        using var host = StreamLstmHost.CreateBuilder([], overrides: new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = "127.0.0.1:9",
            ["Sink:Enabled"] = "false",
        }).Build();
        return host.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout;
    }

    /// <summary>Parses a compose duration such as <c>90s</c>, <c>1m30s</c>.</summary>
    /// <param name="text">The duration.</param>
    /// <returns>The time span.</returns>
    public static TimeSpan ComposeDuration(string text)
    {
        var total = TimeSpan.Zero;
        var number = "";
        foreach (var ch in text)
        {
            if (char.IsDigit(ch) || ch == '.')
            {
                number += ch;
                continue;
            }

            var n = double.Parse(number, CultureInfo.InvariantCulture);
            total += ch switch
            {
                'h' => TimeSpan.FromHours(n),
                'm' => TimeSpan.FromMinutes(n),
                's' => TimeSpan.FromSeconds(n),
                _ => throw new FormatException($"unknown duration unit '{ch}' in '{text}'"),
            };
            number = "";
        }

        Assert.True(number.Length == 0, $"duration '{text}' has no unit");
        return total;
    }

    private static YamlNode At(YamlNode node, string path)
    {
        var cur = node;
        foreach (var part in path.Split('.'))
        {
            cur = cur.Get(part) ?? throw new Xunit.Sdk.XunitException($"yaml phase: '{path}' has no '{part}'");
        }

        return cur;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "StreamLstm.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("StreamLstm.sln not found above " + AppContext.BaseDirectory);
    }
}
