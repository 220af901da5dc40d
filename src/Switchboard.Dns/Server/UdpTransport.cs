using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Switchboard.Dns.Server;

/// <summary>
/// UDP transport: a few dedicated threads blocked in recvfrom on one socket (the kernel wakes one per datagram),
/// each with its own pinned receive buffer, response buffer and SocketAddress, answering synchronously through
/// <see cref="DnsPipeline.Handle"/>. No per-packet allocation and no thread-pool hop on the authoritative path;
/// only queries that wait on an upstream continue asynchronously, with rented buffers.
/// </summary>
internal sealed partial class UdpTransport : IDisposable
{
    private readonly Socket _socket;
    private readonly DnsPipeline _pipeline;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationToken _stopping;
    private readonly Thread[] _threads;
    private int _disposed;

    public UdpTransport(Socket socket, DnsPipeline pipeline, int workers, TimeProvider time, ILogger logger, CancellationToken stopping)
    {
        _socket = socket;
        _pipeline = pipeline;
        _time = time;
        _logger = logger;
        _stopping = stopping;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _threads = [.. Enumerable.Range(0, Math.Max(1, workers)).Select(i => new Thread(Run) { IsBackground = true, Name = $"dns-udp-{LocalEndPoint.Port}-{i}" })];
    }

    public IPEndPoint LocalEndPoint { get; }

    public void Start()
    {
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // Closing the socket is what wakes the threads blocked in recvfrom.
            _socket.Dispose();
            foreach (var thread in _threads)
            {
                if (thread.IsAlive)
                {
                    thread.Join(TimeSpan.FromSeconds(5));
                }
            }
        }
    }

    private void Run()
    {
        var receive = GC.AllocateArray<byte>(ushort.MaxValue, pinned: true);
        var response = GC.AllocateArray<byte>(ushort.MaxValue, pinned: true);
        var address = new SocketAddress(_socket.AddressFamily);
        while (Volatile.Read(ref _disposed) == 0)
        {
            int n;
            try
            {
                n = _socket.ReceiveFrom(receive, SocketFlags.None, address);
            }
            catch (SocketException ex) when (Volatile.Read(ref _disposed) == 0 && ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize or SocketError.Interrupted)
            {
                continue;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                if (Volatile.Read(ref _disposed) == 0)
                {
                    Log.ReceiveFailed(_logger, ex, LocalEndPoint);
                }
                return;
            }

            var ctx = Context(address);
            var started = _time.GetTimestamp();
            var length = _pipeline.Handle(receive.AsSpan(0, n), response, ctx);
            if (length > 0)
            {
                Send(response.AsSpan(0, length), address);
            }
            else if (length == DnsPipeline.NeedsAsync)
            {
                var packet = ArrayPool<byte>.Shared.Rent(n);
                receive.AsSpan(0, n).CopyTo(packet);
                var client = new SocketAddress(address.Family, address.Size);
                address.Buffer.Span.CopyTo(client.Buffer.Span);
                _ = CompleteAsync(packet, n, client, ctx, started);
            }
        }
    }

    private async Task CompleteAsync(byte[] packet, int length, SocketAddress client, RequestContext ctx, long started)
    {
        var response = ArrayPool<byte>.Shared.Rent(ushort.MaxValue);
        try
        {
            var n = await _pipeline.HandleAsync(packet.AsMemory(0, length), response.AsMemory(0, ushort.MaxValue), ctx, started, _stopping).ConfigureAwait(false);
            if (n > 0)
            {
                Send(response.AsSpan(0, n), client);
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
        catch (Exception ex)
        {
            Log.AsyncFailed(_logger, ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(packet);
            ArrayPool<byte>.Shared.Return(response);
        }
    }

    private void Send(ReadOnlySpan<byte> datagram, SocketAddress to)
    {
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, to);
        }
        catch (SocketException ex)
        {
            // A full send buffer or an unreachable client drops one answer, as a UDP server must tolerate.
            Log.SendFailed(_logger, ex.SocketErrorCode);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Client family and IP from the raw sockaddr, without building an IPEndPoint.</summary>
    internal static RequestContext Context(SocketAddress address)
    {
        var b = address.Buffer.Span;
        if (address.Family == AddressFamily.InterNetwork && b.Length >= 8)
        {
            return new RequestContext(false, false, Kubernetes.IpKey.From(b.Slice(4, 4)), true);
        }
        if (address.Family == AddressFamily.InterNetworkV6 && b.Length >= 24)
        {
            var key = Kubernetes.IpKey.From(b.Slice(8, 16));
            // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
            var mapped = (ulong)(key >> 64) == 0 && ((ulong)key >> 32) == 0xFFFF;
            return new RequestContext(false, !mapped, key, true);
        }
        return new RequestContext(false, false, default, false);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "UDP receive on {EndPoint} failed; this worker stops")]
        public static partial void ReceiveFailed(ILogger logger, Exception exception, IPEndPoint endPoint);

        [LoggerMessage(2, LogLevel.Debug, "UDP send failed: {Error}")]
        public static partial void SendFailed(ILogger logger, SocketError error);

        [LoggerMessage(3, LogLevel.Error, "Answering a forwarded query failed")]
        public static partial void AsyncFailed(ILogger logger, Exception exception);
    }
}
