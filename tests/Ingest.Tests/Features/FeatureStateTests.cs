using StreamLstm.Ingest.Features;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Features;

public class FeatureStateTests
{
    [Theory]
    [InlineData(SourceKind.Tick)]
    [InlineData(SourceKind.Vitals)]
    [InlineData(SourceKind.Audio)]
    public void ExportedState_ImportedIntoAnotherExtractor_ContinuesBitIdentically(SourceKind kind)
    {
        var a = FeatureExtractor.For(kind);
        var b = FeatureExtractor.For(kind);
        a.EnsureCapacity(4);
        b.EnsureCapacity(4);
        var rng = new Random(11);
        var raw = new double[a.RawCount];
        var xa = new float[a.FeatureCount];
        var xb = new float[a.FeatureCount];
        void Fill()
        {
            for (var i = 0; i < raw.Length; i++) raw[i] = 50 + rng.NextDouble() * 10;
        }

        for (var t = 0; t < 50; t++)
        {
            Fill();
            a.Extract(2, raw, 1000 * t, xa);
        }

        var bytes = new byte[a.StateBytes];
        a.ExportState(2, bytes);
        b.ImportState(3, bytes);
        Assert.Equal(a.LastTimestamp(2), b.LastTimestamp(3));
        for (var t = 50; t < 80; t++)
        {
            Fill();
            var oa = a.Extract(2, raw, 1000 * t, xa);
            var ob = b.Extract(3, raw, 1000 * t, xb);
            Assert.Equal(BitConverter.DoubleToInt64Bits(oa), BitConverter.DoubleToInt64Bits(ob));
            Assert.Equal(xa, xb);
        }

        float[] mu = new float[3], ls = [0.1f, 0.2f, 0.3f], ma = new float[3], sa = new float[3], mb = new float[3], sb = new float[3];
        a.Denormalise(2, mu, ls, ma, sa);
        b.Denormalise(3, mu, ls, mb, sb);
        Assert.Equal(ma, mb);
        Assert.Equal(sa, sb);
    }

    [Fact]
    public void Import_RejectsAWrongSize()
    {
        var f = FeatureExtractor.For(SourceKind.Tick);
        f.EnsureCapacity(1);
        Assert.Throws<ArgumentException>(() => f.ImportState(0, new byte[f.StateBytes - 1]));
    }
}
