using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;

namespace StreamLstm.Model.Tests.State;

public class StateSlabTests
{
    private static readonly LstmConfig Cfg = new(3, 4, 2, 1);

    [Fact]
    public void Allocate_GivesZeroedSlots_AndRecyclesFreedOnes()
    {
        var slab = new StateSlab(Cfg, 1);
        var a = slab.Allocate();
        slab.H(a, 1)[2] = 5f;
        slab.C(a, 0)[0] = 7f;
        slab.Free(a);
        var b = slab.Allocate();
        Assert.Equal(a, b);
        Assert.All(slab.H(b, 1).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(slab.C(b, 0).ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(1, slab.Count);
    }

    [Fact]
    public void Grows_AndKeepsContents()
    {
        var slab = new StateSlab(Cfg, 1);
        var slots = Enumerable.Range(0, 100).Select(_ => slab.Allocate()).ToArray();
        for (var i = 0; i < slots.Length; i++) slab.H(slots[i], 1)[3] = i;
        Assert.True(slab.Capacity >= 100);
        Assert.Equal(100, slab.Count);
        for (var i = 0; i < slots.Length; i++) Assert.Equal(i, slab.H(slots[i], 1)[3]);
    }

    [Fact]
    public void CopyAndZero_CoverEveryLayer()
    {
        var slab = new StateSlab(Cfg, 4);
        int a = slab.Allocate(), b = slab.Allocate();
        for (var l = 0; l < 2; l++)
        {
            slab.H(a, l).Fill(l + 1);
            slab.C(a, l).Fill(-(l + 1));
        }

        slab.Copy(a, b);
        for (var l = 0; l < 2; l++)
        {
            Assert.All(slab.H(b, l).ToArray(), v => Assert.Equal(l + 1, v));
            Assert.All(slab.C(b, l).ToArray(), v => Assert.Equal(-(l + 1), v));
        }

        slab.Zero(b);
        for (var l = 0; l < 2; l++)
        {
            Assert.All(slab.H(b, l).ToArray(), v => Assert.Equal(0f, v));
            Assert.All(slab.C(b, l).ToArray(), v => Assert.Equal(0f, v));
        }

        Assert.Equal(1f, slab.H(a, 0)[0]);
    }

    [Fact]
    public void UsingAFreedSlot_Throws()
    {
        var slab = new StateSlab(Cfg, 4);
        var a = slab.Allocate();
        slab.Free(a);
        Assert.Throws<ArgumentOutOfRangeException>(() => slab.Free(a));
        Assert.Throws<ArgumentOutOfRangeException>(() => slab.H(a, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => slab.Zero(99));
    }
}
