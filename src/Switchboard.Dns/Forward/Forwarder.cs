using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Switchboard.Dns.Metrics;
using Switchboard.Dns.Wire;

namespace Switchboard.Dns.Forward;

/// <summary>Tuning of the forwarder (CoreDNS forward's defaults where it has them).</summary>
internal sealed record ForwardOptions
{
    /// <summary>How long one try waits for an upstream before the next try.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Queries in flight upstream at once; more are answered SERVFAIL at once (CoreDNS max_concurrent), so a
    /// slow upstream under a burst cannot grow memory without bound (reference/dns.md complaint 11).</summary>
    public int MaxConcurrent { get; init; } = 1000;
}

/// <summary>
/// Sends names outside the cluster to the upstream resolvers: UDP with random query IDs on one connected socket per
/// upstream (the kernel drops datagrams from any other source), retry on the next upstream after a timeout, TCP
/// when the answer comes back truncated. Loop protection: upstreams that are this server's own listeners are refused
/// at start, and a random probe name sent at start that comes back to this server marks a loop (CoreDNS's loop
/// plugin) and turns forwarding off rather than crash-looping.
/// </summary>
internal sealed partial class Forwarder : IAsyncDisposable
{
    private readonly UdpUpstream[] _upstreams;
    private readonly ForwardOptions _options;
    private readonly TimeProvider _time;
    private readonly DnsMetrics _metrics;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _probeName;
    private int _inFlight;
    private int _next;
    private int _loop;

    public Forwarder(IReadOnlyList<IPEndPoint> upstreams, ForwardOptions options, TimeProvider time, DnsMetrics metrics, ILogger logger)
    {
        _options = options;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _upstreams = [.. upstreams.Select((u, i) => new UdpUpstream(u, i, this))];
        // Unpredictable, so no one can make us believe in a loop by sending the name first.
        _probeName = DnsName.Encode($"{RandomNumberGenerator.GetHexString(16, lowercase: true)}.{RandomNumberGenerator.GetHexString(16, lowercase: true)}.switchboard-loop-check");
    }

    /// <summary>True while there is an upstream to ask and no loop has been seen.</summary>
    public bool Enabled => _upstreams.Length > 0 && Volatile.Read(ref _loop) == 0;

    public bool LoopDetected => Volatile.Read(ref _loop) != 0;

    public IReadOnlyList<IPEndPoint> Upstreams => [.. _upstreams.Select(u => u.EndPoint)];

    /// <summary>Starts the receive loops and sends the loop probe through every upstream.</summary>
    public void Start()
    {
        foreach (var upstream in _upstreams)
        {
            upstream.Start(_stop.Token);
        }
        if (_upstreams.Length > 0)
        {
            _ = ProbeAsync();
        }
    }

    /// <summary>Called for every query that would be forwarded: is it our own probe, come back?</summary>
    public bool IsLoopProbe(ReadOnlySpan<byte> lowerName)
    {
        if (lowerName.Length != _probeName.Length || !lowerName.SequenceEqual(_probeName))
        {
            return false;
        }
        if (Interlocked.Exchange(ref _loop, 1) == 0)
        {
            Log.LoopDetected(_logger, string.Join(", ", _upstreams.Select(u => u.EndPoint)));
            _metrics.LoopDetected();
        }
        return true;
    }

    /// <summary>
    /// Asks the upstreams for (name, type, IN). Returns the response message, or null when every try failed, the
    /// in-flight limit was hit, or forwarding is off.
    /// </summary>
    public async ValueTask<byte[]?> QueryAsync(byte[] lowerName, ushort qtype, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return null;
        }
        if (Interlocked.Increment(ref _inFlight) > _options.MaxConcurrent)
        {
            Interlocked.Decrement(ref _inFlight);
            _metrics.ForwardRejected();
            return null;
        }
        try
        {
            var attempts = Math.Max(2, Math.Min(_upstreams.Length, 3));
            var first = (int)((uint)Interlocked.Increment(ref _next) % (uint)_upstreams.Length);
            for (var attempt = 0; attempt < attempts; attempt++)
            {
                var upstream = _upstreams[(first + attempt) % _upstreams.Length];
                var started = _time.GetTimestamp();
                var response = await upstream.QueryAsync(lowerName, qtype, _options.AttemptTimeout, cancellationToken).ConfigureAwait(false);
                if (response is not null && (response[3] & 0x0F) is var rcode)
                {
                    _metrics.ForwardResponse(upstream.Index, rcode, _time.GetElapsedTime(started));
                    return response;
                }
                _metrics.ForwardFailure(upstream.Index);
            }
            return null;
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var upstream in _upstreams)
        {
            upstream.Dispose();
        }
        _stop.Dispose();
    }

    /// <summary>Sends the loop probe through every upstream (at start; tests call it again after wiring a loop).</summary>
    public async Task ProbeAsync()
    {
        try
        {
            foreach (var upstream in _upstreams)
            {
                await upstream.QueryAsync(_probeName, DnsType.HINFO, _options.AttemptTimeout, _stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Probing is best effort; a dead upstream is not a loop.
        }
    }

    /// <summary>The query we send upstream: RD set, one question, EDNS with our receive size so large answers come whole.</summary>
    internal static int BuildQuery(Span<byte> buffer, ushort id, ReadOnlySpan<byte> lowerName, ushort qtype)
    {
        var w = new DnsMessageWriter(buffer, buffer.Length);
        w.TryWriteQuestion(lowerName, qtype, DnsClass.IN);
        w.TryAddOpt(DnsLimits.DefaultEdnsPayload, DnsRcode.NoError, dnssecOk: false);
        return w.Finish(id, DnsFlags.RD, DnsRcode.NoError);
    }

    /// <summary>Does the response answer exactly this question (ID checked by the caller)?</summary>
    internal static bool Answers(ReadOnlySpan<byte> response, ReadOnlySpan<byte> lowerName, ushort qtype)
    {
        if (response.Length < DnsLimits.HeaderLength || (response[2] & 0x80) == 0 || DnsName.U16(response, 4) != 1)
        {
            return false;
        }
        Span<byte> name = stackalloc byte[DnsLimits.MaxNameLength + 1];
        var pos = DnsLimits.HeaderLength;
        if (!DnsName.TryRead(response, ref pos, name, out var length) || pos + 4 > response.Length)
        {
            return false;
        }
        return DnsName.EqualsIgnoreCase(name[..length], lowerName) && DnsName.U16(response, pos) == qtype && DnsName.U16(response, pos + 2) == DnsClass.IN;
    }

    /// <summary>One upstream: a connected UDP socket, a receive loop matching responses to waiting queries by ID.</summary>
    private sealed class UdpUpstream : IDisposable
    {
        private readonly Forwarder _owner;
        private readonly Socket _socket;
        private readonly Lock _gate = new();
        private readonly Dictionary<ushort, Pending> _pending = [];

        public UdpUpstream(IPEndPoint endPoint, int index, Forwarder owner)
        {
            EndPoint = endPoint;
            Index = index;
            _owner = owner;
            _socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            _socket.Connect(endPoint);
        }

        public IPEndPoint EndPoint { get; }

        public int Index { get; }

        public void Start(CancellationToken stop) => _ = ReceiveLoopAsync(stop);

        public async ValueTask<byte[]?> QueryAsync(byte[] lowerName, ushort qtype, TimeSpan timeout, CancellationToken cancellationToken)
        {
            var pending = new Pending(lowerName, qtype);
            ushort id;
            lock (_gate)
            {
                do
                {
                    id = (ushort)RandomNumberGenerator.GetInt32(0, 65536);
                }
                while (_pending.ContainsKey(id));
                _pending[id] = pending;
            }
            var buffer = new byte[DnsLimits.MaxNameLength + 64];
            var length = BuildQuery(buffer, id, lowerName, qtype);
            try
            {
                await _socket.SendAsync(buffer.AsMemory(0, length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                var response = await pending.Completion.Task.WaitAsync(timeout, _owner._time, cancellationToken).ConfigureAwait(false);
                if ((response[2] & (DnsFlags.TC >> 8)) != 0)
                {
                    return await TcpQueryAsync(buffer.AsMemory(0, length), lowerName, qtype, timeout, cancellationToken).ConfigureAwait(false);
                }
                return response;
            }
            catch (TimeoutException)
            {
                return null;
            }
            catch (SocketException)
            {
                return null; // ICMP unreachable on the connected socket: this upstream is down
            }
            finally
            {
                lock (_gate)
                {
                    _pending.Remove(id);
                }
            }
        }

        public void Dispose() => _socket.Dispose();

        private async Task<byte[]?> TcpQueryAsync(ReadOnlyMemory<byte> query, byte[] lowerName, ushort qtype, TimeSpan timeout, CancellationToken cancellationToken)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(timeout);
            using var tcp = new Socket(EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await tcp.ConnectAsync(EndPoint, cts.Token).ConfigureAwait(false);
                var framed = new byte[query.Length + 2];
                BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)query.Length);
                query.CopyTo(framed.AsMemory(2));
                await tcp.SendAsync(framed, SocketFlags.None, cts.Token).ConfigureAwait(false);
                var lengthBytes = new byte[2];
                await ReadExactlyAsync(tcp, lengthBytes, cts.Token).ConfigureAwait(false);
                var response = new byte[BinaryPrimitives.ReadUInt16BigEndian(lengthBytes)];
                await ReadExactlyAsync(tcp, response, cts.Token).ConfigureAwait(false);
                return DnsName.U16(response, 0) == DnsName.U16(query.Span, 0) && Answers(response, lowerName, qtype) ? response : null;
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException or ArgumentOutOfRangeException && !cancellationToken.IsCancellationRequested)
            {
                return null;
            }
        }

        private static async Task ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
        {
            while (buffer.Length > 0)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new IOException("connection closed");
                }
                buffer = buffer[n..];
            }
        }

        private async Task ReceiveLoopAsync(CancellationToken stop)
        {
            var buffer = new byte[DnsLimits.MaxMessageLength];
            while (!stop.IsCancellationRequested)
            {
                int n;
                try
                {
                    n = await _socket.ReceiveAsync(buffer, SocketFlags.None, stop).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    continue; // e.g. ECONNREFUSED from an earlier send; the waiting query times out and tries elsewhere
                }
                catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
                {
                    return;
                }
                if (n < DnsLimits.HeaderLength)
                {
                    continue;
                }
                var id = BinaryPrimitives.ReadUInt16BigEndian(buffer);
                Pending? pending;
                lock (_gate)
                {
                    _pending.TryGetValue(id, out pending);
                }
                // A wrong question under a right ID is a spoofing attempt or a confused server: ignore it and keep waiting.
                if (pending is not null && Answers(buffer.AsSpan(0, n), pending.Name, pending.Type))
                {
                    pending.Completion.TrySetResult(buffer.AsSpan(0, n).ToArray());
                }
            }
        }
    }

    private sealed class Pending(byte[] name, ushort type)
    {
        public byte[] Name { get; } = name;

        public ushort Type { get; } = type;

        public TaskCompletionSource<byte[]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Forwarding loop detected: our probe query came back through upstream {Upstreams}; names outside the cluster now get SERVFAIL. Point --upstream at a resolver that does not forward to this server.")]
        public static partial void LoopDetected(ILogger logger, string upstreams);
    }
}
