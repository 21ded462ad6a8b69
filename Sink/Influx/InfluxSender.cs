using System.Net;
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

    /// <summary>4xx about the data (400, 413, 422): retrying the same bytes would fail again.</summary>
    Rejected = 1,

    /// <summary>Unreachable, timed out, 5xx/429 after retries, or breaker open: keep the data and try again soon.</summary>
    Unavailable = 2,

    /// <summary>401, 403, 404: wrong credentials or a missing database/bucket. Keep the data, report once, try again rarely.</summary>
    ConfigurationError = 3,
}

/// <summary>Outcome of one write.</summary>
/// <param name="Status">Class.</param>
/// <param name="HttpStatus">HTTP status, 0 when there was no response.</param>
/// <param name="Message">The server's error text or the local exception message.</param>
public readonly record struct SendOutcome(SendStatus Status, int HttpStatus, string Message);

/// <summary>
/// Sends line-protocol bodies through an <see cref="IInfluxTransport"/> inside a Polly v8 pipeline:
/// retry (exponential backoff with jitter, honouring <c>Retry-After</c> on 429/503) → circuit breaker → per-attempt timeout,
/// and classifies the answer.
/// </summary>
internal sealed partial class InfluxSender : IDisposable
{
    private readonly IInfluxTransport _transport;
    private readonly string _description;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline<WriteAttempt> _pipeline;

    /// <summary>Creates the sender.</summary>
    /// <param name="transport">Transport (owned: disposed with the sender).</param>
    /// <param name="description">Log-safe endpoint description.</param>
    /// <param name="options">Validated options.</param>
    /// <param name="time">Clock for delays, timeouts and the breaker.</param>
    /// <param name="logger">Logger.</param>
    public InfluxSender(IInfluxTransport transport, string description, InfluxOptions options, TimeProvider time, ILogger logger)
    {
        _transport = transport;
        _description = description;
        _logger = logger;
        _pipeline = BuildPipeline(options, time, logger);
    }

    /// <summary>The transport's name.</summary>
    public string TransportName => _transport.Name;

    /// <summary>Sends one body. Thread-safe.</summary>
    /// <param name="body">Line protocol.</param>
    /// <param name="cancellationToken">Stops waiting (throws).</param>
    /// <returns>The outcome; never throws for HTTP or network failures.</returns>
    public async ValueTask<SendOutcome> SendAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        WriteAttempt answer;
        try
        {
            answer = await _pipeline.ExecuteAsync(
                static (state, ct) => state.Transport.WriteAsync(state.Body, ct),
                (Transport: _transport, Body: body),
                cancellationToken).ConfigureAwait(false);
        }
        catch (BrokenCircuitException e)
        {
            return new SendOutcome(SendStatus.Unavailable, 0, "circuit open: " + e.Message);
        }
        catch (Exception e) when (e is TimeoutRejectedException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            LogUnavailable(_logger, _description, e.Message);
            return new SendOutcome(SendStatus.Unavailable, 0, e.Message);
        }

        if (answer.Succeeded)
        {
            return new SendOutcome(SendStatus.Delivered, answer.Status, string.Empty);
        }

        switch ((HttpStatusCode)answer.Status)
        {
            case HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.UnprocessableEntity:
                return new SendOutcome(SendStatus.Rejected, answer.Status, answer.Message);
            case HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound:
                // The writer reports configuration errors once, when they start; not per request.
                return new SendOutcome(SendStatus.ConfigurationError, answer.Status, answer.Message);
            default:
                if (answer.Status == 0)
                {
                    LogUnavailable(_logger, _description, answer.Message);
                }
                else
                {
                    LogHttpFailure(_logger, answer.Status, answer.Message, _description);
                }

                return new SendOutcome(SendStatus.Unavailable, answer.Status, answer.Message);
        }
    }

    /// <summary>Pings the server (no retries).</summary>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>Whether it answered.</returns>
    public Task<bool> PingAsync(CancellationToken cancellationToken) => _transport.PingAsync(cancellationToken);

    /// <inheritdoc />
    public void Dispose() => _transport.Dispose();

    internal static bool IsTransient(int status) => status is 0 or (int)HttpStatusCode.RequestTimeout or (int)HttpStatusCode.TooManyRequests
        or (int)HttpStatusCode.InternalServerError or (int)HttpStatusCode.BadGateway or (int)HttpStatusCode.ServiceUnavailable or (int)HttpStatusCode.GatewayTimeout;

    private static ResiliencePipeline<WriteAttempt> BuildPipeline(InfluxOptions o, TimeProvider time, ILogger logger)
    {
        var handle = new PredicateBuilder<WriteAttempt>()
            .Handle<TimeoutRejectedException>()
            .HandleResult(r => IsTransient(r.Status));
        var builder = new ResiliencePipelineBuilder<WriteAttempt> { TimeProvider = time };
        if (o.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<WriteAttempt>
            {
                ShouldHandle = handle,
                MaxRetryAttempts = o.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = o.RetryBaseDelay,
                MaxDelay = o.MaxRetryAfter,
                DelayGenerator = args =>
                {
                    if (args.Outcome.Result is { Status: 429 or 503, RetryAfter: { } w } && w > TimeSpan.Zero)
                    {
                        return ValueTask.FromResult<TimeSpan?>(w < o.MaxRetryAfter ? w : o.MaxRetryAfter);
                    }

                    return ValueTask.FromResult<TimeSpan?>(null);
                },
                OnRetry = args =>
                {
                    var why = args.Outcome.Exception?.Message ?? (args.Outcome.Result.Status == 0 ? args.Outcome.Result.Message : "HTTP " + args.Outcome.Result.Status);
                    LogRetry(logger, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, why);
                    return ValueTask.CompletedTask;
                },
            });
        }

        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<WriteAttempt>
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
}
