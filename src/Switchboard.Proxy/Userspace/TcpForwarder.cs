using System.Net.Sockets;

namespace Switchboard.Proxy.Userspace;

/// <summary>
/// Accepts on a listening TCP socket and relays each connection to a backend socket made by the dialer (for the
/// host publisher: a socket created inside the underlay namespace, connected to the LoadBalancer IP). A failed
/// dial closes the accepted connection at once, so the client sees a reset instead of a hang.
/// </summary>
internal sealed class TcpForwarder : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<CancellationToken, Task<Socket>> _dial;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _active;

    /// <param name="listener">A bound, listening socket; owned (disposed) by the forwarder.</param>
    public TcpForwarder(Socket listener, Func<CancellationToken, Task<Socket>> dial)
    {
        _listener = listener;
        _dial = dial;
        _loop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Connections being relayed now.</summary>
    public int Active => Volatile.Read(ref _active);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _loop.ConfigureAwait(false);
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
            _ = Task.Run(() => RelayAsync(client));
        }
    }

    private async Task RelayAsync(Socket client)
    {
        Interlocked.Increment(ref _active);
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
                    client.LingerState = new LingerOption(true, 0);
                    return;
                }
                using (backend)
                {
                    await TcpRelay.RunAsync(client, backend, _stop.Token).ConfigureAwait(false);
                }
            }
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }
}
