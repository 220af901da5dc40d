using System.Collections.Concurrent;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;

namespace Switchboard.Node.KubeletApi.Spdy;

/// <summary>
/// The server end of a SPDY/3 session over any byte stream (an upgraded HTTP connection, or a WebSocket carrying
/// "SPDY/3.1+portforward.k8s.io"), as far as Kubernetes' streaming protocols use it: the client opens streams
/// (SYN_STREAM, odd ids), the server accepts each with an empty SYN_REPLY, data flows in DATA frames with FIN as
/// half-close, RST_STREAM aborts a stream, PINGs are echoed, GOAWAY ends the session. Flow control (SETTINGS,
/// WINDOW_UPDATE) is ignored, as Go's spdystream on the other end does.
/// </summary>
internal sealed partial class SpdySession : IAsyncDisposable
{
    private readonly Stream _transport;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ZlibStream _compressor = ZlibStream.Compressor(SpdyDictionary.Bytes);
    private readonly ZlibStream _decompressor = ZlibStream.Decompressor(SpdyDictionary.Bytes);
    private readonly ConcurrentDictionary<int, SpdyStream> _streams = new();
    private int _lastStreamId;

    public SpdySession(Stream transport, ILogger logger)
    {
        _transport = transport;
        _logger = logger;
    }

    /// <summary>Reads frames until the peer goes away; <paramref name="onStream"/> runs for each new stream.</summary>
    public async Task RunAsync(Func<SpdyStream, Task> onStream, CancellationToken ct)
    {
        var handlers = new List<Task>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var frame = await SpdyFrame.ReadAsync(_transport, ct).ConfigureAwait(false);
                if (frame is null)
                {
                    break;
                }
                if (!frame.IsControl)
                {
                    if (_streams.TryGetValue(frame.StreamId, out var target))
                    {
                        await target.ReceiveAsync(frame.Payload, frame.Fin).ConfigureAwait(false);
                    }
                    continue;
                }
                switch (frame.Type)
                {
                    case SpdyControlType.SynStream:
                        var stream = await AcceptAsync(frame).ConfigureAwait(false);
                        if (stream is not null)
                        {
                            handlers.Add(RunHandlerAsync(onStream, stream));
                        }
                        break;
                    case SpdyControlType.RstStream:
                        if (_streams.TryRemove(frame.StreamId, out var reset))
                        {
                            reset.OnReset();
                        }
                        break;
                    case SpdyControlType.Ping:
                        await WriteAsync(SpdyFrame.Ping(frame.PingId), ct).ConfigureAwait(false);
                        break;
                    case SpdyControlType.GoAway:
                        return;
                    case SpdyControlType.Headers:
                        // Headers after the stream opened carry nothing port-forward needs; keep the zlib context in step.
                        _ = _decompressor.Decompress(frame.ReplyHeaderBlock.Span, SpdyHeaders.MaxBlock);
                        break;
                    default:
                        break;
                }
            }
        }
        catch (InvalidDataException e)
        {
            Log.ProtocolError(_logger, e.Message);
            try
            {
                await WriteAsync(SpdyFrame.GoAway(_lastStreamId, 1), ct).ConfigureAwait(false);
            }
            catch (IOException)
            {
            }
        }
        catch (IOException e)
        {
            Log.SessionEnded(_logger, e.Message);
        }
        finally
        {
            foreach (var s in _streams.Values)
            {
                s.OnReset();
            }
            await Task.WhenAll(handlers).ConfigureAwait(false);
        }
    }

    private async Task<SpdyStream?> AcceptAsync(SpdyFrame frame)
    {
        var headers = SpdyHeaders.Decode(_decompressor.Decompress(frame.SynStreamHeaderBlock.Span, SpdyHeaders.MaxBlock));
        var id = frame.StreamId;
        if (id == 0 || id % 2 == 0 || id <= _lastStreamId)
        {
            // A client's streams have odd, increasing ids (PROTOCOL_ERROR = 1).
            await WriteAsync(SpdyFrame.RstStream(id, 1), CancellationToken.None).ConfigureAwait(false);
            return null;
        }
        _lastStreamId = id;
        var stream = new SpdyStream(this, id, headers);
        _streams[id] = stream;
        await WriteAsync(SpdyFrame.SynReply(id, _compressor.Compress(SpdyHeaders.Encode([])), fin: false), CancellationToken.None).ConfigureAwait(false);
        if (frame.Fin)
        {
            await stream.ReceiveAsync(ReadOnlyMemory<byte>.Empty, fin: true).ConfigureAwait(false);
        }
        return stream;
    }

    private async Task RunHandlerAsync(Func<SpdyStream, Task> onStream, SpdyStream stream)
    {
        await Task.Yield();
        try
        {
            await onStream(stream).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            Log.StreamFailed(_logger, stream.Id, e.Message);
        }
    }

    internal async Task WriteAsync(byte[] frame, CancellationToken ct)
    {
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await _transport.WriteAsync(frame, ct).ConfigureAwait(false);
            await _transport.FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    internal void Forget(int id) => _streams.TryRemove(id, out _);

    public ValueTask DisposeAsync()
    {
        _compressor.Dispose();
        _decompressor.Dispose();
        _writeLock.Dispose();
        return ValueTask.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "SPDY protocol error: {Reason}")]
        public static partial void ProtocolError(ILogger logger, string reason);

        [LoggerMessage(Level = LogLevel.Debug, Message = "SPDY session ended: {Reason}")]
        public static partial void SessionEnded(ILogger logger, string reason);

        [LoggerMessage(Level = LogLevel.Debug, Message = "SPDY stream {Id} ended: {Reason}")]
        public static partial void StreamFailed(ILogger logger, int id, string reason);
    }
}

/// <summary>One client-opened stream: its headers, what the client sends (until FIN), and a way to send back.</summary>
internal sealed class SpdyStream
{
    private readonly SpdySession _session;
    // No SPDY flow control: a client that outruns its target is held back by pausing the whole session at 4 MiB.
    private readonly Pipe _inbound = new(new PipeOptions(pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20));
    private int _sentFin;

    public SpdyStream(SpdySession session, int id, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        _session = session;
        Id = id;
        Headers = headers;
    }

    public int Id { get; }

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    /// <summary>What the client sends on this stream; completes at its FIN, or with an error at RST_STREAM.</summary>
    public PipeReader Input => _inbound.Reader;

    public bool WasReset { get; private set; }

    public string? Header(string name) => Headers.FirstOrDefault(h => h.Key == name).Value;

    internal async ValueTask ReceiveAsync(ReadOnlyMemory<byte> data, bool fin)
    {
        if (!data.IsEmpty)
        {
            await _inbound.Writer.WriteAsync(data).ConfigureAwait(false);
        }
        if (fin)
        {
            await _inbound.Writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    internal void OnReset()
    {
        WasReset = true;
        _inbound.Writer.Complete(new IOException($"stream {Id} reset by the client"));
        Interlocked.Exchange(ref _sentFin, 1);
    }

    public Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct) =>
        Volatile.Read(ref _sentFin) == 1 ? Task.CompletedTask : _session.WriteAsync(SpdyFrame.Data(Id, data.Span, fin: false), ct);

    /// <summary>Half-closes our side (DATA with FIN); the stream is forgotten once both sides are done.</summary>
    public async Task CloseAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _sentFin, 1) == 0)
        {
            await _session.WriteAsync(SpdyFrame.Data(Id, ReadOnlySpan<byte>.Empty, fin: true), ct).ConfigureAwait(false);
        }
    }

    /// <summary>Aborts the stream (RST_STREAM CANCEL).</summary>
    public async Task ResetAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _sentFin, 1) == 0)
        {
            await _session.WriteAsync(SpdyFrame.RstStream(Id, 5), ct).ConfigureAwait(false);
        }
        _session.Forget(Id);
    }
}
