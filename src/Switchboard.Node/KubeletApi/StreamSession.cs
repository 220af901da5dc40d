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

    /// <summary>How long a tty session waits for the client's terminal size before starting the command.</summary>
    public static readonly TimeSpan FirstResizeWait = TimeSpan.FromSeconds(1);

    private readonly WebSocket _ws;
    private readonly string _protocol;
    private readonly StreamRequest _request;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Lock _gate = new();
    private readonly List<byte[]> _earlyStdin = [];
    private readonly TaskCompletionSource _firstResize = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IStreamedProcess? _process;
    private TerminalSize? _size;
    private bool _stdinClosedEarly;

    public StreamSession(WebSocket ws, string protocol, StreamRequest request, ILogger logger)
    {
        _ws = ws;
        _protocol = protocol;
        _request = request;
        _logger = logger;
    }

    /// <summary>
    /// Runs the session; <paramref name="start"/> makes the process once the socket is open. For a tty the
    /// command starts after the client's first resize (at most <see cref="FirstResizeWait"/>), so that it sees the
    /// client's terminal size from its first instruction; input that arrives earlier is kept for it.
    /// </summary>
    public async Task RunAsync(Func<TerminalSize?, IStreamedProcess> start, IReadOnlyList<string> command, CancellationToken ct)
    {
        using var clientGone = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task? receive = null;
        try
        {
            // Upstream writes an empty message on the lowest writable channel to tell the client the streams are up.
            var first = _request.Stdout ? StreamProtocol.Stdout : _request.Stderr ? StreamProtocol.Stderr : StreamProtocol.Error;
            await SendAsync(first, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false);
            receive = ReceiveAsync(clientGone);
            if (_request.Tty)
            {
                await Task.WhenAny(_firstResize.Task, Task.Delay(FirstResizeWait, ct), receive).ConfigureAwait(false);
            }

            IStreamedProcess process;
            try
            {
                TerminalSize? size;
                lock (_gate)
                {
                    size = _size;
                }
                process = start(size);
            }
            catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception or InvalidOperationException or UnauthorizedAccessException)
            {
                await FinishAsync(StreamProtocol.InternalErrorStatus("error executing command in container: " + e.Message), ct).ConfigureAwait(false);
                await WaitForCloseAsync(receive, ct).ConfigureAwait(false);
                return;
            }
            await using (process.ConfigureAwait(false))
            {
                await AttachAsync(process, clientGone.Token).ConfigureAwait(false);
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
                await WaitForCloseAsync(receive, ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException)
        {
            Log.SessionEnded(_logger, e.Message);
        }
        finally
        {
            if (receive is not null && !receive.IsCompleted)
            {
                _ws.Abort();
                await clientGone.CancelAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The client answers our close; cancelling a receive would abort the socket instead.</summary>
    private async Task WaitForCloseAsync(Task receive, CancellationToken ct)
    {
        try
        {
            await receive.WaitAsync(TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _ws.Abort();
        }
    }

    /// <summary>Hands input that arrived before the process existed to it, then lets input flow straight.</summary>
    private async Task AttachAsync(IStreamedProcess process, CancellationToken ct)
    {
        bool closed;
        while (true)
        {
            byte[][] early;
            lock (_gate)
            {
                if (_earlyStdin.Count == 0)
                {
                    _process = process;
                    closed = _stdinClosedEarly;
                    break;
                }
                early = [.. _earlyStdin];
                _earlyStdin.Clear();
            }
            foreach (var chunk in early)
            {
                await WriteStdinAsync(process, chunk, ct).ConfigureAwait(false);
            }
        }
        if (closed)
        {
            process.CloseStdin();
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

    /// <summary>Reads client messages until the client closes.</summary>
    private async Task ReceiveAsync(CancellationTokenSource gone)
    {
        await Task.Yield();
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
                await DispatchAsync(message.WrittenMemory, gone.Token).ConfigureAwait(false);
                message.ResetWrittenCount();
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException)
        {
            Log.SessionEnded(_logger, e.Message);
        }
        finally
        {
            CloseStdin();
        }
    }

    private void CloseStdin()
    {
        IStreamedProcess? process;
        lock (_gate)
        {
            process = _process;
            _stdinClosedEarly |= process is null;
        }
        process?.CloseStdin();
    }

    private async Task DispatchAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (data.IsEmpty)
        {
            return;
        }
        var channel = data.Span[0];
        var payload = data[1..];
        IStreamedProcess? process;
        switch (channel)
        {
            case StreamProtocol.Close when _protocol == StreamProtocol.V5:
                if (payload.Length == 1 && payload.Span[0] == StreamProtocol.Stdin)
                {
                    CloseStdin();
                }
                break;
            case StreamProtocol.Stdin when _request.Stdin && !payload.IsEmpty:
                lock (_gate)
                {
                    process = _process;
                    if (process is null)
                    {
                        _earlyStdin.Add(payload.ToArray());
                    }
                }
                if (process is not null)
                {
                    await WriteStdinAsync(process, payload, ct).ConfigureAwait(false);
                }
                break;
            case StreamProtocol.Resize:
                if (StreamProtocol.TryParseResize(payload.Span, out var w, out var h))
                {
                    lock (_gate)
                    {
                        process = _process;
                        _size = new TerminalSize(w, h);
                    }
                    _firstResize.TrySetResult();
                    process?.Resize(w, h);
                }
                break;
            default:
                break;
        }
    }

    private static async Task WriteStdinAsync(IStreamedProcess process, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (process.Stdin is not { } stdin)
        {
            return;
        }
        try
        {
            await stdin.WriteAsync(data, ct).ConfigureAwait(false);
            await stdin.FlushAsync(ct).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The process closed its stdin; later input has nowhere to go, as with a closed pipe.
        }
        catch (ObjectDisposedException)
        {
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

/// <summary>A terminal size from a resize message.</summary>
internal readonly record struct TerminalSize(ushort Width, ushort Height);
