using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Switchboard.Node.KubeletApi.Spdy;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.KubeletApi;

/// <summary>
/// The portforward.k8s.io protocol over a SPDY session (upstream kubelet's httpstream port-forward handler): for
/// each forwarded connection the client opens an "error" and a "data" stream with the same requestID and a port;
/// the kubelet connects to that port on the Pod's loopback and copies bytes between it and the data stream
/// (FIN = half-close); a failure is written as text on the error stream.
/// </summary>
internal sealed partial class PortForwarder
{
    public const string Protocol = "portforward.k8s.io";

    /// <summary>kubectl 1.31+ tunnels SPDY through a WebSocket with this subprotocol (KEP-4006).</summary>
    public const string WebSocketProtocol = "SPDY/3.1+" + Protocol;

    private readonly ILogger _logger;
    private readonly Func<string?, int, CancellationToken, Task<Socket>> _connect;

    public PortForwarder(ILogger logger, Func<string?, int, CancellationToken, Task<Socket>>? connect = null)
    {
        _logger = logger;
        _connect = connect ?? PodDialer.ConnectAsync;
    }

    public async Task ServeAsync(Stream transport, ContainerView pod, CancellationToken ct)
    {
        var session = new SpdySession(transport, _logger);
        await using (session.ConfigureAwait(false))
        {
            var pairs = new ConcurrentDictionary<string, Pair>(StringComparer.Ordinal);
            await session.RunAsync(stream => OnStreamAsync(stream, pod, pairs, ct), ct).ConfigureAwait(false);
        }
    }

    private sealed class Pair
    {
        public TaskCompletionSource<SpdyStream> Error { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task OnStreamAsync(SpdyStream stream, ContainerView pod, ConcurrentDictionary<string, Pair> pairs, CancellationToken ct)
    {
        var type = stream.Header("streamtype");
        // Old clients send no requestID: the error stream's id is then the data stream's id minus 2 (upstream's rule).
        var requestId = stream.Header("requestid")
            ?? (type == "data" ? (stream.Id - 2).ToString(CultureInfo.InvariantCulture) : stream.Id.ToString(CultureInfo.InvariantCulture));
        var pair = pairs.GetOrAdd(requestId, _ => new Pair());
        switch (type)
        {
            case "error":
                pair.Error.TrySetResult(stream);
                return;
            case "data":
                break;
            default:
                await stream.ResetAsync(ct).ConfigureAwait(false);
                return;
        }
        SpdyStream error;
        try
        {
            error = await pair.Error.Task.WaitAsync(TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.NoErrorStream(_logger, requestId);
            await stream.ResetAsync(ct).ConfigureAwait(false);
            return;
        }
        finally
        {
            pairs.TryRemove(requestId, out _);
        }
        try
        {
            await ForwardAsync(stream, error, pod, ct).ConfigureAwait(false);
        }
        finally
        {
            // Both after our FIN: no RST goes out, the streams are just forgotten.
            await error.CloseAsync(ct).ConfigureAwait(false);
            await error.ResetAsync(ct).ConfigureAwait(false);
            await stream.ResetAsync(ct).ConfigureAwait(false);
        }
    }

    private async Task ForwardAsync(SpdyStream data, SpdyStream error, ContainerView pod, CancellationToken ct)
    {
        var portText = data.Header("port");
        if (string.IsNullOrEmpty(portText))
        {
            await FailAsync(error, "\"port\" header is required", ct).ConfigureAwait(false);
            return;
        }
        if (!ushort.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            await FailAsync(error, $"unable to parse \"{portText}\" as a port: invalid syntax", ct).ConfigureAwait(false);
            return;
        }
        if (port == 0)
        {
            await FailAsync(error, "port \"0\" must be > 0", ct).ConfigureAwait(false);
            return;
        }
        Socket target;
        try
        {
            target = await _connect(pod.NetworkNamespace, port, ct).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            await FailAsync(error, $"error forwarding port {port} to pod {pod.PodName}, uid {pod.PodUid}: failed to connect to localhost:{port} inside namespace: {e.Message}", ct).ConfigureAwait(false);
            return;
        }
        using (target)
        {
            Log.Forwarding(_logger, pod.PodNamespace, pod.PodName, port);
            var up = ToTargetAsync(data, target, ct);
            var down = FromTargetAsync(target, data, ct);
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
    }

    private static async Task ToTargetAsync(SpdyStream data, Socket target, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                var r = await data.Input.ReadAsync(ct).ConfigureAwait(false);
                foreach (var segment in r.Buffer)
                {
                    await target.SendAsync(segment, SocketFlags.None, ct).ConfigureAwait(false);
                }
                data.Input.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted)
                {
                    // The client is done sending: half-close towards the target, as TCP would.
                    target.Shutdown(SocketShutdown.Send);
                    return;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            // Reset by the client or the target went away: end both directions.
            target.Close();
        }
    }

    private static async Task FromTargetAsync(Socket target, SpdyStream data, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(32 * 1024);
        try
        {
            while (true)
            {
                var n = await target.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                await data.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        try
        {
            await data.CloseAsync(ct).ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
    }

    private async Task FailAsync(SpdyStream error, string message, CancellationToken ct)
    {
        Log.ForwardFailed(_logger, message);
        await error.WriteAsync(Encoding.UTF8.GetBytes(message), ct).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "port-forward {Namespace}/{Pod} port {Port}")]
        public static partial void Forwarding(ILogger logger, string @namespace, string pod, int port);

        [LoggerMessage(Level = LogLevel.Warning, Message = "port-forward: {Message}")]
        public static partial void ForwardFailed(ILogger logger, string message);

        [LoggerMessage(Level = LogLevel.Warning, Message = "port-forward request {RequestId}: data stream without an error stream")]
        public static partial void NoErrorStream(ILogger logger, string requestId);
    }
}

/// <summary>A WebSocket as a byte stream: each write is one binary message, reads ignore message boundaries.</summary>
internal sealed class WebSocketByteStream(WebSocket ws) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (ws.State is not (WebSocketState.Open or WebSocketState.CloseSent))
            {
                return 0;
            }
            var r = await ws.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (r.MessageType == WebSocketMessageType.Close)
            {
                return 0;
            }
            if (r.Count > 0 || buffer.IsEmpty)
            {
                return r.Count;
            }
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        ws.SendAsync(buffer, WebSocketMessageType.Binary, true, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
