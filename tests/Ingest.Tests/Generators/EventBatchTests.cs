using StreamLstm.Ingest.Generators;
using static StreamLstm.Ingest.Tests.Generators.GeneratorTestKit;

namespace StreamLstm.Ingest.Tests.Generators;

public class EventBatchTests
{
    [Fact]
    public void Fill_HoldsExactlyTheGeneratedEvents_AcrossArenaGrowth()
    {
        // Audio frames are ~180 bytes, more than the initial 128 per event, so the arena must grow.
        var batch = EventBatch.Fill(new AudioFrameGenerator(new AudioGeneratorOptions { Keys = 7, Seed = 4 }), 5_000);
        var expected = Take(new AudioFrameGenerator(new AudioGeneratorOptions { Keys = 7, Seed = 4 }), 5_000);
        Assert.Equal(5_000, batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            Assert.Equal(expected[i].Info, batch[i]);
            Assert.Equal(expected[i].Json, batch.Value(i).ToArray());
            Assert.Equal(expected[i].Key, System.Text.Encoding.UTF8.GetString(batch.Key(i)));
        }

        Assert.Equal(expected.Sum(e => (long)e.Json.Length), batch.Bytes);
    }
}
