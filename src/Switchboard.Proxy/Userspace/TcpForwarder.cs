using System.Net.Sockets;

namespace Switchboard.Proxy.Userspace;

/// <summary>
/// Accepts on a listening TCP socket and relays each connection to a backend socket made by the dialer (for the
/// host publisher: a socket created inside the underlay namespace, connected to the LoadBalancer IP). A failed
/// dial closes the accepted connection at once, so the client sees a reset instead of a hang; a reset on either side
/// of a relayed connection is passed on as a reset. Bytes move through a <see cref="TcpRelay"/> (spliced on Linux).
/// </summary>
internal sealed class TcpForwarder : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<CancellationToken, Task<Socket>> _dial;
    private readonly TcpRelay _relay;
    private readonly bool _ownsRelay;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _active;

    /// <param name="listener">A bound, listening socket; owned (disposed) by the forwarder.</param>
    /// <param name="dial">Makes a connected backend socket.</param>
    /// <param name="relay">A relay shared with other forwarders (not disposed here); null: an own one.</param>
    public TcpForwarder(Socket listener, Func<CancellationToken, Task<Socket>> dial, TcpRelay? relay = null)
    {
        _listener = listener;
        _dial = dial;
        _ownsRelay = relay is null;
        _relay = relay ?? TcpRelay.Create();
        _loop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Connections being relayed now.</summary>
    public int Active => Volatile.Read(ref _active);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _loop.ConfigureAwait(false);
        // Relays end promptly once canceled; wait so no socket outlives the forwarder.
        while (Volatile.Read(ref _active) > 0)
        {
            await Task.Delay(10).ConfigureAwait(false);
        }
        if (_ownsRelay)
        {
            await _relay.DisposeAsync().ConfigureAwait(false);
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
            catch (SocketException)
            {
                continue;
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            // Counted before the relay starts, so DisposeAsync cannot miss it. Started inline, not with Task.Run:
            // RelayAsync yields at its first await (the dial), and one thread-pool hop less per connection shows
            // in the connection rate.
            Interlocked.Increment(ref _active);
            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(Socket client)
    {
        try
        {
            using (client)
            {
                client.NoDelay = true;
                Socket backend;
                try
                {
                    backend = await _dial(_stop.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
                {
                    // Reset, as a kernel DNAT to a dead backend would look to the client.
                    TcpRelay.Abort(client);
                    return;
                }
                using (backend)
                {
                    var outcome = await _relay.RunAsync(client, backend, _stop.Token).ConfigureAwait(false);
                    if (outcome != RelayOutcome.Completed)
                    {
                        TcpRelay.Abort(client);
                        TcpRelay.Abort(backend);
                    }
                }
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException or ArgumentException)
        {
            // The client vanished before the relay started (e.g. reset right after accept): nothing to pass on.
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }
}
