namespace StreamLstm.Sink.Kafka;

/// <summary>
/// Reuses byte arrays by exact length: the Kafka client takes a message value as a whole <c>byte[]</c> and keeps a
/// reference to it until the delivery report, so a value is rented when serialized and returned when its delivery is
/// final. Bounded per length (beyond it arrays are left to the GC); thread-safe.
/// </summary>
internal sealed class ExactLengthPool(int maxLength, int perLength)
{
    private readonly Stack<byte[]>?[] _buckets = new Stack<byte[]>?[maxLength + 1];

    /// <summary>An array of exactly <paramref name="length"/> bytes (pooled up to the pool's largest length).</summary>
    public byte[] Rent(int length)
    {
        if (length > maxLength) return new byte[length];
        var bucket = Volatile.Read(ref _buckets[length]);
        if (bucket is not null)
        {
            lock (bucket)
            {
                if (bucket.TryPop(out var a)) return a;
            }
        }

        return new byte[length];
    }

    /// <summary>Gives <paramref name="array"/> back; the caller must not use it afterwards.</summary>
    public void Return(byte[] array)
    {
        if (array.Length > maxLength) return;
        var bucket = Volatile.Read(ref _buckets[array.Length]);
        if (bucket is null)
        {
            // Races are harmless: the loser's stack is dropped before anything is pushed to it.
            Interlocked.CompareExchange(ref _buckets[array.Length], new Stack<byte[]>(64), null);
            bucket = _buckets[array.Length]!;
        }

        lock (bucket)
        {
            if (bucket.Count < perLength) bucket.Push(array);
        }
    }
}
