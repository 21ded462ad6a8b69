using System.Diagnostics;
using System.Globalization;
using StreamLstm.Streaming.Bench;

namespace StreamLstm.Streaming.Tests.Bench;

/// <summary>
/// The paced bench's per-second attribution reads librdkafka statistics: the sets the ticks producer sent (the mock
/// broker's log length, which its unindexed fetch walks) and the round trips. These pin which fields are read.
/// </summary>
public class KafkaStatsLogTests
{
    // Shaped like librdkafka's statistics JSON (trimmed): a bootstrap broker, the learned broker, an internal one.
    private static string Stats(long batches, double perBatch, double rttP99, long produceRequests) => $$$"""
        {"name":"rdkafka#producer-1","type":"producer",
         "brokers":{
           "127.0.0.1:40000/bootstrap":{"nodeid":-1,"source":"configured","waitresp_cnt":50,"rtt":{"avg":999000,"p99":999000},"int_latency":{"p99":999000},"outbuf_latency":{"p99":999000},"req":{"Produce":0,"Fetch":0}},
           "127.0.0.1:40000/1":{"nodeid":1,"source":"learned","waitresp_cnt":7,"rtt":{"avg":1500,"p99":{{{rttP99}}}},"int_latency":{"p99":2500},"outbuf_latency":{"p99":40},"req":{"Produce":{{{produceRequests}}},"Fetch":0,"Metadata":3}},
           ":0/internal":{"nodeid":-1,"source":"internal","rtt":{"avg":0,"p99":0},"int_latency":{"p99":888000},"req":{}}
         },
         "topics":{
           "ticks":{"topic":"ticks","batchsize":{"avg":600},"batchcnt":{"min":1,"max":20,"avg":{{{perBatch.ToString(CultureInfo.InvariantCulture)}}},"sum":{{{(long)(batches * perBatch)}}},"cnt":{{{batches}}}}},
           "forecasts":{"topic":"forecasts","batchcnt":{"avg":3,"cnt":12345}}
         }}
        """;

    [Fact]
    public void Parse_ReadsTheTopicsSetsAndOnlyTheLearnedBrokersLatencies()
    {
        var s = KafkaStatsSample.Parse(Stats(batches: 1950, perBatch: 10.5, rttP99: 266_000, produceRequests: 4_000), "ticks");

        Assert.Equal(1950, s.Batches);
        Assert.Equal(10.5, s.MessagesPerBatch);
        Assert.Equal(266_000, s.RttP99Us);
        Assert.Equal(1_500, s.RttAvgUs);
        Assert.Equal(2_500, s.QueueP99Us);
        Assert.Equal(4_000, s.Requests);
        Assert.Equal(40, s.OutbufP99Us);
        Assert.Equal(7, s.InFlight);
    }

    [Fact]
    public void Parse_WithoutATopic_CountsNoSets()
    {
        var s = KafkaStatsSample.Parse(Stats(1950, 10, 5_000, 7), topic: null);

        Assert.Equal(0, s.Batches);
        Assert.Equal(5_000, s.RttP99Us);
    }

    [Fact]
    public void PerSecond_FilesEachEmissionUnderTheSecondItCovers_AndAccumulatesTheLogFromBeforeTheStart()
    {
        var log = new KafkaStatsLog("ticks");
        var start = 1_000 * Stopwatch.Frequency;
        long At(double seconds) => start + (long)(seconds * Stopwatch.Frequency);
        log.Add(Stats(300, 10, 1_000, 1), At(-0.3)); // warm-up: in the log, not filed
        log.Add(Stats(2_000, 10, 2_000, 2), At(1.2)); // covers 0.2–1.2 s → second 0
        log.Add(Stats(1_900, 10, 90_000, 3), At(2.2)); // → second 1

        var perSecond = log.PerSecond(start);

        Assert.Equal([0, 1], perSecond.Keys.Order());
        Assert.Equal(2_300, perSecond[0].SetsSoFar);
        Assert.Equal(2_000, perSecond[0].Sample.RttP99Us);
        Assert.Equal(4_200, perSecond[1].SetsSoFar);
        Assert.Equal(90_000, perSecond[1].Sample.RttP99Us);
    }
}
