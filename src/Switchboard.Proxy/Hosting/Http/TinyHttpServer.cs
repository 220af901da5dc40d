using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Switchboard.Proxy.Hosting.Http;

/// <summary>The request line of an HTTP/1.x request: method and path (query string removed).</summary>
internal readonly record struct HttpRequestHead(string Method, string Path);

/// <summary>A complete response. <see cref="Headers"/> are extra headers besides Content-Type/Length and Connection.</summary>
internal sealed record HttpResponse(int Status, string ContentType, byte[] Body, IReadOnlyList<KeyValuePair<string, string>>? Headers = null)
{
    public static HttpResponse Text(int status, string text) => new(status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text));
}

/// <summary>
/// A tiny HTTP/1.1 responder over a listening socket, for the proxy's health, healthCheckNodePort and metrics
/// endpoints: one request per connection (<c>Connection: close</c>), GET and HEAD only, request head ≤ 8 KiB,
/// 10 s to send it. Chosen over Kestrel so Switchboard.Proxy needs no ASP.NET Core framework reference and a
/// listener per healthCheckNodePort costs one socket and one accept loop.
/// </summary>
internal sealed partial class TinyHttpServer : IAsyncDisposable
{
    private const int MaxHead = 8192;
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _listener;
    private readonly Func<HttpRequestHead, HttpResponse> _handler;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    private TinyHttpServer(Socket listener, Func<HttpRequestHead, HttpResponse> handler, ILogger logger)
    {
        _listener = listener;
        _handler = handler;
        _logger = logger;
        LocalEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>
    /// Binds and starts serving. Throws <see cref="SocketException"/> when the address cannot be bound. As Go's
    /// <c>net.Listen("tcp", "0.0.0.0:p")</c>, the IPv4 wildcard listens on both families (a dual-mode <c>[::]</c>
    /// socket) when the namespace has IPv6, else on IPv4 only.
    /// </summary>
    public static TinyHttpServer Start(IPEndPoint endpoint, Func<HttpRequestHead, HttpResponse> handler, ILogger? logger = null) =>
        Start(endpoint, handler, logger, family => new Socket(family, SocketType.Stream, ProtocolType.Tcp));

    /// <summary>As <see cref="Start(IPEndPoint, Func{HttpRequestHead, HttpResponse}, ILogger?)"/> with a socket factory (tests make sockets inside a network namespace).</summary>
    internal static TinyHttpServer Start(IPEndPoint endpoint, Func<HttpRequestHead, HttpResponse> handler, ILogger? logger, Func<AddressFamily, Socket> newSocket)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(newSocket);
        Socket socket;
        if (endpoint.Address.Equals(IPAddress.Any) && Socket.OSSupportsIPv6)
        {
            try
            {
                socket = Bind(newSocket, new IPEndPoint(IPAddress.IPv6Any, endpoint.Port));
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable or SocketError.ProtocolNotSupported)
            {
                // IPv6 disabled in this namespace: IPv4 only.
                socket = Bind(newSocket, endpoint);
            }
        }
        else
        {
            socket = Bind(newSocket, endpoint);
        }

        return new TinyHttpServer(socket, handler, logger ?? NullLogger.Instance);
    }

    private static Socket Bind(Func<AddressFamily, Socket> newSocket, IPEndPoint endpoint)
    {
        var socket = newSocket(endpoint.AddressFamily);
        try
        {
            // No ReuseAddress: on Linux .NET maps it to SO_REUSEPORT too, which would let two listeners share a port
            // silently. .NET already sets SO_REUSEADDR for TCP listeners on Unix, so TIME_WAIT does not block a re-bind.
            if (endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            socket.Bind(endpoint);
            socket.Listen(128);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Stops accepting at once (the port is free when this returns); requests in flight are cut.</summary>
    public void Close()
    {
        if (!_stop.IsCancellationRequested)
        {
            _stop.Cancel();
        }

        _listener.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        Close();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    /// <summary>Writes status line, headers and body (body omitted for HEAD) into one buffer.</summary>
    internal static byte[] Serialize(HttpResponse response, bool head)
    {
        var sb = new StringBuilder(128);
        sb.Append("HTTP/1.1 ").Append(response.Status.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(Reason(response.Status)).Append("\r\n");
        sb.Append("Content-Type: ").Append(response.ContentType).Append("\r\n");
        if (response.Headers is { } headers)
        {
            foreach (var (k, v) in headers)
            {
                sb.Append(k).Append(": ").Append(v).Append("\r\n");
            }
        }

        sb.Append("Content-Length: ").Append(response.Body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        sb.Append("Connection: close\r\n\r\n");
        var headBytes = Encoding.ASCII.GetBytes(sb.ToString());
        if (head)
        {
            return headBytes;
        }

        var all = new byte[headBytes.Length + response.Body.Length];
        headBytes.CopyTo(all, 0);
        response.Body.CopyTo(all, headBytes.Length);
        return all;
    }

    /// <summary>Parses a request head; null when it is not a well-formed HTTP/1.x request line.</summary>
    internal static HttpRequestHead? ParseRequestLine(ReadOnlySpan<byte> head)
    {
        var end = head.IndexOf("\r\n"u8);
        var line = end < 0 ? head : head[..end];
        var sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0)
        {
            return null;
        }

        var rest = line[(sp1 + 1)..];
        var sp2 = rest.IndexOf((byte)' ');
        if (sp2 <= 0 || !rest[(sp2 + 1)..].StartsWith("HTTP/1."u8))
        {
            return null;
        }

        var target = rest[..sp2];
        var q = target.IndexOf((byte)'?');
        if (q >= 0)
        {
            target = target[..q];
        }

        if (target.Length == 0 || target[0] != (byte)'/')
        {
            return null;
        }

        return new HttpRequestHead(Encoding.ASCII.GetString(line[..sp1]), Encoding.ASCII.GetString(target));
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }

                Log.AcceptFailed(_logger, ex, LocalEndPoint);
                continue;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(MaxHead);
        try
        {
            using (client)
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
            {
                timeout.CancelAfter(ReadTimeout);
                var response = await ReadAndHandleAsync(client, buffer, timeout.Token).ConfigureAwait(false);
                await client.SendAsync(response, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                client.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Client went away or server stopping: nothing to answer.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<byte[]> ReadAndHandleAsync(Socket client, byte[] buffer, CancellationToken ct)
    {
        var filled = 0;
        while (true)
        {
            int n;
            try
            {
                n = await client.ReceiveAsync(buffer.AsMemory(filled, MaxHead - filled), SocketFlags.None, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
            {
                return Serialize(HttpResponse.Text(408, "request timeout\n"), head: false);
            }

            if (n == 0)
            {
                return Serialize(HttpResponse.Text(400, "incomplete request\n"), head: false);
            }

            filled += n;
            if (buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8) >= 0)
            {
                break;
            }

            if (filled == MaxHead)
            {
                return Serialize(HttpResponse.Text(431, "request head too large\n"), head: false);
            }
        }

        if (ParseRequestLine(buffer.AsSpan(0, filled)) is not { } request)
        {
            return Serialize(HttpResponse.Text(400, "malformed request line\n"), head: false);
        }

        var isHead = request.Method == "HEAD";
        if (request.Method != "GET" && !isHead)
        {
            var notAllowed = HttpResponse.Text(405, "only GET and HEAD\n") with { Headers = [new("Allow", "GET, HEAD")] };
            return Serialize(notAllowed, head: false);
        }

        HttpResponse response;
        try
        {
            response = _handler(request);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, ex, request.Path);
            response = HttpResponse.Text(500, "internal error\n");
        }

        return Serialize(response, isHead);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Accept on {Endpoint} failed")]
        public static partial void AcceptFailed(ILogger logger, Exception exception, IPEndPoint endpoint);

        [LoggerMessage(Level = LogLevel.Error, Message = "HTTP handler for {Path} failed")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string path);
    }
}
