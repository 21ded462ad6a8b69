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

    [Fact]
    public void Growth_AddsChunks_WithoutMovingExistingRows()
    {
        var slab = new StateSlab(Cfg, 1);
        var first = slab.Allocate();
        slab.H(first, 0)[1] = 42f;
        ref var before = ref slab.H(first, 0)[0];
        var chunks = slab.Chunks;
        while (slab.Chunks < chunks + 3) slab.Allocate();
        // Same address after growth: existing state was neither copied nor moved.
        Assert.True(System.Runtime.CompilerServices.Unsafe.AreSame(ref before, ref slab.H(first, 0)[0]));
        Assert.Equal(42f, slab.H(first, 0)[1]);
        Assert.Equal(slab.Chunks * slab.ChunkSlots, slab.Capacity);
    }

    [Fact]
    public void ExportImport_RoundTripsEveryLayer_AndLayoutIsHcPerLayer()
    {
        var slab = new StateSlab(Cfg, 4);
        int a = slab.Allocate(), b = slab.Allocate();
        for (var l = 0; l < 2; l++)
        {
            for (var j = 0; j < 4; j++)
            {
                slab.H(a, l)[j] = 10 * l + j;
                slab.C(a, l)[j] = -(10 * l + j) - 0.5f;
            }
        }

        var row = new float[slab.RowFloats];
        Assert.Equal(2 * 2 * 4, row.Length);
        slab.Export(a, row);
        Assert.Equal(slab.H(a, 1)[2], row[2 * 4 + 2]);
        Assert.Equal(slab.C(a, 1)[3], row[3 * 4 + 3]);
        slab.Import(b, row);
        for (var l = 0; l < 2; l++)
        {
            Assert.Equal(slab.H(a, l).ToArray(), slab.H(b, l).ToArray());
            Assert.Equal(slab.C(a, l).ToArray(), slab.C(b, l).ToArray());
        }

        Assert.False(slab.IsDirty(b));
        Assert.Throws<ArgumentException>(() => slab.Import(b, row.AsSpan(1)));
    }

    [Fact]
    public void DirtyTracking_ListsEachSlotOnce_ClearsOnTake_AndDropsFreedSlots()
    {
        var slab = new StateSlab(Cfg, 4);
        int a = slab.Allocate(), b = slab.Allocate(), c = slab.Allocate();
        Assert.False(slab.IsDirty(a));
        slab.MarkDirty(b);
        slab.MarkDirty(a);
        slab.MarkDirty(b);
        slab.MarkDirty(c);
        slab.Free(c);
        var taken = new List<int>();
        Assert.Equal(2, slab.TakeDirty(taken));
        Assert.Equal([b, a], taken);
        Assert.False(slab.IsDirty(a) || slab.IsDirty(b));
        taken.Clear();
        Assert.Equal(0, slab.TakeDirty(taken));
        slab.MarkDirty(a);
        Assert.Equal(1, slab.TakeDirty(taken));
        Assert.Equal([a], taken);
    }

    [Fact]
    public void Stepping_MarksTheSteppedSlotsDirty()
    {
        var model = StreamLstm.Model.Lstm.LstmModel.CreateRandom(new LstmConfig(3, 4, 2, 1), 5);
        var slab = new StateSlab(model.Config, 8);
        int a = slab.Allocate(), b = slab.Allocate();
        using var stepper = new StreamLstm.Model.Inference.LstmStepper(model, 4);
        stepper.Step(slab, [b], new float[3], new float[1], new float[1]);
        var taken = new List<int>();
        slab.TakeDirty(taken);
        Assert.Equal([b], taken);
        Assert.False(slab.IsDirty(a));
    }
}
