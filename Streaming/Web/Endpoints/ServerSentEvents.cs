using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;

namespace StreamLstm.Streaming.Web.Endpoints;

/// <summary>One server-sent event: its type and JSON data.</summary>
/// <param name="Event">Event type (the browser's <c>addEventListener</c> name).</param>
/// <param name="Json">Data, one line of JSON.</param>
public readonly record struct SseMessage(string Event, string Json);

/// <summary>
/// Streams an observable to one browser as <c>text/event-stream</c>. Each client gets a small bounded queue that drops
/// its oldest message when the browser reads too slowly, so a stalled page never holds up the pipeline or other pages.
/// </summary>
public static class ServerSentEvents
{
    /// <summary>Messages queued per client before the oldest is dropped.</summary>
    public const int QueueCapacity = 256;

    /// <summary>Writes <paramref name="messages"/> until the client goes away or <paramref name="stopping"/> fires.</summary>
    /// <param name="context">The request.</param>
    /// <param name="messages">What to send.</param>
    /// <param name="stopping">Server shutdown.</param>
    /// <returns>A task that ends with the stream.</returns>
    public static async Task StreamAsync(HttpContext context, IObservable<SseMessage> messages, CancellationToken stopping)
    {
        var response = context.Response;
        response.Headers.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);

        var queue = Channel.CreateBounded<SseMessage>(new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        using var subscription = messages.Subscribe(m => queue.Writer.TryWrite(m), e => queue.Writer.TryComplete(e), () => queue.Writer.TryComplete());
        using var done = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var buffer = new StringBuilder();
        try
        {
            await foreach (var m in queue.Reader.ReadAllAsync(done.Token).ConfigureAwait(false))
            {
                buffer.Clear();
                buffer.Append("event: ").Append(m.Event).Append('\n').Append("data: ").Append(m.Json).Append("\n\n");
                // Send what else is already queued in the same write.
                while (buffer.Length < 64 * 1024 && queue.Reader.TryRead(out var more))
                {
                    buffer.Append("event: ").Append(more.Event).Append('\n').Append("data: ").Append(more.Json).Append("\n\n");
                }

                await response.WriteAsync(buffer.ToString(), done.Token).ConfigureAwait(false);
                await response.Body.FlushAsync(done.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (done.IsCancellationRequested)
        {
        }
    }
}
