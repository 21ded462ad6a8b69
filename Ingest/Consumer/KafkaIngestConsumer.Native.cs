using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text;
using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;

namespace StreamLstm.Ingest.Consumer;

// The native consume path (Kafka:ConsumePath=native): the same round as PollRound, but messages are read with
// rd_kafka_consumer_poll on the Confluent consumer's own handle and their bytes copied into the chunk's pooled buffer.
// Rebalance, error and commit callbacks are served from inside that poll just as from Consume; offsets are stored and
// committed through the Confluent consumer exactly as on the client path (neither path keeps per-message state in it).
public sealed partial class KafkaIngestConsumer
{
    // Topic name (UTF-8) → partition states by partition number; rebuilt after every assignment change.
    private Route[]? _routes;

    // An exception a rebalance handler threw: Consume rethrows it on the client path, the native round does the same.
    private ExceptionDispatchInfo? _handlerFault;

    private void NativePollRound(IConsumer<byte[]?, byte[]?> consumer, NativeConsumerPoll native)
    {
        var timeout = (int)RoundTimeout().TotalMilliseconds;
        var taken = 0;
        var message = native.Poll(timeout);
        ThrowHandlerFault(message);
        var now = Stopwatch.GetTimestamp();
        while (!message.IsNull)
        {
            var err = message.Error;
            if (err != NativeConsumerPoll.ErrNoError && err != NativeConsumerPoll.ErrPartitionEof)
            {
                // As Consume's ConsumeException on the client path: reported, and the round ends here.
                LogConsumeError(_logger, NativeConsumerPoll.ErrorText(err));
                NativeConsumerPoll.Destroy(message);
                break;
            }

            if (err == NativeConsumerPoll.ErrNoError && Find(message.Topic, message.Partition) is { } ps)
            {
                var lane = ps.Lane;
                var chunk = _filling[lane] ??= _pool.Rent();
                chunk.AddPacked(ps, message.Key, message.HasKey, message.Value, message.HasValue, message.Offset, now);
                if (chunk.IsFull)
                {
                    _filling[lane] = null;
                    Dispatch(consumer, lane, chunk);
                }
            }

            NativeConsumerPoll.Destroy(message);
            if (++taken >= _options.MaxPollMessages) break;
            message = native.Poll(0);
            ThrowHandlerFault(message);
        }

        EndRound(consumer, taken);
    }

    /// <summary>Runs a rebalance handler, keeping what it throws for the native round to rethrow after the poll.</summary>
    private T Guard<T>(Func<T> handler)
    {
        try
        {
            return handler();
        }
        catch (Exception ex)
        {
            _handlerFault = ExceptionDispatchInfo.Capture(ex);
            throw;
        }
        finally
        {
            // The assignment changed: the native round's topic/partition lookup is rebuilt on its next message.
            _routes = null;
        }
    }

    private void Guard(Action handler) => Guard(() =>
    {
        handler();
        return true;
    });

    private void ThrowHandlerFault(NativeMessage message)
    {
        if (_handlerFault is not { } fault) return;
        _handlerFault = null;
        NativeConsumerPoll.Destroy(message);
        fault.Throw();
    }

    /// <summary>The assigned partition a native message belongs to (null when not ours, e.g. just revoked).</summary>
    private PartitionState? Find(ReadOnlySpan<byte> topic, int partition)
    {
        var routes = _routes ??= BuildRoutes();
        foreach (var route in routes)
        {
            if (!topic.SequenceEqual(route.Name)) continue;
            return (uint)partition < (uint)route.Partitions.Length ? route.Partitions[partition] : null;
        }

        return null;
    }

    private Route[] BuildRoutes() =>
    [
        .. _partitions.Values.GroupBy(p => p.Topic).Select(g =>
        {
            var partitions = new PartitionState?[g.Max(p => p.Partition) + 1];
            foreach (var ps in g) partitions[ps.Partition] = ps;
            return new Route(Encoding.UTF8.GetBytes(g.Key), partitions);
        }),
    ];

    private sealed record Route(byte[] Name, PartitionState?[] Partitions);
}
