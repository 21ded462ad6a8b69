using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace StreamLstm.Sink.Influx;

/// <summary>Result class of one write.</summary>
public enum SendStatus
{
    /// <summary>2xx: InfluxDB stored the batch.</summary>
    Delivered = 0,

    /// <summary>4xx about the data (400, 413): retrying the same bytes would fail again.</summary>
    Rejected = 1,

    /// <summary>Unreachable, timed out, 5xx/429 after retries, breaker open, or auth/database errors: keep the data and try later.</summary>
    Unavailable = 2,
}

/// <summary>Outcome of one write.</summary>
/// <param name="Status">Class.</param>
/// <param name="HttpStatus">HTTP status, 0 when there was no response.</param>
/// <param name="Message">The server's error text or the local exception message.</param>
public readonly record struct SendOutcome(SendStatus Status, int HttpStatus, string Message);

/// <summary>
/// POSTs line-protocol bodies to an <see cref="InfluxEndpoint"/> through a Polly v8 pipeline:
/// retry (exponential backoff with jitter, honouring <c>Retry-After</c> on 429/503) → circuit breaker → per-attempt timeout.
/// </summary>
public sealed partial class InfluxHttpSender
{
    private static readonly MediaTypeHeaderValue TextPlain = MediaTypeHeaderValue.Parse("text/plain; charset=utf-8");
    private readonly HttpClient _http;
    private readonly InfluxEndpoint _endpoint;
    private readonly InfluxOptions _options;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    /// <summary>Creates the sender.</summary>
    /// <param name="http">HTTP client (its own timeout should be longer than <see cref="InfluxOptions.RequestTimeout"/>).</param>
    /// <param name="options">Validated options.</param>
    /// <param name="time">Clock for delays, timeouts and the breaker.</param>
    /// <param name="logger">Logger.</param>
    public InfluxHttpSender(HttpClient http, InfluxOptions options, TimeProvider time, ILogger logger)
    {
        _http = http;
        _options = options;
        _endpoint = InfluxEndpoint.Create(options);
        _logger = logger;
        _pipeline = BuildPipeline(options, time, logger);
    }

    /// <summary>The endpoint (log-safe <see cref="InfluxEndpoint.ToString"/>).</summary>
    public InfluxEndpoint Endpoint => _endpoint;

    /// <summary>Sends one body. Thread-safe.</summary>
    /// <param name="body">Line protocol.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The outcome; never throws for HTTP or network failures.</returns>
    public async ValueTask<SendOutcome> SendAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (_options.Gzip)
        {
            // One buffer per request, so several requests may be in flight.
            var compressed = new MemoryStream(body.Length / 3);
            using (var z = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                z.Write(body.Span);
            }

            body = compressed.GetBuffer().AsMemory(0, (int)compressed.Length);
        }

        HttpResponseMessage response;
        try
        {
            response = await _pipeline.ExecuteAsync(
                static async (state, ct) =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, state.Self._endpoint.WriteUri);
                    request.Headers.Authorization = state.Self._endpoint.Authorization;
                    var content = new ReadOnlyMemoryContent(state.Body);
                    content.Headers.ContentType = TextPlain;
                    if (state.Self._options.Gzip)
                    {
                        content.Headers.ContentEncoding.Add("gzip");
                    }

                    request.Content = content;
                    return await state.Self._http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
                },
                (Self: this, Body: body),
                cancellationToken).ConfigureAwait(false);
        }
        catch (BrokenCircuitException e)
        {
            return new SendOutcome(SendStatus.Unavailable, 0, "circuit open: " + e.Message);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or IOException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            LogUnavailable(_logger, _endpoint.Description, e.Message);
            return new SendOutcome(SendStatus.Unavailable, 0, e.Message);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return new SendOutcome(SendStatus.Delivered, status, string.Empty);
            }

            var message = await ReadErrorAsync(response, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.UnprocessableEntity)
            {
                return new SendOutcome(SendStatus.Rejected, status, message);
            }

            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound)
            {
                // Configuration problems: keep the data (spool) and say loudly what is wrong.
                LogConfigError(_logger, status, message, _endpoint.Description);
            }
            else
            {
                LogHttpFailure(_logger, status, message, _endpoint.Description);
            }

            return new SendOutcome(SendStatus.Unavailable, status, message);
        }
    }

    internal static bool IsTransient(HttpStatusCode code) => code is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests
        or HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    private static ResiliencePipeline<HttpResponseMessage> BuildPipeline(InfluxOptions o, TimeProvider time, ILogger logger)
    {
        var handle = new PredicateBuilder<HttpResponseMessage>()
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>()
            .Handle<IOException>()
            .HandleResult(r => IsTransient(r.StatusCode));
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time };
        if (o.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = handle,
                MaxRetryAttempts = o.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = o.RetryBaseDelay,
                MaxDelay = o.MaxRetryAfter,
                DelayGenerator = args =>
                {
                    if (args.Outcome.Result is { StatusCode: HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable } r
                        && r.Headers.RetryAfter is { } ra)
                    {
                        var wait = ra.Delta ?? (ra.Date is { } date ? date - time.GetUtcNow() : null);
                        if (wait is { } w && w > TimeSpan.Zero)
                        {
                            return ValueTask.FromResult<TimeSpan?>(w < o.MaxRetryAfter ? w : o.MaxRetryAfter);
                        }
                    }

                    return ValueTask.FromResult<TimeSpan?>(null);
                },
                OnRetry = args =>
                {
                    var why = args.Outcome.Exception?.Message ?? ("HTTP " + (int)args.Outcome.Result!.StatusCode);
                    args.Outcome.Result?.Dispose();
                    LogRetry(logger, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, why);
                    return ValueTask.CompletedTask;
                },
            });
        }

        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
        {
            ShouldHandle = handle,
            FailureRatio = o.BreakerFailureRatio,
            MinimumThroughput = o.BreakerMinimumThroughput,
            SamplingDuration = o.BreakerSamplingDuration,
            BreakDuration = o.BreakerBreakDuration,
            OnOpened = args =>
            {
                LogBreakerOpened(logger, args.BreakDuration.TotalSeconds);
                return ValueTask.CompletedTask;
            },
            OnClosed = _ =>
            {
                LogBreakerClosed(logger);
                return ValueTask.CompletedTask;
            },
        });
        builder.AddTimeout(o.RequestTimeout);
        return builder.Build();
    }

    private static async ValueTask<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken ct)
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB write retry {Attempt} in {DelayMs} ms: {Reason}")]
    private static partial void LogRetry(ILogger logger, int attempt, double delayMs, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB circuit breaker opened for {Seconds} s; batches go to the spool.")]
    private static partial void LogBreakerOpened(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "InfluxDB circuit breaker closed; writing directly again.")]
    private static partial void LogBreakerClosed(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB at {Endpoint} unavailable: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string endpoint, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB answered HTTP {Status}: {Message} ({Endpoint}); batch kept for retry.")]
    private static partial void LogHttpFailure(ILogger logger, int status, string message, string endpoint);

    [LoggerMessage(Level = LogLevel.Error, Message = "InfluxDB refused the write with HTTP {Status}: {Message}. Check the database/bucket exists and the credentials ({Endpoint}); batches are spooled meanwhile.")]
    private static partial void LogConfigError(ILogger logger, int status, string message, string endpoint);
}
