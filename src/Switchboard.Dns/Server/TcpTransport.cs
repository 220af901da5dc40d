using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Switchboard.Dns.Kubernetes;

namespace Switchboard.Dns.Server;

/// <summary>
/// TCP transport (RFC 7766): length-prefixed messages, several queries per connection answered in order, an idle
/// timeout (10 s, as CoreDNS) and a cap on open connections so idle clients cannot exhaust memory or descriptors.
/// Clients come here after a truncated UDP answer, so buffers are rented per connection, not per query.
/// </summary>
internal sealed partial class TcpTransport : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly DnsPipeline _pipeline;
    private readonly TimeProvider _time;
    private readonly TimeSpan _idleTimeout;
    private readonly int _maxConnections;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task _accept = Task.CompletedTask;
    private int _connections;

    public TcpTransport(Socket socket, DnsPipeline pipeline, TimeSpan idleTimeout, int maxConnections, TimeProvider time, ILogger logger)
    {
        _socket = socket;
        _pipeline = pipeline;
        _idleTimeout = idleTimeout;
        _maxConnections = maxConnections;
        _time = time;
        _logger = logger;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    public IPEndPoint LocalEndPoint { get; }

    public void Start() => _accept = AcceptLoopAsync();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
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
                client = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                Log.AcceptFailed(_logger, ex.SocketErrorCode);
                continue;
            }
            if (Interlocked.Increment(ref _connections) > _maxConnections)
            {
                Interlocked.Decrement(ref _connections);
                client.Dispose();
                continue;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        var request = ArrayPool<byte>.Shared.Rent(ushort.MaxValue);
        var response = ArrayPool<byte>.Shared.Rent(ushort.MaxValue + 2);
        try
        {
            client.NoDelay = true;
            var ctx = Context(client.RemoteEndPoint);
            using var idle = new CancellationTokenSource(_idleTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(idle.Token, _stop.Token);
            while (true)
            {
                idle.CancelAfter(_idleTimeout);
                if (!await ReadExactlyAsync(client, request.AsMemory(0, 2), linked.Token).ConfigureAwait(false))
                {
                    return;
                }
                int length = BinaryPrimitives.ReadUInt16BigEndian(request);
                if (length == 0 || !await ReadExactlyAsync(client, request.AsMemory(0, length), linked.Token).ConfigureAwait(false))
                {
                    return;
                }
                var started = _time.GetTimestamp();
                var n = _pipeline.Handle(request.AsSpan(0, length), response.AsSpan(2), ctx);
                if (n == DnsPipeline.NeedsAsync)
                {
                    n = await _pipeline.HandleAsync(request.AsMemory(0, length), response.AsMemory(2, ushort.MaxValue), ctx, started, _stop.Token).ConfigureAwait(false);
                }
                if (n <= 0)
                {
                    return; // nothing sensible to say (not a query): close, as there is no way to skip it in the stream
                }
                BinaryPrimitives.WriteUInt16BigEndian(response, (ushort)n);
                await client.SendAsync(response.AsMemory(0, n + 2), SocketFlags.None, linked.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Idle timeout, shutdown or a client that went away.
        }
        catch (Exception ex)
        {
            Log.ConnectionFailed(_logger, ex);
        }
        finally
        {
            Interlocked.Decrement(ref _connections);
            client.Dispose();
            ArrayPool<byte>.Shared.Return(request);
            ArrayPool<byte>.Shared.Return(response);
        }
    }

    private static async Task<bool> ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (buffer.Length > 0)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return false;
            }
            buffer = buffer[n..];
        }
        return true;
    }

    private static RequestContext Context(EndPoint? remote)
    {
        if (remote is not IPEndPoint ip)
        {
            return new RequestContext(true, false, default, false);
        }
        var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        return new RequestContext(true, address.AddressFamily == AddressFamily.InterNetworkV6, IpKey.From(address), true);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "TCP accept failed: {Error}")]
        public static partial void AcceptFailed(ILogger logger, SocketError error);

        [LoggerMessage(2, LogLevel.Warning, "TCP connection failed")]
        public static partial void ConnectionFailed(ILogger logger, Exception exception);
    }
}
