using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StreamLstm.Sink.Hosting;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Tests.Hosting;

/// <summary>
/// Every options class bound by the host is validated at start-up: its data annotations are evaluated (they were not, before
/// <c>ValidateDataAnnotations</c>), nested sink sections included, and an out-of-range value stops the host with a message
/// naming the configuration key.
/// </summary>
public class OptionsValidationTests
{
    /// <summary>The option sections the host binds, and the class each binds to.</summary>
    private static readonly (string Section, Type Type)[] Roots =
    [
        (KafkaSettings.Section, typeof(KafkaSettings)),
        (PipelineOptions.Section, typeof(PipelineOptions)),
        (ModelSettings.Section, typeof(ModelSettings)),
        (SinkOptions.SectionName, typeof(SinkOptions)),
    ];

    /// <summary>Settings that no rule checked before: each made the service fail later (or misbehave) instead of at start.</summary>
    public static TheoryData<string, string> PreviouslyUnchecked => new()
    {
        { "Pipeline:InitialSlots", "0" },
        { "Pipeline:InitialSlots", "-5" },
        { "Kafka:CommitInterval", "00:00:00.0001" },
        { "Kafka:MaxPollMessages", "2000000" },
        { "Sink:Influx:ShutdownTimeout", "-00:00:01" },
        { "Sink:Influx:RetryBaseDelay", "-00:00:01" },
        { "Sink:Influx:MaxRetryAfter", "-00:00:01" },
        { "Sink:Influx:BreakerSamplingDuration", "00:00:00.100" },
        { "Sink:Influx:RequestTimeout", "2.00:00:00" },
        { "Sink:Influx:Precision", "9" },
        { "Sink:Alerts:ShutdownTimeout", "-00:00:01" },
        { "Sink:Alerts:DeliveryTimeout", "30.00:00:00" },
        { "Sink:Spool:FullPolicy", "7" },
    };

    [Theory]
    [MemberData(nameof(PreviouslyUnchecked))]
    public async Task OutOfRangeSetting_FailsHostStart_NamingTheSetting(string key, string value)
    {
        var failures = await StartFailuresAsync(new() { [key] = value });
        // The message leads with the key (the data-annotation wrapper text is stripped), as `run` prints it.
        Assert.True(failures.Any(f => f.StartsWith(key + " ", StringComparison.Ordinal)),
            $"start-up phase: {key}={value} was accepted or reported without leading with the key; failures: [{string.Join(" | ", failures)}]");
    }

    /// <summary>Each <c>[Range]</c>/<c>[EnumDataType]</c> on a bound options class is enforced, found by reflection so new ones are covered too.</summary>
    [Fact]
    public async Task EveryAnnotatedSetting_IsEnforcedAtStart()
    {
        var annotated = Roots.SelectMany(r => Annotated(r.Section, r.Type)).ToList();
        Assert.True(annotated.Count >= 20, $"reflection phase: found only {annotated.Count} annotated settings");
        var missed = new List<string>();
        foreach (var (key, bad) in annotated)
        {
            var failures = await StartFailuresAsync(new() { [key] = bad });
            if (!failures.Any(f => f.Contains(key, StringComparison.Ordinal)))
            {
                missed.Add($"{key}={bad} → [{string.Join(" | ", failures)}]");
            }
        }

        Assert.True(missed.Count == 0, "start-up phase: out-of-range settings not reported by key:\n" + string.Join("\n", missed));
    }

    [Fact]
    public void Defaults_AndShippedAppSettings_PassValidation()
    {
        using var host = BuildHost([]);
        // The host's first start-up step; run alone so that nothing connects to Kafka.
        var error = Record.Exception(() => host.Services.GetRequiredService<IStartupValidator>().Validate());
        Assert.True(error is null, "validation phase: defaults rejected: " + string.Join(" | ", error is null ? [] : StartupErrors.Describe(error) ?? [error.Message]));
    }

    [Fact]
    public async Task SeveralBadSettings_AreAllReported()
    {
        var failures = await StartFailuresAsync(new()
        {
            ["Pipeline:InitialSlots"] = "0",
            ["Models:Hidden"] = "0",
            ["Sink:Influx:ShutdownTimeout"] = "-00:00:01",
        });
        foreach (var key in new[] { "Pipeline:InitialSlots", "Models:Hidden", "Sink:Influx:ShutdownTimeout" })
        {
            Assert.True(failures.Any(f => f.Contains(key, StringComparison.Ordinal)), $"start-up phase: {key} missing from [{string.Join(" | ", failures)}]");
        }
    }

    [Fact]
    public async Task UnknownForecastProducePath_IsReportedByKey_WithTheChoices()
    {
        var failures = await StartFailuresAsync(new() { ["Kafka:ForecastProducePath"] = "fast" });
        Assert.Contains("Kafka:ForecastProducePath is 'fast', which is not a valid value; one of: client, native.", failures);
    }

    [Fact]
    public async Task NativeForecastProducePath_UnderExactlyOnce_FailsStartUp()
    {
        var failures = await StartFailuresAsync(new() { ["Kafka:ForecastProducePath"] = "native", ["Kafka:Guarantee"] = "exactly_once" });
        Assert.Contains(failures, f => f.StartsWith("Kafka:ForecastProducePath=native cannot be used with Kafka:Guarantee=exactly_once", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnknownForecastCompression_IsReportedByKey_WithTheChoices()
    {
        var failures = await StartFailuresAsync(new() { ["Kafka:ForecastCompression"] = "brotli" });
        Assert.Contains("Kafka:ForecastCompression is 'brotli', which is not a valid value; one of: none, lz4, snappy, zstd.", failures);
    }

    [Fact]
    public async Task UnknownConsumePath_IsReportedByKey_WithTheChoices()
    {
        var failures = await StartFailuresAsync(new() { ["Kafka:ConsumePath"] = "fast" });
        Assert.Contains("Kafka:ConsumePath is 'fast', which is not a valid value; one of: client, native.", failures);
    }

    [Fact]
    public async Task NativeConsumePath_UnderExactlyOnce_FailsStartUp()
    {
        var failures = await StartFailuresAsync(new() { ["Kafka:ConsumePath"] = "native", ["Kafka:Guarantee"] = "exactly_once" });
        Assert.Contains(failures, f => f.StartsWith("Kafka:ConsumePath=native cannot be used with Kafka:Guarantee=exactly_once", StringComparison.Ordinal));
    }

    private static async Task<IReadOnlyList<string>> StartFailuresAsync(Dictionary<string, string?> settings)
    {
        using var host = BuildHost(settings);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await host.StartAsync(cts.Token);
        }
        catch (Exception ex) when (StartupErrors.Describe(ex) is { } failures)
        {
            return failures;
        }

        await host.StopAsync(CancellationToken.None);
        return [];
    }

    private static IHost BuildHost(Dictionary<string, string?> settings)
    {
        var overrides = new Dictionary<string, string?>
        {
            // A port nothing listens on: a host that wrongly passes validation starts, finds no broker, and is stopped.
            ["Kafka:BootstrapServers"] = "127.0.0.1:9",
            ["Sink:Enabled"] = "true",
            ["Logging:LogLevel:Default"] = "None",
        };
        foreach (var (k, v) in settings) overrides[k] = v;
        return StreamLstmHost.CreateBuilder([], overrides: overrides).Build();
    }

    /// <summary>Each annotated setting under <paramref name="prefix"/> with a value just outside its range.</summary>
    private static IEnumerable<(string Key, string Bad)> Annotated(string prefix, Type type)
    {
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var key = prefix + ":" + p.Name;
            if (p.GetCustomAttribute<ValidateObjectMembersAttribute>() is not null)
            {
                foreach (var nested in Annotated(key, p.PropertyType)) yield return nested;
            }

            if (p.GetCustomAttribute<RangeAttribute>() is { } range)
            {
                yield return (key, BelowMinimum(range));
            }

            if (p.GetCustomAttribute<EnumDataTypeAttribute>() is not null)
            {
                yield return (key, "99");
            }
        }
    }

    private static string BelowMinimum(RangeAttribute range) => range.OperandType switch
    {
        var t when t == typeof(int) => ((int)range.Minimum - (range.MinimumIsExclusive ? 0 : 1)).ToString(CultureInfo.InvariantCulture),
        var t when t == typeof(double) => ((double)range.Minimum - (range.MinimumIsExclusive ? 0 : Math.Max(1e-9, Math.Abs((double)range.Minimum) * 1e-6))).ToString("R", CultureInfo.InvariantCulture),
        var t when t == typeof(TimeSpan) => (TimeSpan.Parse((string)range.Minimum, CultureInfo.InvariantCulture) - TimeSpan.FromTicks(range.MinimumIsExclusive ? 0 : 1)).ToString("c", CultureInfo.InvariantCulture),
        var t => throw new InvalidOperationException($"no out-of-range value for a Range over {t}"),
    };
}
