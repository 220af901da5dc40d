using System.Buffers;
using System.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace Switchboard.Node.KubeletApi;

/// <summary>
/// Drives one exec or attach over an accepted remote-command WebSocket: output streams to channels 1 and 2,
/// channel 0 to stdin, channel 4 resizes, v5's close signal ends stdin; when the process has exited and its output
/// is drained, the status goes on channel 3 and the socket closes normally.
/// </summary>
internal sealed partial class StreamSession : IDisposable
{
    private const int MaxMessage = 1 << 20;

    private readonly WebSocket _ws;
    private readonly string _protocol;
    private readonly StreamRequest _request;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    public StreamSession(WebSocket ws, string protocol, StreamRequest request, ILogger logger)
    {
        _ws = ws;
        _protocol = protocol;
        _request = request;
        _logger = logger;
    }

    /// <summary>Runs the session; <paramref name="start"/> makes the process once the socket is open.</summary>
    public async Task RunAsync(Func<IStreamedProcess> start, IReadOnlyList<string> command, CancellationToken ct)
    {
        try
        {
            // Upstream writes an empty message on the lowest writable channel to tell the client the streams are up.
            var first = _request.Stdout ? StreamProtocol.Stdout : _request.Stderr ? StreamProtocol.Stderr : StreamProtocol.Error;
            await SendAsync(first, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false);

            IStreamedProcess process;
            try
            {
                process = start();
            }
            catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception or InvalidOperationException or UnauthorizedAccessException)
            {
                await FinishAsync(StreamProtocol.InternalErrorStatus("error executing command in container: " + e.Message), ct).ConfigureAwait(false);
                return;
            }
            await using (process.ConfigureAwait(false))
            {
                using var clientGone = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var receive = ReceiveAsync(process, clientGone);
                var stdout = PumpAsync(process.Stdout, _request.Stdout ? StreamProtocol.Stdout : null, clientGone.Token);
                var stderr = PumpAsync(process.Stderr, _request.Stderr ? StreamProtocol.Stderr : null, clientGone.Token);
                var done = Task.WhenAll(process.Exited, stdout, stderr);
                await Task.WhenAny(done, receive).ConfigureAwait(false);
                if (!done.IsCompleted)
                {
                    // The client went away first: the process keeps whatever it does with closed streams, as upstream.
                    await clientGone.CancelAsync().ConfigureAwait(false);
                    return;
                }
                var code = await process.Exited.ConfigureAwait(false);
                await FinishAsync(code == 0 ? StreamProtocol.SuccessStatus() : StreamProtocol.ExitStatus(code, command), ct).ConfigureAwait(false);
                try
                {
                    // The client answers our close; cancelling a receive would abort the socket instead.
                    await receive.WaitAsync(TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    _ws.Abort();
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException)
        {
            Log.SessionEnded(_logger, e.Message);
        }
    }

    public void Dispose() => _sendLock.Dispose();

    private async Task FinishAsync(byte[] status, CancellationToken ct)
    {
        await SendAsync(StreamProtocol.Error, status, ct).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
    }

    private async Task SendAsync(byte channel, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var frame = ArrayPool<byte>.Shared.Rent(data.Length + 1);
        try
        {
            frame[0] = channel;
            data.CopyTo(frame.AsMemory(1));
            await _sendLock.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                await _ws.SendAsync(frame.AsMemory(0, data.Length + 1), WebSocketMessageType.Binary, true, ct).ConfigureAwait(false);
            }
            finally
            {
                _sendLock.Release();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>Copies one output stream to its channel; output nobody asked for is drained and dropped.</summary>
    private async Task PumpAsync(Stream? source, byte? channel, CancellationToken ct)
    {
        if (source is null)
        {
            return;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(32 * 1024);
        try
        {
            while (true)
            {
                var n = await source.ReadAsync(buffer, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }
                if (channel is byte c)
                {
                    await SendAsync(c, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                }
            }
        }
        catch (IOException)
        {
            // The descriptor went away with the process.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads client messages until the client closes; cancels <paramref name="gone"/> when it does.</summary>
    private async Task ReceiveAsync(IStreamedProcess process, CancellationTokenSource gone)
    {
        var buffer = new byte[64 * 1024];
        var message = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (true)
            {
                var r = await _ws.ReceiveAsync(buffer.AsMemory(), gone.Token).ConfigureAwait(false);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                if (message.WrittenCount + r.Count > MaxMessage)
                {
                    Log.MessageTooLarge(_logger, MaxMessage);
                    return;
                }
                message.Write(buffer.AsSpan(0, r.Count));
                if (!r.EndOfMessage)
                {
                    continue;
                }
                await DispatchAsync(process, message.WrittenMemory, gone.Token).ConfigureAwait(false);
                message.ResetWrittenCount();
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException)
        {
            Log.SessionEnded(_logger, e.Message);
        }
        finally
        {
            process.CloseStdin();
        }
    }

    private async Task DispatchAsync(IStreamedProcess process, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (data.IsEmpty)
        {
            return;
        }
        var channel = data.Span[0];
        var payload = data[1..];
        switch (channel)
        {
            case StreamProtocol.Close when _protocol == StreamProtocol.V5:
                if (payload.Length == 1 && payload.Span[0] == StreamProtocol.Stdin)
                {
                    process.CloseStdin();
                }
                break;
            case StreamProtocol.Stdin when process.Stdin is { } stdin && !payload.IsEmpty:
                try
                {
                    await stdin.WriteAsync(payload, ct).ConfigureAwait(false);
                    await stdin.FlushAsync(ct).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    // The process closed its stdin; later input has nowhere to go, as with a closed pipe.
                }
                catch (ObjectDisposedException)
                {
                }
                break;
            case StreamProtocol.Resize:
                if (StreamProtocol.TryParseResize(payload.Span, out var w, out var h))
                {
                    process.Resize(w, h);
                }
                break;
            default:
                break;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Debug, Message = "stream session ended: {Reason}")]
        public static partial void SessionEnded(ILogger logger, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "stream message larger than {Max} bytes; closing the session")]
        public static partial void MessageTooLarge(ILogger logger, int max);
    }
}
