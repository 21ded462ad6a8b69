using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Sink.Spool;

namespace StreamLstm.Sink.Tests.Spool;

public sealed class SegmentSpoolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("spool-test-").FullName;

    private SpoolOptions Options(long max = 1 << 20, long segment = 4096) => new()
    {
        Directory = Path.Combine(_dir, "spool"),
        MaxBytes = max,
        SegmentBytes = segment,
        Fsync = false,
    };

    private string Dlq => Path.Combine(_dir, "dlq");

    private static byte[] Payload(int i) => Encoding.UTF8.GetBytes($"m,k=key{i} v={i} {i}\n" + new string('x', i % 300));

    private static List<int> Drain(SegmentSpool spool)
    {
        var got = new List<int>();
        while (spool.TryPeek(out var rec))
        {
            got.Add(rec.Points);
            var text = Encoding.UTF8.GetString(rec.Payload.Span);
            Assert.Equal(Encoding.UTF8.GetString(Payload(rec.Points)), text);
            spool.Acknowledge();
        }

        return got;
    }

    [Fact]
    public void AppendPeekAcknowledge_KeepsFifoOrderAcrossSegments_AndDeletesDeliveredSegments()
    {
        using var spool = SegmentSpool.Open(Options(), Dlq, NullLogger.Instance);
        for (var i = 1; i <= 200; i++)
        {
            Assert.True(spool.TryAppend(Payload(i), i));
        }

        Assert.True(Directory.GetFiles(Options().Directory, "seg-*.spool").Length > 3);
        Assert.Equal(200, spool.PendingRecords);
        Assert.Equal(Enumerable.Range(1, 200).Sum(), spool.PendingPoints);
        Assert.Equal(Enumerable.Range(1, 200), Drain(spool));
        Assert.True(spool.IsEmpty);
        Assert.Empty(Directory.GetFiles(Options().Directory, "seg-*.spool"));
    }

    [Fact]
    public void Reopen_ReplaysUnacknowledgedRecords_IncludingThePartlyAcknowledgedHeadSegment()
    {
        using (var spool = SegmentSpool.Open(Options(), Dlq, NullLogger.Instance))
        {
            for (var i = 1; i <= 50; i++)
            {
                spool.TryAppend(Payload(i), i);
            }

            // Acknowledge 3 records: they sit in the head segment, which is replayed whole after a restart (idempotent writes).
            for (var i = 0; i < 3; i++)
            {
                Assert.True(spool.TryPeek(out _));
                spool.Acknowledge();
            }
        }

        using var reopened = SegmentSpool.Open(Options(), Dlq, NullLogger.Instance);
        Assert.Empty(reopened.Corruptions);
        var got = Drain(reopened);
        Assert.Equal(Enumerable.Range(1, 50).Skip(got[0] - 1), got);
        Assert.True(got[0] <= 4, "records after the acknowledged ones must all come back");
        reopened.TryAppend(Payload(7), 7);
        Assert.Equal([7], Drain(reopened));
    }

    [Fact]
    public void TornTail_IsDetectedReportedAndCutOff_EverythingBeforeItIsDelivered()
    {
        string last;
        using (var spool = SegmentSpool.Open(Options(segment: 1 << 20), Dlq, NullLogger.Instance))
        {
            for (var i = 1; i <= 20; i++)
            {
                spool.TryAppend(Payload(i), i);
            }

            last = Directory.GetFiles(Options().Directory, "seg-*.spool").Single();
        }

        // A kill in the middle of the 21st append: a full header but only part of the payload.
        var torn = Payload(21);
        using (var fs = new FileStream(last, FileMode.Append))
        {
            var header = new byte[12];
            BitConverter.TryWriteBytes(header.AsSpan(0, 4), (uint)torn.Length);
            BitConverter.TryWriteBytes(header.AsSpan(4, 4), 21u);
            fs.Write(header);
            fs.Write(torn.AsSpan(0, torn.Length / 2));
        }

        var sizeBefore = new FileInfo(last).Length;
        using var reopened = SegmentSpool.Open(Options(), Dlq, NullLogger.Instance);
        var c = Assert.Single(reopened.Corruptions);
        Assert.Equal(Path.GetFileName(last), c.Segment);
        Assert.Contains("torn record", c.Reason);
        Assert.Equal(sizeBefore - c.Offset, c.DiscardedBytes);
        Assert.True(File.Exists(Path.Combine(Dlq, $"corrupt-{Path.GetFileNameWithoutExtension(last)}-{c.Offset}.bin")), "damaged bytes are kept for inspection");
        Assert.Equal(Enumerable.Range(1, 20), Drain(reopened));
    }

    [Fact]
    public void FlippedByte_FailsTheChecksum_RecordsBeforeItSurvive()
    {
        string seg;
        long offsetOf11;
        using (var spool = SegmentSpool.Open(Options(segment: 1 << 20), Dlq, NullLogger.Instance))
        {
            for (var i = 1; i <= 10; i++)
            {
                spool.TryAppend(Payload(i), i);
            }

            seg = Directory.GetFiles(Options().Directory, "seg-*.spool").Single();
            offsetOf11 = new FileInfo(seg).Length;
            for (var i = 11; i <= 15; i++)
            {
                spool.TryAppend(Payload(i), i);
            }
        }

        using (var fs = new FileStream(seg, FileMode.Open))
        {
            fs.Position = offsetOf11 + SegmentSpool.HeaderBytes + 3;
            var b = fs.ReadByte();
            fs.Position--;
            fs.WriteByte((byte)(b ^ 0x20));
        }

        using var reopened = SegmentSpool.Open(Options(), Dlq, NullLogger.Instance);
        var c = Assert.Single(reopened.Corruptions);
        Assert.Equal(offsetOf11, c.Offset);
        Assert.Equal("record checksum mismatch", c.Reason);
        Assert.Equal(Enumerable.Range(1, 10), Drain(reopened));
    }

    [Fact]
    public void Full_RefusesAppends_UntilSpaceIsFreed()
    {
        using var spool = SegmentSpool.Open(Options(max: 8192, segment: 4096), Dlq, NullLogger.Instance);
        var appended = 0;
        while (spool.TryAppend(Payload(100), 100))
        {
            appended++;
            Assert.True(appended < 1000, "spool never reported full");
        }

        Assert.True(spool.SizeBytes <= 8192);
        Assert.False(spool.HasRoomFor(Payload(100).Length));
        while (spool.TryPeek(out _) && spool.HasRoomFor(Payload(100).Length) == false)
        {
            spool.Acknowledge();
        }

        Assert.True(spool.TryAppend(Payload(100), 100), "after replay frees a segment the spool accepts again");
    }

    [Fact]
    public void SecondWriterOnTheSameDirectory_IsRefusedWithAClearMessage()
    {
        using var spool = SegmentSpool.Open(Options(), Dlq, NullLogger.Instance);
        var e = Assert.Throws<IOException>(() => SegmentSpool.Open(Options(), Dlq, NullLogger.Instance));
        Assert.Contains("in use by another writer", e.Message);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
