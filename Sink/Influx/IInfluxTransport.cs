namespace StreamLstm.Sink.Influx;

/// <summary>The server's answer to one write attempt.</summary>
/// <param name="Status">HTTP status; 0 when no response came (refused, reset, DNS, TLS).</param>
/// <param name="Message">The server's error text or the local error; empty on success.</param>
/// <param name="RetryAfter">The server's <c>Retry-After</c>, if any.</param>
public readonly record struct WriteAttempt(int Status, string Message, TimeSpan? RetryAfter = null)
{
    /// <summary>Whether the server stored the body (2xx).</summary>
    public bool Succeeded => Status is >= 200 and < 300;
}

/// <summary>
/// Moves an already-encoded line-protocol body to InfluxDB, one attempt per call. Retries, breaker, timeouts, batching
/// and the spool are the caller's (<see cref="InfluxSender"/>, <see cref="InfluxWriter"/>).
/// </summary>
internal interface IInfluxTransport : IDisposable
{
    /// <summary>Log-safe name, e.g. <c>v1 HTTP /write</c>.</summary>
    string Name { get; }

    /// <summary>Sends one body. HTTP and network failures are answers (<see cref="WriteAttempt.Status"/> 0 or ≥ 300), not exceptions.</summary>
    /// <param name="body">Complete lines, each ending with <c>'\n'</c>.</param>
    /// <param name="cancellationToken">Cancels the attempt (throws <see cref="OperationCanceledException"/>).</param>
    /// <returns>The answer.</returns>
    ValueTask<WriteAttempt> WriteAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken);

    /// <summary>Whether the server answers its ping endpoint.</summary>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>True when it answered 2xx.</returns>
    Task<bool> PingAsync(CancellationToken cancellationToken);
}
