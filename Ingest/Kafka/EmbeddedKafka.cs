using System.Runtime.InteropServices;
using System.Text;

namespace StreamLstm.Ingest.Kafka;

/// <summary>
/// An in-process Kafka cluster: librdkafka's mock cluster, started by P/Invoke. It speaks the real Kafka protocol
/// (consumer groups, committed offsets, several brokers), so any Kafka client can use <see cref="BootstrapServers"/>.
/// It keeps only about 100 K messages per partition.
/// </summary>
public sealed class EmbeddedKafka : IDisposable
{
    private const int ProducerType = 0;
    private nint _rk;
    private nint _cluster;

    private EmbeddedKafka(nint rk, nint cluster, string bootstrap, int brokers)
    {
        _rk = rk;
        _cluster = cluster;
        BootstrapServers = bootstrap;
        BrokerCount = brokers;
    }

    /// <summary>Comma-separated <c>host:port</c> list of the mock brokers.</summary>
    public string BootstrapServers { get; }

    /// <summary>Number of brokers in the cluster.</summary>
    public int BrokerCount { get; }

    /// <summary>Starts a mock cluster with <paramref name="brokers"/> brokers.</summary>
    /// <param name="brokers">Broker count (1..16).</param>
    /// <param name="disableNagle">
    /// Sets <c>TCP_NODELAY</c> on the brokers' accepted connections, as a real Kafka broker does (the mock applies its own
    /// handle's <c>socket.nagle.disable</c> to them): small responses are sent at once, not held for the client's ACK.
    /// </param>
    /// <returns>The running cluster; dispose it to stop it.</returns>
    public static EmbeddedKafka Start(int brokers = 1, bool disableNagle = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(brokers, 16);
        KafkaNative.EnsureLoaded();
        var conf = Native.rd_kafka_conf_new();
        var err = new byte[512];
        Set(conf, "client.id", "streamlstm-embedded-kafka", err);
        Set(conf, "log_level", "3", err);
        if (disableNagle) Set(conf, "socket.nagle.disable", "true", err);
        var rk = Native.rd_kafka_new(ProducerType, conf, err, (nuint)err.Length);
        if (rk == 0)
        {
            throw new InvalidOperationException("rd_kafka_new failed: " + CString(err));
        }

        var cluster = Native.rd_kafka_mock_cluster_new(rk, brokers);
        if (cluster == 0)
        {
            Native.rd_kafka_destroy(rk);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed");
        }

        var bootstrap = Marshal.PtrToStringUTF8(Native.rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new InvalidOperationException("mock cluster returned no bootstrap servers");
        return new EmbeddedKafka(rk, cluster, bootstrap, brokers);
    }

    /// <summary>Creates a topic with the given partition count (replication factor capped at the broker count).</summary>
    /// <param name="topic">Topic name.</param>
    /// <param name="partitions">Partition count.</param>
    /// <param name="replicationFactor">Replication factor.</param>
    public void CreateTopic(string topic, int partitions, int replicationFactor = 1)
    {
        ObjectDisposedException.ThrowIf(_cluster == 0, this);
        var rc = Native.rd_kafka_mock_topic_create(_cluster, topic, partitions, Math.Min(replicationFactor, BrokerCount));
        if (rc != 0)
        {
            throw new InvalidOperationException($"Could not create topic '{topic}' with {partitions} partitions: librdkafka error {rc}");
        }
    }

    /// <summary>
    /// Deletes the records of <paramref name="topic"/>[<paramref name="partition"/>] before <paramref name="offset"/> (the log
    /// start moves there), as retention would. The mock finds a fetch's offset by walking the partition's message sets from
    /// the start, so a long log makes every fetch slower; this keeps it short.
    /// </summary>
    /// <param name="topic">Topic.</param>
    /// <param name="partition">Partition.</param>
    /// <param name="offset">First offset to keep.</param>
    public void DeleteRecordsBefore(string topic, int partition, long offset)
    {
        ObjectDisposedException.ThrowIf(_cluster == 0, this);
        var rc = Native.rd_kafka_mock_partition_delete_records(_cluster, topic, partition, offset);
        if (rc != 0) throw new InvalidOperationException($"Could not delete records of {topic}[{partition}] before {offset}: librdkafka error {rc}");
    }

    /// <summary>
    /// Fault injection: every request about <paramref name="topic"/> (produce, fetch, metadata) fails with
    /// <paramref name="error"/> until it is set back to <see cref="Confluent.Kafka.ErrorCode.NoError"/>.
    /// </summary>
    /// <param name="topic">Topic.</param>
    /// <param name="error">Kafka protocol error to answer with.</param>
    public void SetTopicError(string topic, Confluent.Kafka.ErrorCode error) => Native.rd_kafka_mock_topic_set_error(_cluster, topic, (int)error);

    /// <summary>Fault injection: the next requests of API <paramref name="apiKey"/> (0 = Produce, 1 = Fetch...) fail, one per
    /// error given, in order.</summary>
    /// <param name="apiKey">Kafka protocol API key.</param>
    /// <param name="errors">Errors to answer with.</param>
    public void PushRequestErrors(short apiKey, params Confluent.Kafka.ErrorCode[] errors) =>
        Native.rd_kafka_mock_push_request_errors_array(_cluster, apiKey, (nuint)errors.Length, [.. errors.Select(e => (int)e)]);

    /// <summary>
    /// Makes broker <paramref name="brokerId"/> advertise <paramref name="host"/>:<paramref name="port"/> in metadata
    /// responses. The mock broker keeps listening where it is (librdkafka always binds it to a kernel-chosen loopback port),
    /// so something must forward the advertised address to <see cref="BootstrapServers"/>.
    /// </summary>
    /// <param name="brokerId">Broker id (the mock numbers its brokers from 1).</param>
    /// <param name="host">Advertised host.</param>
    /// <param name="port">Advertised port.</param>
    public void AdvertiseBroker(int brokerId, string host, int port)
    {
        ObjectDisposedException.ThrowIf(_cluster == 0, this);
        Native.rd_kafka_mock_broker_set_host_port(_cluster, brokerId, host, port);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_cluster != 0)
        {
            Native.rd_kafka_mock_cluster_destroy(_cluster);
            _cluster = 0;
        }

        if (_rk != 0)
        {
            Native.rd_kafka_destroy(_rk);
            _rk = 0;
        }
    }

    private static void Set(nint conf, string name, string value, byte[] err)
    {
        if (Native.rd_kafka_conf_set(conf, name, value, err, (nuint)err.Length) != 0)
        {
            throw new InvalidOperationException($"rd_kafka_conf_set({name}) failed: {CString(err)}");
        }
    }

    private static string CString(byte[] buffer)
    {
        var end = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, end < 0 ? buffer.Length : end);
    }

    private static class Native
    {
        private const string Lib = "librdkafka";

        static Native()
        {
            // Resolve "librdkafka" to the exact library Confluent.Kafka uses.
            NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, static (name, _, _) =>
                name == Lib ? KafkaNative.EnsureLoaded() : 0);
        }

        [DllImport(Lib)] public static extern nint rd_kafka_conf_new();
        [DllImport(Lib)] public static extern int rd_kafka_conf_set(nint conf, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, byte[] errstr, nuint errstrSize);
        [DllImport(Lib)] public static extern nint rd_kafka_new(int type, nint conf, byte[] errstr, nuint errstrSize);
        [DllImport(Lib)] public static extern void rd_kafka_destroy(nint rk);
        [DllImport(Lib)] public static extern nint rd_kafka_mock_cluster_new(nint rk, int brokerCount);
        [DllImport(Lib)] public static extern void rd_kafka_mock_cluster_destroy(nint cluster);
        [DllImport(Lib)] public static extern nint rd_kafka_mock_cluster_bootstraps(nint cluster);
        [DllImport(Lib)] public static extern int rd_kafka_mock_topic_create(nint cluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partitions, int replicationFactor);
        [DllImport(Lib)] public static extern int rd_kafka_mock_partition_delete_records(nint cluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partition, long offset);
        [DllImport(Lib)] public static extern void rd_kafka_mock_topic_set_error(nint cluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int error);
        [DllImport(Lib)] public static extern void rd_kafka_mock_broker_set_host_port(nint cluster, int brokerId, [MarshalAs(UnmanagedType.LPUTF8Str)] string host, int port);
        [DllImport(Lib)] public static extern void rd_kafka_mock_push_request_errors_array(nint cluster, short apiKey, nuint count, int[] errors);
    }
}
