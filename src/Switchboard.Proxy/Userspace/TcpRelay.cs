using System.Buffers;
using System.Net.Sockets;

namespace Switchboard.Proxy.Userspace;

/// <summary>
/// Moves bytes both ways between two connected TCP sockets until both directions reach EOF, propagating each
/// half-close (shutdown(SHUT_WR)) so protocols that end their request with EOF keep working. One pooled buffer
/// per direction for the life of the connection: nothing is allocated per read.
/// </summary>
internal static class TcpRelay
{
    public const int BufferSize = 64 * 1024;

    /// <summary>Relays until both sides finished or <paramref name="ct"/> fires; disposes neither socket.</summary>
    public static async Task RunAsync(Socket a, Socket b, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var up = PumpAsync(a, b, linked);
        var down = PumpAsync(b, a, linked);
        await Task.WhenAll(up, down).ConfigureAwait(false);
    }

    /// <summary>Bytes moved by one direction; a reset or an error on either socket ends both directions.</summary>
    private static async Task<long> PumpAsync(Socket from, Socket to, CancellationTokenSource both)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        long total = 0;
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, both.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    // EOF from this side: pass the half-close on, keep the other direction running.
                    try
                    {
                        to.Shutdown(SocketShutdown.Send);
                    }
                    catch (SocketException)
                    {
                    }
                    return total;
                }
                var sent = 0;
                while (sent < n)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, both.Token).ConfigureAwait(false);
                }
                total += n;
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            await both.CancelAsync().ConfigureAwait(false);
            return total;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
