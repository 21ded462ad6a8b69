using System.Runtime.InteropServices;
using System.Text;

namespace StreamLstm.Sink.Kafka.Native;

/// <summary>
/// The few librdkafka C functions the native produce path calls, bound as unmanaged function pointers to the very library
/// Confluent.Kafka has loaded (found in the process's mapped files), so both use one librdkafka and no second copy is
/// loaded. Plain function pointers: no delegate, marshalling stub or allocation per call.
/// </summary>
internal static unsafe class LibRdKafka
{
    /// <summary>rd_kafka_type_t: producer.</summary>
    public const int Producer = 0;

    /// <summary>Event type: delivery reports (a batch of messages per event).</summary>
    public const int EventDr = 0x1;

    /// <summary>Event type: a log line (with <c>log.queue=true</c> and the log queue forwarded).</summary>
    public const int EventLogType = 0x4;

    /// <summary>Event type: a client error.</summary>
    public const int EventError = 0x8;

    /// <summary>The client copies the payload during the call.</summary>
    public const int MsgFCopy = 0x2;

    /// <summary>Partition chosen by the partitioner.</summary>
    public const int PartitionUa = -1;

    /// <summary>rd_kafka_resp_err_t: no error.</summary>
    public const int ErrNoError = 0;

    /// <summary>The client's queue is full (backpressure).</summary>
    public const int ErrQueueFull = -184;

    /// <summary>The client failed fatally (idempotence guarantees broken).</summary>
    public const int ErrFatal = -150;

    /// <summary>Purge flags: queued and in-flight messages.</summary>
    public const int PurgeQueueAndInflight = 0x1 | 0x2;

    /// <summary>Value type of a <see cref="Vu"/>: topic handle.</summary>
    public const int VtRkt = 2;

    /// <summary>Value type of a <see cref="Vu"/>: value (pointer, size).</summary>
    public const int VtValue = 4;

    /// <summary>Value type of a <see cref="Vu"/>: key (pointer, size).</summary>
    public const int VtKey = 5;

    /// <summary>Value type of a <see cref="Vu"/>: per-message opaque.</summary>
    public const int VtOpaque = 6;

    /// <summary>Value type of a <see cref="Vu"/>: message flags.</summary>
    public const int VtMsgFlags = 7;

    /// <summary>Value type of a <see cref="Vu"/>: one header (name, value pointer, size).</summary>
    public const int VtHeader = 9;

    private static readonly Lock Gate = new();
    private static Api* s_api;

    /// <summary>The bound functions (loads and binds them on first use).</summary>
    public static ref readonly Api Fn
    {
        get
        {
            if (s_api is null) Bind();
            return ref *s_api;
        }
    }

    /// <summary>Reads a NUL-terminated UTF-8 string the library owns (null pointer: empty).</summary>
    /// <param name="p">Pointer.</param>
    /// <returns>The string.</returns>
    public static string Str(nint p) => p == 0 ? "" : Marshal.PtrToStringUTF8(p) ?? "";

    /// <summary>The library's text for an error code.</summary>
    /// <param name="err">rd_kafka_resp_err_t.</param>
    /// <returns>Text.</returns>
    public static string ErrorText(int err) => Str(Fn.ErrToStr(err));

    /// <summary>A NUL-terminated UTF-8 copy of <paramref name="s"/>.</summary>
    /// <param name="s">String.</param>
    /// <returns>Bytes.</returns>
    public static byte[] Utf8Z(string s)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }

    private static void Bind()
    {
        lock (Gate)
        {
            if (s_api is not null) return;
            var lib = NativeLibrary.Load(LoadedPath());
            var api = (Api*)NativeMemory.AllocZeroed((nuint)sizeof(Api));
            api->ConfNew = (delegate* unmanaged<nint>)NativeLibrary.GetExport(lib, "rd_kafka_conf_new");
            api->ConfSet = (delegate* unmanaged<nint, byte*, byte*, byte*, nuint, int>)NativeLibrary.GetExport(lib, "rd_kafka_conf_set");
            api->ConfSetEvents = (delegate* unmanaged<nint, int, void>)NativeLibrary.GetExport(lib, "rd_kafka_conf_set_events");
            api->ConfDestroy = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(lib, "rd_kafka_conf_destroy");
            api->New = (delegate* unmanaged<int, nint, byte*, nuint, nint>)NativeLibrary.GetExport(lib, "rd_kafka_new");
            api->Destroy = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(lib, "rd_kafka_destroy");
            api->TopicNew = (delegate* unmanaged<nint, byte*, nint, nint>)NativeLibrary.GetExport(lib, "rd_kafka_topic_new");
            api->TopicDestroy = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(lib, "rd_kafka_topic_destroy");
            api->Produce = (delegate* unmanaged<nint, int, int, byte*, nuint, byte*, nuint, nint, int>)NativeLibrary.GetExport(lib, "rd_kafka_produce");
            api->ProduceVa = (delegate* unmanaged<nint, Vu*, nuint, nint>)NativeLibrary.GetExport(lib, "rd_kafka_produceva");
            api->ErrorCode = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(lib, "rd_kafka_error_code");
            api->ErrorDestroy = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(lib, "rd_kafka_error_destroy");
            api->LastError = (delegate* unmanaged<int>)NativeLibrary.GetExport(lib, "rd_kafka_last_error");
            api->ErrToStr = (delegate* unmanaged<int, nint>)NativeLibrary.GetExport(lib, "rd_kafka_err2str");
            api->FatalError = (delegate* unmanaged<nint, byte*, nuint, int>)NativeLibrary.GetExport(lib, "rd_kafka_fatal_error");
            api->QueueGetMain = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(lib, "rd_kafka_queue_get_main");
            api->QueueDestroy = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(lib, "rd_kafka_queue_destroy");
            api->QueuePoll = (delegate* unmanaged<nint, int, nint>)NativeLibrary.GetExport(lib, "rd_kafka_queue_poll");
            api->EventType = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(lib, "rd_kafka_event_type");
            api->EventMessageArray = (delegate* unmanaged<nint, Message**, nuint, nuint>)NativeLibrary.GetExport(lib, "rd_kafka_event_message_array");
            api->EventError = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(lib, "rd_kafka_event_error");
            api->EventErrorString = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(lib, "rd_kafka_event_error_string");
            api->EventErrorIsFatal = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(lib, "rd_kafka_event_error_is_fatal");
            api->EventDestroy = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(lib, "rd_kafka_event_destroy");
            api->Flush = (delegate* unmanaged<nint, int, int>)NativeLibrary.GetExport(lib, "rd_kafka_flush");
            api->Purge = (delegate* unmanaged<nint, int, int>)NativeLibrary.GetExport(lib, "rd_kafka_purge");
            api->SetLogQueue = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(lib, "rd_kafka_set_log_queue");
            api->EventLogRead = (delegate* unmanaged<nint, byte**, byte**, int*, int>)NativeLibrary.GetExport(lib, "rd_kafka_event_log");
            api->Name = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(lib, "rd_kafka_name");
            api->OutqLen = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(lib, "rd_kafka_outq_len");
            s_api = api;
        }
    }

    /// <summary>
    /// The path of the librdkafka Confluent.Kafka loaded: asking its version makes it load the library (from wherever the
    /// process pointed it, e.g. the CentOS 8 build on Debian), then the process's mapped files say which file that was.
    /// </summary>
    private static string LoadedPath()
    {
        _ = Confluent.Kafka.Library.Version;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0) continue;
            var path = line[slash..].Trim();
            if (Path.GetFileName(path).Contains("rdkafka", StringComparison.Ordinal)) return path;
        }

        throw new DllNotFoundException("librdkafka is not mapped into the process although Confluent.Kafka reported its version; the native produce path cannot bind to it.");
    }

    /// <summary>rd_kafka_message_t (x64/arm64 layout).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Message
    {
        /// <summary>Error code (delivery reports: the delivery's outcome).</summary>
        public int Err;

        /// <summary>Topic handle.</summary>
        public nint Rkt;

        /// <summary>Partition.</summary>
        public int Partition;

        /// <summary>Payload (the client's copy).</summary>
        public byte* Payload;

        /// <summary>Payload bytes.</summary>
        public nuint Len;

        /// <summary>Key (the client's copy).</summary>
        public byte* Key;

        /// <summary>Key bytes.</summary>
        public nuint KeyLen;

        /// <summary>Offset.</summary>
        public long Offset;

        /// <summary>The per-message opaque given to produce.</summary>
        public nint Private;
    }

    /// <summary>rd_kafka_vu_t: one typed argument of rd_kafka_produceva (a tag and a 64-byte union).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 72)]
    public struct Vu
    {
        /// <summary>rd_kafka_vtype_t.</summary>
        [FieldOffset(0)]
        public int Type;

        /// <summary>First pointer of the union (string, pointer, header name, mem ptr).</summary>
        [FieldOffset(8)]
        public nint P0;

        /// <summary>Second word (mem size, header value pointer).</summary>
        [FieldOffset(16)]
        public nint P1;

        /// <summary>Third word (header size).</summary>
        [FieldOffset(24)]
        public nint P2;

        /// <summary>Integer member (msg flags).</summary>
        [FieldOffset(8)]
        public int I;
    }

    /// <summary>The bound entry points.</summary>
    public struct Api
    {
        public delegate* unmanaged<nint> ConfNew;
        public delegate* unmanaged<nint, byte*, byte*, byte*, nuint, int> ConfSet;
        public delegate* unmanaged<nint, int, void> ConfSetEvents;
        public delegate* unmanaged<nint, void> ConfDestroy;
        public delegate* unmanaged<int, nint, byte*, nuint, nint> New;
        public delegate* unmanaged<nint, void> Destroy;
        public delegate* unmanaged<nint, byte*, nint, nint> TopicNew;
        public delegate* unmanaged<nint, void> TopicDestroy;
        public delegate* unmanaged<nint, int, int, byte*, nuint, byte*, nuint, nint, int> Produce;
        public delegate* unmanaged<nint, Vu*, nuint, nint> ProduceVa;
        public delegate* unmanaged<nint, int> ErrorCode;
        public delegate* unmanaged<nint, void> ErrorDestroy;
        public delegate* unmanaged<int> LastError;
        public delegate* unmanaged<int, nint> ErrToStr;
        public delegate* unmanaged<nint, byte*, nuint, int> FatalError;
        public delegate* unmanaged<nint, nint> QueueGetMain;
        public delegate* unmanaged<nint, void> QueueDestroy;
        public delegate* unmanaged<nint, int, nint> QueuePoll;
        public delegate* unmanaged<nint, int> EventType;
        public delegate* unmanaged<nint, Message**, nuint, nuint> EventMessageArray;
        public delegate* unmanaged<nint, int> EventError;
        public delegate* unmanaged<nint, nint> EventErrorString;
        public delegate* unmanaged<nint, int> EventErrorIsFatal;
        public delegate* unmanaged<nint, void> EventDestroy;
        public delegate* unmanaged<nint, int, int> Flush;
        public delegate* unmanaged<nint, int, int> Purge;
        public delegate* unmanaged<nint, int> OutqLen;
        public delegate* unmanaged<nint, nint, int> SetLogQueue;
        public delegate* unmanaged<nint, byte**, byte**, int*, int> EventLogRead;
        public delegate* unmanaged<nint, nint> Name;
    }
}
