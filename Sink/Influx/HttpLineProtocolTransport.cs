using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text.Json;

namespace StreamLstm.Sink.Influx;

/// <summary>
/// Plain HTTP POST of line protocol to <c>/write</c> (InfluxDB 1.x and the 2.x/3.x compatibility API) or our own
/// <c>/api/v2/write</c> request (kept to compare with the InfluxDB.Client transport). Thread-safe.
/// </summary>
internal sealed class HttpLineProtocolTransport : IInfluxTransport
{
    private static readonly MediaTypeHeaderValue TextPlain = MediaTypeHeaderValue.Parse("text/plain; charset=utf-8");
    private readonly HttpClient _http;
    private readonly InfluxEndpoint _endpoint;
    private readonly bool _gzip;

    /// <summary>Creates the transport.</summary>
    /// <param name="http">HTTP client (its timeout should be infinite: the caller's pipeline times attempts).</param>
    /// <param name="endpoint">Write URL and authorization.</param>
    /// <param name="gzip">Gzip bodies.</param>
    public HttpLineProtocolTransport(HttpClient http, InfluxEndpoint endpoint, bool gzip)
    {
        _http = http;
        _endpoint = endpoint;
        _gzip = gzip;
    }

    /// <inheritdoc />
    public string Name => _endpoint.WriteUri.AbsolutePath == "/write" ? "v1 HTTP /write" : "v2 HTTP /api/v2/write (own)";

    /// <inheritdoc />
    public async ValueTask<WriteAttempt> WriteAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (_gzip)
        {
            // One buffer per request, so several requests may be in flight.
            var compressed = new MemoryStream(body.Length / 3);
            using (var z = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                z.Write(body.Span);
            }

            body = compressed.GetBuffer().AsMemory(0, (int)compressed.Length);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint.WriteUri);
        request.Headers.Authorization = _endpoint.Authorization;
        var content = new ReadOnlyMemoryContent(body);
        content.Headers.ContentType = TextPlain;
        if (_gzip)
        {
            content.Headers.ContentEncoding.Add("gzip");
        }

        request.Content = content;
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return new WriteAttempt(status, string.Empty);
            }

            var retryAfter = response.Headers.RetryAfter is { } ra ? ra.Delta ?? (ra.Date is { } date ? date - DateTimeOffset.UtcNow : null) : null;
            return new WriteAttempt(status, await ReadErrorAsync(response, cancellationToken).ConfigureAwait(false), retryAfter);
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return new WriteAttempt(0, e.Message);
        }
    }

    /// <inheritdoc />
    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_endpoint.BaseUri, "ping"));
        request.Headers.Authorization = _endpoint.Authorization;
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // The HttpClient belongs to the caller (IHttpClientFactory).
    }

    internal static async ValueTask<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                if (doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String)
                {
                    return e.GetString()!;
                }

                if (doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                {
                    return m.GetString()!;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: return the raw text below.
        }

        return text.Length > 2000 ? text[..2000] : text;
    }
}
