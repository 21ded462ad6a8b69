using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace StreamLstm.Sink.Tests.Support;

/// <summary>A request the <see cref="RecordingServer"/> received (body gunzipped).</summary>
internal sealed record Recorded(string Method, string Path, string PathAndQuery, string? Authorization, string Body);

/// <summary>What the <see cref="RecordingServer"/> answers.</summary>
internal sealed record Answer(int Status, string? Json = null, int? RetryAfterSeconds = null);

/// <summary>
/// A loopback HTTP server (HttpListener) that records every request and answers through a replaceable handler
/// (default 204), standing in for InfluxDB where the test needs to control or count answers.
/// </summary>
internal sealed class RecordingServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serve;
    private volatile Func<Recorded, Answer> _handler = _ => new Answer(204);

    public RecordingServer()
    {
        Port = StartOnFreePort(_listener);
        _serve = Task.Run(ServeAsync);
    }

    /// <summary>Starts <paramref name="listener"/> on a free loopback port and returns the port.</summary>
    public static int StartOnFreePort(HttpListener listener)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        return port;
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    public ConcurrentQueue<Recorded> Requests { get; } = new();

    /// <summary>Write requests only (<c>/write</c>, <c>/api/v2/write</c>).</summary>
    public IReadOnlyList<Recorded> Writes => [.. Requests.Where(r => r.Path.EndsWith("/write", StringComparison.Ordinal))];

    public Func<Recorded, Answer> Handler
    {
        set => _handler = value;
    }

    /// <summary>A port nothing listens on (connection refused).</summary>
    public static int ClosedPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _serve.Wait(TimeSpan.FromSeconds(5));
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                var req = ctx.Request;
                Stream body = req.InputStream;
                if (req.Headers["Content-Encoding"] == "gzip")
                {
                    body = new GZipStream(body, CompressionMode.Decompress);
                }

                var text = await new StreamReader(body, Encoding.UTF8).ReadToEndAsync();
                var recorded = new Recorded(req.HttpMethod, req.Url!.AbsolutePath, req.Url.PathAndQuery, req.Headers["Authorization"], text);
                Requests.Enqueue(recorded);
                var answer = _handler(recorded);
                ctx.Response.StatusCode = answer.Status;
                if (answer.RetryAfterSeconds is { } ra)
                {
                    ctx.Response.Headers["Retry-After"] = ra.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                if (answer.Json is { } json)
                {
                    var bytes = Encoding.UTF8.GetBytes(json);
                    ctx.Response.ContentType = "application/json";
                    ctx.Response.ContentLength64 = bytes.Length;
                    await ctx.Response.OutputStream.WriteAsync(bytes);
                }

                ctx.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The client went away (timeouts in tests): keep serving.
            }
        }
    }
}
