using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace StreamLstm.Ingest.Kafka;

/// <summary>
/// Reads messages straight from the librdkafka handle of a Confluent.Kafka consumer (<c>rd_kafka_consumer_poll</c>), so
/// no <see cref="ConsumeResult{TKey, TValue}"/>, key/value arrays, headers or topic strings are made per message. The
/// Confluent consumer stays in charge of everything else (subscription, rebalance callbacks, offsets, commits, pause):
/// its callbacks are registered on the same handle and are served from inside this poll as from its own. The functions
/// are bound as unmanaged function pointers to the library <see cref="KafkaNative"/> loaded (the one Confluent.Kafka uses).
/// Not thread-safe: one poller per consumer thread.
/// </summary>
public sealed unsafe class NativeConsumerPoll : IDisposable
{
    /// <summary>rd_kafka_resp_err_t: no error.</summary>
    public const int ErrNoError = 0;

    /// <summary>rd_kafka_resp_err_t: reached the end of a partition (only with <c>enable.partition.eof</c>).</summary>
    public const int ErrPartitionEof = -191;

    private static readonly Lock Gate = new();
    private static Api* s_api;

    private readonly SafeHandle _handle;
    private readonly nint _rk;
    private bool _released;

    /// <summary>Binds to <paramref name="consumer"/>'s librdkafka handle (held until <see cref="Dispose"/>).</summary>
    /// <param name="consumer">A Confluent.Kafka consumer built in this process.</param>
    /// <exception cref="NotSupportedException">This Confluent.Kafka build does not expose its handle the way this code expects.</exception>
    public NativeConsumerPoll(IClient consumer)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        EnsureBound();
        // Confluent.Kafka keeps the rd_kafka_t* in Handle.LibrdkafkaHandle (internal): read it once, and hold a reference
        // so the handle cannot be destroyed under a poll.
        var property = typeof(Handle).GetProperty("LibrdkafkaHandle", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
            ?? throw new NotSupportedException("Kafka:ConsumePath=native: this Confluent.Kafka version has no Handle.LibrdkafkaHandle; use Kafka:ConsumePath=client.");
        _handle = property.GetValue(consumer.Handle) as SafeHandle
            ?? throw new NotSupportedException("Kafka:ConsumePath=native: the consumer's librdkafka handle is not a SafeHandle in this Confluent.Kafka version; use Kafka:ConsumePath=client.");
        var added = false;
        _handle.DangerousAddRef(ref added);
        _released = !added;
        _rk = _handle.DangerousGetHandle();
        if (_rk == 0) throw new ObjectDisposedException(nameof(consumer), "The consumer's librdkafka handle is closed.");
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for the next message (or serves callbacks while it waits).</summary>
    /// <param name="timeoutMs">Milliseconds; 0 returns at once.</param>
    /// <returns>The message (destroy it with <see cref="Destroy"/>), or one whose <see cref="NativeMessage.IsNull"/> is true.</returns>
    public NativeMessage Poll(int timeoutMs) => new(s_api->ConsumerPoll(_rk, timeoutMs));

    /// <summary>Gives a polled message back to librdkafka (its spans are invalid afterwards).</summary>
    /// <param name="message">A message from <see cref="Poll"/>.</param>
    public static void Destroy(NativeMessage message)
    {
        if (!message.IsNull) s_api->MessageDestroy(message.Pointer);
    }

    /// <summary>The library's text for an error code.</summary>
    /// <param name="err">rd_kafka_resp_err_t.</param>
    /// <returns>Text.</returns>
    public static string ErrorText(int err)
    {
        EnsureBound();
        return Marshal.PtrToStringUTF8(s_api->ErrToStr(err)) ?? err.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Topic name of a topic handle (empty for none).</summary>
    internal static ReadOnlySpan<byte> TopicName(nint rkt) =>
        rkt == 0 ? default : MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)s_api->TopicName(rkt));

    /// <summary>Timestamp of a message (milliseconds since the epoch; −1 when it has none).</summary>
    internal static long Timestamp(RdMessage* message) => s_api->MessageTimestamp(message, null);

    /// <summary>Releases the reference on the consumer's handle (after the consumer is closed).</summary>
    public void Dispose()
    {
        if (_released) return;
        _released = true;
        _handle.DangerousRelease();
    }

    private static void EnsureBound()
    {
        if (s_api is not null) return;
        lock (Gate)
        {
            if (s_api is not null) return;
            var lib = KafkaNative.EnsureLoaded();
            var api = (Api*)NativeMemory.AllocZeroed((nuint)sizeof(Api));
            api->ConsumerPoll = (delegate* unmanaged<nint, int, RdMessage*>)NativeLibrary.GetExport(lib, "rd_kafka_consumer_poll");
            api->MessageDestroy = (delegate* unmanaged<RdMessage*, void>)NativeLibrary.GetExport(lib, "rd_kafka_message_destroy");
            api->MessageTimestamp = (delegate* unmanaged<RdMessage*, int*, long>)NativeLibrary.GetExport(lib, "rd_kafka_message_timestamp");
            api->TopicName = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(lib, "rd_kafka_topic_name");
            api->ErrToStr = (delegate* unmanaged<int, nint>)NativeLibrary.GetExport(lib, "rd_kafka_err2str");
            s_api = api;
        }
    }

    /// <summary>rd_kafka_message_t (x64/arm64 layout).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct RdMessage
    {
        public int Err;
        public nint Rkt;
        public int Partition;
        public byte* Payload;
        public nuint Len;
        public byte* Key;
        public nuint KeyLen;
        public long Offset;
        public nint Private;
    }

    private struct Api
    {
        public delegate* unmanaged<nint, int, RdMessage*> ConsumerPoll;
        public delegate* unmanaged<RdMessage*, void> MessageDestroy;
        public delegate* unmanaged<RdMessage*, int*, long> MessageTimestamp;
        public delegate* unmanaged<nint, nint> TopicName;
        public delegate* unmanaged<int, nint> ErrToStr;
    }
}

/// <summary>A message librdkafka owns (from <see cref="NativeConsumerPoll.Poll"/>): its spans are valid until it is destroyed.</summary>
public readonly unsafe struct NativeMessage
{
    internal NativeMessage(NativeConsumerPoll.RdMessage* pointer) => Pointer = pointer;

    internal NativeConsumerPoll.RdMessage* Pointer { get; }

    /// <summary>True when the poll returned nothing.</summary>
    public bool IsNull => Pointer is null;

    /// <summary>rd_kafka_resp_err_t (0: a message; otherwise an error or partition EOF, see <see cref="NativeConsumerPoll"/>).</summary>
    public int Error => Pointer->Err;

    /// <summary>Topic name (UTF-8; empty for a client error with no topic).</summary>
    public ReadOnlySpan<byte> Topic => NativeConsumerPoll.TopicName(Pointer->Rkt);

    /// <summary>Partition.</summary>
    public int Partition => Pointer->Partition;

    /// <summary>Offset.</summary>
    public long Offset => Pointer->Offset;

    /// <summary>False when the message has no key (null, not empty).</summary>
    public bool HasKey => Pointer->Key is not null;

    /// <summary>Key bytes (empty when none).</summary>
    public ReadOnlySpan<byte> Key => new(Pointer->Key, (int)Pointer->KeyLen);

    /// <summary>False for a tombstone (null value).</summary>
    public bool HasValue => Pointer->Payload is not null;

    /// <summary>Value bytes (empty for a tombstone).</summary>
    public ReadOnlySpan<byte> Value => new(Pointer->Payload, (int)Pointer->Len);

    /// <summary>Message timestamp in milliseconds since the epoch (−1 when it has none).</summary>
    public long TimestampMs => NativeConsumerPoll.Timestamp(Pointer);
}
