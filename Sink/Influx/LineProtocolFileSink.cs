using Microsoft.Extensions.Logging;
using StreamLstm.Sink.LineProtocol;

namespace StreamLstm.Sink.Influx;

/// <summary>
/// The point sink used when no InfluxDB URL is configured: appends line protocol to a file (importable later with
/// <c>influx -import</c> or <c>curl --data-binary @file</c>). Thread-safe.
/// </summary>
public sealed partial class LineProtocolFileSink : IPointSink
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly FileStream _stream;
    private int _disposed;

    /// <summary>Opens (appending) the file.</summary>
    /// <param name="path">File path; its directory is created.</param>
    /// <param name="precision">Timestamp precision.</param>
    /// <param name="logger">Logger (says where the points go).</param>
    public LineProtocolFileSink(string path, WritePrecision precision, ILogger logger)
    {
        Path = System.IO.Path.GetFullPath(path);
        Precision = precision;
        Spool.PrivateFiles.EnsureDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _stream = Spool.PrivateFiles.Open(Path, FileMode.Append, FileAccess.Write, FileShare.Read, 1 << 16, useAsync: true);
        LogFileOutput(logger, Path, precision.ToV1Query());
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public WritePrecision Precision { get; }

    /// <inheritdoc />
    public SinkCounters Counters { get; } = new();

    /// <inheritdoc />
    public async ValueTask WriteAsync(LineProtocolBuffer lines, CancellationToken cancellationToken)
    {
        if (lines.LineCount == 0)
        {
            return;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(lines.WrittenMemory, cancellationToken).ConfigureAwait(false);
            Counters.Accepted(lines.LineCount);
            Counters.Delivered(lines.LineCount);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No InfluxDB URL configured (--influx-url / Sink:Influx:Url): writing line protocol (precision={Precision}) to {Path} instead.")]
    private static partial void LogFileOutput(ILogger logger, string path, string precision);
}
