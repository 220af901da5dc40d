using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Switchboard.Proxy.Userspace;

/// <summary>
/// A UDP forwarder: datagrams arriving on a listening socket are sent to a backend from a per-client upstream
/// socket (made by the dialer, e.g. inside another network namespace), and the backend's replies go back to that
/// client from the listening socket. A client session ends after <see cref="IdleTimeout"/> without traffic, as a
/// conntrack UDP entry would. The receive loops reuse one buffer and one SocketAddress each: no allocation per
/// datagram.
/// </summary>
internal sealed class UdpRelay : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<CancellationToken, Task<Socket>> _dial;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<SocketAddress, Session> _sessions = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Task _sweeper;

    /// <param name="listener">A bound UDP socket; owned (disposed) by the relay.</param>
    /// <param name="dial">Makes an upstream socket connected to the backend.</param>
    public UdpRelay(Socket listener, Func<CancellationToken, Task<Socket>> dial, TimeProvider time, TimeSpan? idleTimeout = null)
    {
        _listener = listener;
        _dial = dial;
        _time = time;
        IdleTimeout = idleTimeout ?? TimeSpan.FromSeconds(120);
        _loop = Task.Run(ReceiveLoopAsync);
        _sweeper = Task.Run(SweepLoopAsync);
    }

    public TimeSpan IdleTimeout { get; }

    public int Sessions => _sessions.Count;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await Task.WhenAll(_loop, _sweeper).ConfigureAwait(false);
        foreach (var s in _sessions.Values)
        {
            s.Upstream.Dispose();
        }
        _sessions.Clear();
        _stop.Dispose();
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = GC.AllocateUninitializedArray<byte>(65536, pinned: true);
        var from = new SocketAddress(_listener.AddressFamily);
        while (!_stop.IsCancellationRequested)
        {
            int n;
            try
            {
                n = await _listener.ReceiveFromAsync(buffer, SocketFlags.None, from, _stop.Token).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                // ICMP errors from earlier sends surface here (ECONNREFUSED); the socket keeps working.
                continue;
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            if (!_sessions.TryGetValue(from, out var session))
            {
                // A new client: the address object is reused by the loop, so the session keeps its own copy.
                var key = new SocketAddress(from.Family, from.Size);
                from.Buffer.CopyTo(key.Buffer);
                Socket upstream;
                try
                {
                    upstream = await _dial(_stop.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or IOException)
                {
                    continue;
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                session = new Session(key, upstream, _time.GetTimestamp());
                _sessions[key] = session;
                _ = Task.Run(() => ReplyLoopAsync(session));
            }
            session.LastSeen = _time.GetTimestamp();
            try
            {
                await session.Upstream.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token).ConfigureAwait(false);
            }
            catch (SocketException)
            {
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
        }
    }

    private async Task ReplyLoopAsync(Session session)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(65536, pinned: true);
        while (!_stop.IsCancellationRequested)
        {
            int n;
            try
            {
                n = await session.Upstream.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // The backend's port is closed (ICMP unreachable): keep the session, the client may retry.
                continue;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            session.LastSeen = _time.GetTimestamp();
            try
            {
                await _listener.SendToAsync(buffer.AsMemory(0, n), SocketFlags.None, session.Client, _stop.Token).ConfigureAwait(false);
            }
            catch (SocketException)
            {
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
        }
    }

    private async Task SweepLoopAsync()
    {
        var period = IdleTimeout / 4 > TimeSpan.FromSeconds(1) ? IdleTimeout / 4 : TimeSpan.FromSeconds(1);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, _time, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var now = _time.GetTimestamp();
            foreach (var (key, session) in _sessions)
            {
                if (_time.GetElapsedTime(session.LastSeen, now) > IdleTimeout && _sessions.TryRemove(key, out _))
                {
                    session.Upstream.Dispose();
                }
            }
        }
    }

    private sealed class Session(SocketAddress client, Socket upstream, long lastSeen)
    {
        public SocketAddress Client { get; } = client;

        public Socket Upstream { get; } = upstream;

        public long LastSeen { get; set; } = lastSeen;
    }
}
