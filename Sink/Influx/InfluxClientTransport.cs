using System.Text;
using InfluxDB.Client;
using InfluxDB.Client.Core.Exceptions;
using ClientPrecision = InfluxDB.Client.Api.Domain.WritePrecision;

namespace StreamLstm.Sink.Influx;

/// <summary>
/// The InfluxDB 2.x/3.x write API through the official InfluxDB.Client: our writer's batches (already encoded, already
/// cut to size) are handed over as one line-protocol record each, so the client's own batching stays out of the way and
/// our spool, bisection and retries keep working. Thread-safe.
/// </summary>
internal sealed class InfluxClientTransport : IInfluxTransport
{
    private readonly InfluxDBClient _client;
    private readonly WriteApiAsync _write;
    private readonly ClientPrecision _precision;
    private readonly string _org;
    private readonly string _bucket;

    /// <summary>Creates the client.</summary>
    /// <param name="http">HTTP client the InfluxDB client sends through (not disposed here).</param>
    /// <param name="options">Validated v2 options.</param>
    /// <param name="endpoint">Endpoint (for the credential-free base URL).</param>
    public InfluxClientTransport(HttpClient http, InfluxOptions options, InfluxEndpoint endpoint)
    {
        _org = options.Org!;
        _bucket = options.Bucket!;
        _precision = ToClient(options.Precision);
        var clientOptions = new InfluxDBClientOptions(endpoint.BaseUri.ToString())
        {
            Token = options.Token!,
            Org = _org,
            Bucket = _bucket,
            HttpClient = http,

            // Our resilience pipeline times each attempt; the client's own timeout only backs it up.
            Timeout = options.RequestTimeout + TimeSpan.FromSeconds(5),
        };
        _client = new InfluxDBClient(clientOptions);
        if (options.Gzip)
        {
            _client.EnableGzip();
        }

        _write = _client.GetWriteApiAsync();
    }

    /// <inheritdoc />
    public string Name => "v2 InfluxDB.Client";

    /// <inheritdoc />
    public async ValueTask<WriteAttempt> WriteAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        // One record = the whole batch; the client joins records with '\n', so the body reaches the server unchanged.
        var record = Encoding.UTF8.GetString(body.Span);
        try
        {
            await _write.WriteRecordAsync(record, _precision, _bucket, _org, cancellationToken).ConfigureAwait(false);
            return new WriteAttempt(204, string.Empty);
        }
        catch (HttpException e) when (!cancellationToken.IsCancellationRequested)
        {
            var message = e.Status == 0 && e.InnerException is { } inner ? inner.Message : e.Message;
            return new WriteAttempt(e.Status, message ?? string.Empty, e.RetryAfter is { } s ? TimeSpan.FromSeconds(s) : null);
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return new WriteAttempt(0, e.Message);
        }
    }

    /// <inheritdoc />
    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _client.PingAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpException or HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _client.Dispose();

    internal static ClientPrecision ToClient(LineProtocol.WritePrecision precision) => precision switch
    {
        LineProtocol.WritePrecision.Nanoseconds => ClientPrecision.Ns,
        LineProtocol.WritePrecision.Microseconds => ClientPrecision.Us,
        LineProtocol.WritePrecision.Milliseconds => ClientPrecision.Ms,
        _ => ClientPrecision.S,
    };
}
