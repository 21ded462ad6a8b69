using Confluent.Kafka;
using StreamLstm.Ingest.Generators;
using StreamLstm.Ingest.Kafka;

namespace StreamLstm.Web.Tests.Support;

/// <summary>Produces one tick key's history with a single price spike to the demo's <c>ticks</c> topic.</summary>
internal static class SpikeInjector
{
    /// <summary>The spike's price (the rest sit near 100).</summary>
    public const double SpikePrice = 200;

    /// <summary>Produces 40 quiet ticks (past the detector's warm-up), the spike, then 10 quiet ticks.</summary>
    /// <param name="bootstrapServers">Kafka.</param>
    /// <param name="key">Symbol.</param>
    /// <returns>A task that completes when Kafka acknowledged every tick.</returns>
    public static async Task ProduceAsync(string bootstrapServers, string key)
    {
        KafkaNative.EnsureLoaded();
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = bootstrapServers, Acks = Acks.All }).Build();
        var encoded = EventJson.EncodeKey(key);
        var keyBytes = System.Text.Encoding.UTF8.GetBytes(key);
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var buffer = new byte[EventJson.MaxEventBytes];
        for (var i = 0; i < 51; i++)
        {
            var price = i == 40 ? SpikePrice : 100 + (i % 2 == 0 ? 0.01 : -0.01);
            var n = EventJson.WriteTick(buffer, encoded, start + i * 100, price, 10, double.NaN, double.NaN);
            await producer.ProduceAsync("ticks", new Message<byte[], byte[]> { Key = keyBytes, Value = buffer[..n] });
        }
    }
}
