using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Switchboard.Dns.Metrics;

/// <summary>What an endpoint answers for one GET.</summary>
internal readonly record struct HttpReply(int Status, string ContentType, string Body);

/// <summary>
/// A minimal HTTP/1.1 responder for /metrics, /health and /ready: one GET per connection, then close. These are
/// scraped every few seconds, so a full web stack (and its start-up time and tens of MB of RSS) buys nothing here.
/// </summary>
internal sealed partial class HttpEndpoint : IAsyncDisposable
{
    private const int MaxRequestBytes = 8192;
    private readonly Socket _listener;
    private readonly Func<string, HttpReply> _handler;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;

    private HttpEndpoint(Socket listener, Func<string, HttpReply> handler, TimeProvider time, ILogger logger)
    {
        _listener = listener;
        _handler = handler;
        _time = time;
        _logger = logger;
        LocalEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        _accept = AcceptLoopAsync();
    }

    public IPEndPoint LocalEndPoint { get; }

    public static HttpEndpoint Start(IPEndPoint endPoint, Func<string, HttpReply> handler, TimeProvider time, ILogger logger)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endPoint);
            socket.Listen(64);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new HttpEndpoint(socket, handler, time, logger);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        try
        {
            await _accept.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                Log.AcceptFailed(_logger, ex, LocalEndPoint);
                continue;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var _ = client;
        // A client that never finishes its request does not hold a socket for long.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5), _time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, deadline.Token);
        try
        {
            var buffer = new byte[MaxRequestBytes];
            var length = 0;
            int headerEnd;
            while ((headerEnd = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (length == buffer.Length)
                {
                    await SendAsync(client, new HttpReply(431, "text/plain", "request too large\n"), head: false, timeout.Token).ConfigureAwait(false);
                    return;
                }
                var n = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }
                length += n;
            }
            var line = Encoding.ASCII.GetString(buffer, 0, buffer.AsSpan(0, headerEnd).IndexOf("\r\n"u8) is var e and >= 0 ? e : headerEnd);
            var parts = line.Split(' ');
            if (parts.Length < 2 || parts[0] is not ("GET" or "HEAD"))
            {
                await SendAsync(client, new HttpReply(405, "text/plain", "method not allowed\n"), head: false, timeout.Token).ConfigureAwait(false);
                return;
            }
            var path = parts[1];
            var query = path.IndexOf('?', StringComparison.Ordinal);
            await SendAsync(client, _handler(query >= 0 ? path[..query] : path), parts[0] == "HEAD", timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The client went away or was too slow; nothing to do.
        }
    }

    private static async Task SendAsync(Socket client, HttpReply reply, bool head, CancellationToken cancellationToken)
    {
        var body = Encoding.UTF8.GetBytes(reply.Body);
        var reason = reply.Status switch
        {
            200 => "OK",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            503 => "Service Unavailable",
            _ => "Status",
        };
        var header = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {reply.Status} {reason}\r\nContent-Type: {reply.ContentType}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        await client.SendAsync(header, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        if (!head)
        {
            await client.SendAsync(body, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        client.Shutdown(SocketShutdown.Send);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "HTTP endpoint {EndPoint}: accept failed")]
        public static partial void AcceptFailed(ILogger logger, Exception exception, IPEndPoint endPoint);
    }
}
