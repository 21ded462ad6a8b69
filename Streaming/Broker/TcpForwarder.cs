using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace StreamLstm.Streaming.Broker;

/// <summary>
/// Listens on a fixed endpoint and forwards every connection, byte for byte in both directions, to a target endpoint.
/// librdkafka's mock broker always listens on a kernel-chosen port; this is how <c>streamlstm broker --port P</c> serves
/// the real Kafka protocol on P (the broker also advertises P, so clients never see the hidden port).
/// </summary>
public sealed class TcpForwarder : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Task, byte> _pipes = new();
    private readonly Task _accepting;

    private TcpForwarder(TcpListener listener, IPEndPoint target)
    {
        _listener = listener;
        _target = target;
        _accepting = AcceptLoopAsync();
    }

    /// <summary>The endpoint clients connect to.</summary>
    public IPEndPoint LocalEndpoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Connections forwarded so far.</summary>
    public long Connections => Interlocked.Read(ref _connections);

    private long _connections;

    /// <summary>Binds <paramref name="listen"/> and starts forwarding to <paramref name="target"/>.</summary>
    /// <param name="listen">Where to listen (port 0 = any free port).</param>
    /// <param name="target">Where to forward.</param>
    /// <returns>The running forwarder.</returns>
    /// <exception cref="SocketException">The endpoint cannot be bound (e.g. the port is in use).</exception>
    public static TcpForwarder Start(IPEndPoint listen, IPEndPoint target)
    {
        var listener = new TcpListener(listen);
        listener.Start(backlog: 64);
        return new TcpForwarder(listener, target);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _accepting.ConfigureAwait(false);
        await Task.WhenAll(_pipes.Keys).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException && _stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                // A connection reset before it was accepted: nothing to forward.
                continue;
            }

            Interlocked.Increment(ref _connections);
            var pipe = PipeAsync(client);
            _pipes.TryAdd(pipe, 0);
            _ = pipe.ContinueWith(t => _pipes.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task PipeAsync(Socket client)
    {
        using var upstream = new Socket(_target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using (client)
        {
            client.NoDelay = true;
            try
            {
                await upstream.ConnectAsync(_target, _stop.Token).ConfigureAwait(false);
                await using var a = new NetworkStream(client, ownsSocket: false);
                await using var b = new NetworkStream(upstream, ownsSocket: false);
                var up = a.CopyToAsync(b, _stop.Token);
                var down = b.CopyToAsync(a, _stop.Token);
                // Either side closing ends the connection: shut both sockets so the other direction ends too.
                await Task.WhenAny(up, down).ConfigureAwait(false);
                Shutdown(client);
                Shutdown(upstream);
                await Task.WhenAll(up, down).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                // The peer went away or the forwarder is stopping: the client sees a closed connection, as from a broker.
            }
        }
    }

    private static void Shutdown(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }
}
