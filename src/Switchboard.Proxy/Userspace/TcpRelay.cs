using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;

namespace Switchboard.Proxy.Userspace;

/// <summary>How a relay ended.</summary>
internal enum RelayOutcome
{
    /// <summary>Both directions reached EOF; each half-close was passed on.</summary>
    Completed,

    /// <summary>A side reset or failed: the caller closes both sockets with RST (<see cref="TcpRelay.Abort"/>).</summary>
    Reset,

    /// <summary>The relay was stopped (forwarder shut down).</summary>
    Canceled,
}

/// <summary>Settings of a <see cref="TcpRelay"/>.</summary>
internal sealed record TcpRelayOptions
{
    /// <summary>Use zero-copy splice(2) between sockets where the kernel allows it (Linux).</summary>
    public bool UseSplice { get; init; } = true;

    /// <summary>Pipe size, i.e. bytes per splice call at most (64 KiB .. 1 MiB is sensible; the kernel may grant less).</summary>
    public int SpliceChunkSize { get; init; } = 1024 * 1024;

    /// <summary>Splice event loops (threads); connections are spread over them.</summary>
    public int SpliceLoops { get; init; } = Math.Clamp(Environment.ProcessorCount, 1, 4);

    /// <summary>Per-direction pooled buffer of the buffered copy (non-Linux, streams, or splice unavailable).</summary>
    public int BufferSize { get; init; } = 64 * 1024;
}

/// <summary>
/// Moves bytes both ways between two connected TCP sockets until both directions reach EOF, passing each
/// half-close on (shutdown(SHUT_WR)) so protocols that end their request with EOF keep working, and a reset on one
/// side as a reset on the other. On Linux it splices (zero-copy, <see cref="SpliceEngine"/>); elsewhere, or when
/// splice is refused, it copies through one pooled buffer per direction (no allocation per read). Streams that are
/// not plain sockets (TLS) always take the buffered copy (<see cref="RunStreamsAsync"/>).
/// </summary>
internal sealed class TcpRelay : IAsyncDisposable
{
    private readonly object? _splice;

    private TcpRelay(TcpRelayOptions options, object? splice)
    {
        Options = options;
        _splice = splice;
    }

    public TcpRelayOptions Options { get; }

    /// <summary>True when socket pairs are spliced in the kernel.</summary>
    public bool UsesSplice => _splice is not null;

    /// <summary>A relay with the splice engine when asked for and available, else the buffered copy.</summary>
    public static TcpRelay Create(TcpRelayOptions? options = null)
    {
        options ??= new TcpRelayOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BufferSize, 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SpliceChunkSize, 4096);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.SpliceChunkSize, 16 * 1024 * 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SpliceLoops, 1);
        object? splice = null;
        if (options.UseSplice && OperatingSystem.IsLinux())
        {
            splice = SpliceEngine.TryCreate(options.SpliceChunkSize, options.SpliceLoops);
        }
        return new TcpRelay(options, splice);
    }

    /// <summary>Relays until both sides finished, one reset, or <paramref name="ct"/> fires; disposes neither socket.</summary>
    public Task<RelayOutcome> RunAsync(Socket a, Socket b, CancellationToken ct)
    {
        if (OperatingSystem.IsLinux() && _splice is SpliceEngine engine)
        {
            return engine.RunAsync(a, b, ct);
        }
        return RunBufferedAsync(a, b, Options.BufferSize, ct);
    }

    /// <summary>Makes the next close of <paramref name="socket"/> send RST instead of FIN (SO_LINGER 0).</summary>
    public static void Abort(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>The portable copy: one pooled buffer per direction, zero-allocation socket awaits.</summary>
    public static async Task<RelayOutcome> RunBufferedAsync(Socket a, Socket b, int bufferSize, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var state = new BufferedState();
        var up = PumpAsync(a, b, bufferSize, linked, state);
        var down = PumpAsync(b, a, bufferSize, linked, state);
        await Task.WhenAll(up, down).ConfigureAwait(false);
        return state.Outcome(ct);
    }

    /// <summary>
    /// The buffered copy between two streams (e.g. TLS). EOF is passed on where the stream can half-close (a
    /// socket's NetworkStream, an SslStream's close_notify); where it cannot, the first EOF ends the relay.
    /// </summary>
    public static async Task<RelayOutcome> RunStreamsAsync(Stream a, Stream b, int bufferSize, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var state = new BufferedState();
        var up = PumpStreamAsync(a, b, bufferSize, linked, state);
        var down = PumpStreamAsync(b, a, bufferSize, linked, state);
        await Task.WhenAll(up, down).ConfigureAwait(false);
        return state.Outcome(ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (OperatingSystem.IsLinux() && _splice is SpliceEngine engine)
        {
            await engine.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task PumpAsync(Socket from, Socket to, int bufferSize, CancellationTokenSource both, BufferedState state)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, both.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    // EOF from this side: pass the half-close on, keep the other direction running.
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                var sent = 0;
                while (sent < n)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, both.Token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            state.Failed |= e is not OperationCanceledException;
            await both.CancelAsync().ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task PumpStreamAsync(Stream from, Stream to, int bufferSize, CancellationTokenSource both, BufferedState state)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer.AsMemory(), both.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    await to.FlushAsync(both.Token).ConfigureAwait(false);
                    if (!await TryHalfCloseAsync(to).ConfigureAwait(false))
                    {
                        await both.CancelAsync().ConfigureAwait(false);
                    }
                    return;
                }
                await to.WriteAsync(buffer.AsMemory(0, n), both.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            state.Failed |= e is not OperationCanceledException;
            await both.CancelAsync().ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async ValueTask<bool> TryHalfCloseAsync(Stream stream)
    {
        switch (stream)
        {
            case NetworkStream network:
                network.Socket.Shutdown(SocketShutdown.Send);
                return true;
            case SslStream ssl:
                // close_notify is TLS's half-close; the peer's SslStream reads it as EOF.
                await ssl.ShutdownAsync().ConfigureAwait(false);
                return true;
            default:
                return false;
        }
    }

    private sealed class BufferedState
    {
        public bool Failed;

        public RelayOutcome Outcome(CancellationToken ct) =>
            Failed ? RelayOutcome.Reset : ct.IsCancellationRequested ? RelayOutcome.Canceled : RelayOutcome.Completed;
    }
}
