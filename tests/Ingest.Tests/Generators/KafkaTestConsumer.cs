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

    /// <summary>
    /// Drives a fake clock in small steps until <paramref name="run"/> completes, checking after every step that no
    /// more than <paramref name="allowed"/>(elapsed) items went out. Lagging is fine (a timer registered just after a
    /// step fires on a later one); going early fails. Returns the fake time it took.
    /// </summary>
    public static async Task<TimeSpan> DriveClock(Microsoft.Extensions.Time.Testing.FakeTimeProvider clock, Task run, Func<long> produced, Func<TimeSpan, long> allowed, TimeSpan step, string phase)
    {
        var start = clock.GetUtcNow();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!run.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{phase}: run did not finish ({produced()} produced)");
            var elapsed = clock.GetUtcNow() - start;
            var count = produced();
            Assert.True(count <= allowed(elapsed), $"{phase}: {count} items out after {elapsed.TotalMilliseconds} ms, at most {allowed(elapsed)} allowed");
            clock.Advance(step);
            await Task.Yield();
        }

        await run;
        return clock.GetUtcNow() - start;
    }
}
