using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;

namespace StreamLstm.Ingest.Tests.Generators;

/// <summary>Reads a topic from the beginning until a count is reached, failing with the phase name on timeout.</summary>
internal static class KafkaTestConsumer
{
    public static List<ConsumeResult<string, string>> ReadExactly(string bootstrapServers, string topic, int expected, string phase, TimeSpan? timeout = null)
    {
        KafkaNative.EnsureLoaded();
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "test-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(topic);
        var results = new List<ConsumeResult<string, string>>(expected);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (results.Count < expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{phase}: timed out after {results.Count} of {expected} messages on '{topic}'");
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is not null && !r.IsPartitionEOF)
            {
                results.Add(r);
            }
        }

        // Nothing beyond the expected count may be there: drain briefly (bounded by messages, not by sleeping).
        var extra = consumer.Consume(TimeSpan.FromMilliseconds(500));
        Assert.True(extra is null, $"{phase}: more than {expected} messages on '{topic}'");
        consumer.Close();
        return results;
    }

    public static async Task WaitUntil(Func<bool> condition, string phase, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{phase}: condition not met in time");
            await Task.Yield();
        }
    }
}
