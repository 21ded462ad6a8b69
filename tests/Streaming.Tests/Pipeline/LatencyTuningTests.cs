using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Sink.Kafka;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Tests.Pipeline;

/// <summary><c>Pipeline:Latency</c> and <c>Kafka:ForecastFormat</c>: bound from configuration and applied to each part.</summary>
public class LatencyTuningTests
{
    [Fact]
    public void Settings_BindFromConfiguration_AndAreUnsetByDefault()
    {
        Assert.Null(Provider([]).GetRequiredService<IOptions<PipelineOptions>>().Value.Latency);
        var sp = Provider(new() { ["Kafka:BootstrapServers"] = "localhost:9092", ["Pipeline:Latency"] = "throughput", ["Kafka:ForecastFormat"] = "binary" });
        Assert.Equal(LatencyProfile.Throughput, sp.GetRequiredService<IOptions<PipelineOptions>>().Value.Latency);
        Assert.Equal(ForecastFormat.Binary, sp.GetRequiredService<IOptions<KafkaSettings>>().Value.ForecastFormat);
    }

    [Fact]
    public void Profile_SetsConsumerProducerAndWorkers_ButAnExplicitClientPropertyWins()
    {
        var low = LatencyTuning.For(LatencyProfile.Low);
        var pipeline = new PipelineOptions { MaxWait = TimeSpan.FromMilliseconds(50) };
        var consumer = new KafkaConsumerOptions();
        var pinned = new KafkaConsumerOptions { Extra = { ["fetch.wait.max.ms"] = "250" } };
        var producer = new KafkaForecastOutputOptions();
        low.ApplyTo(pipeline);
        low.ApplyTo(consumer);
        low.ApplyTo(pinned);
        low.ApplyTo(producer);

        Assert.Equal(low.MaxWait, pipeline.MaxWait);
        Assert.Equal("1", consumer.Extra["fetch.wait.max.ms"]);
        Assert.Equal(low.PollTimeout, consumer.PollTimeout);
        Assert.Equal("250", pinned.Extra["fetch.wait.max.ms"]);
        Assert.Equal(low.ProducerLinger, producer.Linger);
    }

    [Fact]
    public void Low_DisablesNagle_OnConsumerAndForecastsProducer_OtherProfilesDoNot_AndAnExplicitValueWins()
    {
        const string Nagle = LatencyTuning.NagleDisableProperty;
        var low = LatencyTuning.For(LatencyProfile.Low);
        var consumer = new KafkaConsumerOptions();
        var producer = new KafkaForecastOutputOptions();
        low.ApplyTo(consumer);
        low.ApplyTo(producer);
        Assert.Equal("true", consumer.Extra[Nagle]);
        Assert.Equal("true", producer.Extra[Nagle]);

        foreach (var profile in new[] { LatencyProfile.Balanced, LatencyProfile.Throughput })
        {
            var (c, p) = (new KafkaConsumerOptions(), new KafkaForecastOutputOptions());
            LatencyTuning.For(profile).ApplyTo(c);
            LatencyTuning.For(profile).ApplyTo(p);
            Assert.False(c.Extra.ContainsKey(Nagle), $"{profile} consumer");
            Assert.False(p.Extra.ContainsKey(Nagle), $"{profile} producer");
        }

        // Kafka:Client is one dictionary shared by both clients: the explicit value wins and the dictionary is not changed.
        var client = new Dictionary<string, string> { [Nagle] = "false" };
        var pinnedConsumer = new KafkaConsumerOptions { Extra = client };
        var pinnedProducer = new KafkaForecastOutputOptions { Extra = client };
        low.ApplyTo(pinnedConsumer);
        low.ApplyTo(pinnedProducer);
        Assert.Equal("false", pinnedConsumer.Extra[Nagle]);
        Assert.Equal("false", pinnedProducer.Extra[Nagle]);
        var shared = new Dictionary<string, string>();
        var sharedProducer = new KafkaForecastOutputOptions { Extra = shared };
        low.ApplyTo(sharedProducer);
        Assert.Empty(shared);
    }

    [Fact]
    public void Low_DisablesNagle_OnTheForecastsOutputBuiltFromConfiguration_UnlessKafkaClientSetsIt()
    {
        Assert.Equal("true", ForecastOptions(new() { ["Pipeline:Latency"] = "low" }).Extra[LatencyTuning.NagleDisableProperty]);
        Assert.False(ForecastOptions(new() { ["Pipeline:Latency"] = "balanced" }).Extra.ContainsKey(LatencyTuning.NagleDisableProperty));
        Assert.Equal("false", ForecastOptions(new() { ["Pipeline:Latency"] = "low", ["Kafka:Client:socket.nagle.disable"] = "false" }).Extra[LatencyTuning.NagleDisableProperty]);
    }

    [Fact]
    public void ForecastCompression_BindsFromConfiguration_AndReachesTheForecastsProducerConfig()
    {
        Assert.Equal("lz4", KafkaForecastOutput.ProducerConfig(ForecastOptions([])).Get("compression.type"));
        var zstd = ForecastOptions(new() { ["Kafka:ForecastCompression"] = "zstd" });
        Assert.Equal(ForecastCompression.Zstd, zstd.Compression);
        Assert.Equal("zstd", KafkaForecastOutput.ProducerConfig(zstd).Get("compression.type"));
        Assert.Equal("none", KafkaForecastOutput.ProducerConfig(ForecastOptions(new() { ["Kafka:ForecastCompression"] = "none", ["Pipeline:Latency"] = "throughput" })).Get("compression.type"));
    }

    [Fact]
    public void Profiles_TradeLatencyForBatching_InOrder()
    {
        var (low, balanced, throughput) = (LatencyTuning.For(LatencyProfile.Low), LatencyTuning.For(LatencyProfile.Balanced), LatencyTuning.For(LatencyProfile.Throughput));
        Assert.True(low.FetchWaitMaxMs < balanced.FetchWaitMaxMs && balanced.FetchWaitMaxMs < throughput.FetchWaitMaxMs);
        Assert.True(low.ProducerLinger < balanced.ProducerLinger && balanced.ProducerLinger < throughput.ProducerLinger);
        Assert.True(low.MaxWait < balanced.MaxWait && balanced.MaxWait < throughput.MaxWait);
    }

    private static KafkaForecastOutputOptions ForecastOptions(Dictionary<string, string?> settings)
    {
        settings["Kafka:BootstrapServers"] = "localhost:9092";
        var sp = Provider(settings);
        return ServiceCollectionExtensions.ForecastOutputOptions(sp.GetRequiredService<IOptions<KafkaSettings>>().Value, sp.GetRequiredService<IOptions<PipelineOptions>>().Value.Latency);
    }

    private static ServiceProvider Provider(Dictionary<string, string?> settings) =>
        new ServiceCollection().AddStreamLstmPipeline(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()).BuildServiceProvider();
}
