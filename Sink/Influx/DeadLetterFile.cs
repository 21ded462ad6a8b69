using System.Text;
using System.Text.Json;

namespace StreamLstm.Sink.Influx;

/// <summary>
/// Points InfluxDB rejected (and rows that cannot be written as line protocol), one JSON object per line in
/// <c>&lt;dir&gt;/rejected.jsonl</c>: <c>{"time","status","reason","line"}</c>. Thread-safe; each entry is flushed.
/// </summary>
public sealed class DeadLetterFile : IDisposable
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private FileStream? _stream;
    private long _count;

    /// <summary>Creates the writer (the file is opened on first use).</summary>
    /// <param name="directory">Dead-letter directory.</param>
    /// <param name="time">Clock for entry times.</param>
    public DeadLetterFile(string directory, TimeProvider time)
    {
        Directory = directory;
        Path = System.IO.Path.Combine(directory, "rejected.jsonl");
        _time = time;
    }

    /// <summary>Dead-letter directory.</summary>
    public string Directory { get; }

    /// <summary>The JSON-lines file.</summary>
    public string Path { get; }

    /// <summary>Entries written by this instance.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>Appends one entry.</summary>
    /// <param name="status">HTTP status (0 when the row never reached InfluxDB).</param>
    /// <param name="reason">The server's message or the local error.</param>
    /// <param name="line">The line-protocol text or a description of the row.</param>
    public void Write(int status, string reason, ReadOnlySpan<byte> line)
    {
        var text = Encoding.UTF8.GetString(line).TrimEnd('\n');
        Write(status, reason, text);
    }

    /// <summary>Appends one entry.</summary>
    /// <param name="status">HTTP status (0 when the row never reached InfluxDB).</param>
    /// <param name="reason">The server's message or the local error.</param>
    /// <param name="line">The line-protocol text or a description of the row.</param>
    public void Write(int status, string reason, string line)
    {
        lock (_gate)
        {
            if (_stream is null)
            {
                // Owner-only (0700/0600): dead letters hold keys such as patient ids.
                Spool.PrivateFiles.EnsureDirectory(Directory);
                _stream = Spool.PrivateFiles.Open(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
            }

            using (var json = new Utf8JsonWriter(_stream))
            {
                json.WriteStartObject();
                json.WriteString("time", _time.GetUtcNow());
                json.WriteNumber("status", status);
                json.WriteString("reason", reason);
                json.WriteString("line", line);
                json.WriteEndObject();
            }

            _stream.WriteByte((byte)'\n');
            _stream.Flush(true);
            _count++;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            _stream?.Dispose();
            _stream = null;
        }
    }
}
