using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Switchboard.Proxy.Userspace;

namespace Switchboard.Proxy.Tests.Userspace;

/// <summary>
/// Real sockets on 127.0.0.1: a named backend, a <see cref="TcpForwarder"/> in front of it, and clients, for each
/// relay mode (splice with a large and a small pipe, and the buffered copy). Data is random and checked by SHA-256
/// in both directions; the backend's reply names it, so every test checks who answered.
/// </summary>
public sealed class TcpRelayTests
{
    public static TheoryData<string> Modes => ["splice", "splice-64k", "buffered"];

    internal static TcpRelayOptions OptionsFor(string mode) => mode switch
    {
        "splice" => new TcpRelayOptions(),
        "splice-64k" => new TcpRelayOptions { SpliceChunkSize = 64 * 1024, SpliceLoops = 1 },
        "buffered" => new TcpRelayOptions { UseSplice = false },
        _ => throw new ArgumentException(mode),
    };

    [Fact]
    public async Task Create_OnLinux_UsesSplice()
    {
        await using var relay = TcpRelay.Create();
        Assert.True(relay.UsesSplice, "splice(2) relaying must be available on Linux");
    }

    [Fact]
    public async Task Create_SpliceOff_UsesBufferedCopy()
    {
        await using var relay = TcpRelay.Create(new TcpRelayOptions { UseSplice = false });
        Assert.False(relay.UsesSplice);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    [InlineData(64 * 1024 * 1024)]
    public void Create_BadChunkSize_IsRejected(int chunk) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TcpRelay.Create(new TcpRelayOptions { SpliceChunkSize = chunk }));

    [Fact]
    public void Create_NoLoops_IsRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TcpRelay.Create(new TcpRelayOptions { SpliceLoops = 0 }));

    [Fact]
    public async Task RunAsync_DatagramSockets_AreRejectedWithAClearError()
    {
        await using var relay = TcpRelay.Create();
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => relay.RunAsync(a, b, CancellationToken.None));
        Assert.Contains("connected stream sockets", e.Message);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Forwarder_LargeTransferBothWaysAtOnce_ChecksumsMatch(string mode)
    {
        await using var rig = await RelayRig.StartAsync(mode, "big-backend");
        var result = await rig.ExchangeAsync(clientBytes: 24 << 20, backendBytes: 24 << 20);
        Assert.Equal("big-backend", result.BackendName);
        Assert.Equal(result.ClientSentHash, result.BackendReceivedHash);
        Assert.Equal(result.BackendSentHash, result.ClientReceivedHash);
        Assert.Equal(24 << 20, result.BackendReceivedBytes);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Forwarder_ManyConcurrentConnections_EveryStreamIntact(string mode)
    {
        await using var rig = await RelayRig.StartAsync(mode, "many-backend");
        var results = await Task.WhenAll(Enumerable.Range(0, 150).Select(i => rig.ExchangeAsync(clientBytes: 64 * 1024 + i, backendBytes: 200 * 1024 - i)));
        Assert.All(results, r =>
        {
            Assert.Equal("many-backend", r.BackendName);
            Assert.Equal(r.ClientSentHash, r.BackendReceivedHash);
            Assert.Equal(r.BackendSentHash, r.ClientReceivedHash);
        });
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Forwarder_ClientHalfCloses_BackendRepliesAfterEofAndClientReadsIt(string mode)
    {
        await using var rig = await RelayRig.StartAsync(mode, "eof-backend");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(rig.Endpoint, cts.Token);
        await client.SendAsync("REPLY-AFTER-EOF "u8.ToArray(), cts.Token);
        await client.SendAsync(new byte[100_000], cts.Token);
        client.Shutdown(SocketShutdown.Send);
        var reply = Encoding.ASCII.GetString(await ReadToEndAsync(client, cts.Token));
        // The backend answers only once it has seen EOF, so this proves the half-close went through.
        Assert.Equal("eof-backend read 100016 bytes then EOF", reply);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Forwarder_BackendResets_ClientSeesReset(string mode)
    {
        await using var rig = await RelayRig.StartAsync(mode, "rst-backend");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(rig.Endpoint, cts.Token);
        await client.SendAsync("RESET"u8.ToArray(), cts.Token);
        var buffer = new byte[64];
        var n = await client.ReceiveAsync(buffer, cts.Token);
        Assert.Equal("rst-backend resetting", Encoding.ASCII.GetString(buffer, 0, n));
        await client.SendAsync("GO"u8.ToArray(), cts.Token);
        var e = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            while (await client.ReceiveAsync(buffer, cts.Token) > 0)
            {
            }
        });
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Forwarder_ClientResets_BackendSeesReset(string mode)
    {
        await using var rig = await RelayRig.StartAsync(mode, "watch-backend");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(rig.Endpoint, cts.Token);
        await client.SendAsync("WATCH"u8.ToArray(), cts.Token);
        var buffer = new byte[64];
        var n = await client.ReceiveAsync(buffer, cts.Token);
        Assert.Equal("watch-backend watching", Encoding.ASCII.GetString(buffer, 0, n));
        client.LingerState = new LingerOption(true, 0);
        client.Dispose();
        Assert.Equal("reset", await rig.WatchOutcome.Task.WaitAsync(cts.Token));
    }

    [Fact]
    public async Task Forwarder_DeadBackend_ClientSeesReset()
    {
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var deadEndpoint = (IPEndPoint)closed.LocalEndPoint!;
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        await using var forwarder = new TcpForwarder(listener, async ct =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await s.ConnectAsync(deadEndpoint, ct);
                return s;
            }
            catch
            {
                s.Dispose();
                throw;
            }
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!, cts.Token);
        var e = await Assert.ThrowsAsync<SocketException>(async () => await client.ReceiveAsync(new byte[16], cts.Token));
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Relay_CanceledMidStream_EndsAsCanceled(string mode)
    {
        await using var relay = TcpRelay.Create(OptionsFor(mode));
        var (a1, a2) = await ConnectedPairAsync();
        var (b1, b2) = await ConnectedPairAsync();
        using (a1)
        using (a2)
        using (b1)
        using (b2)
        {
            using var stop = new CancellationTokenSource();
            var run = relay.RunAsync(a2, b1, stop.Token);
            await a1.SendAsync("ping"u8.ToArray());
            var buffer = new byte[16];
            Assert.Equal(4, await b2.ReceiveAsync(buffer));
            await stop.CancelAsync();
            Assert.Equal(RelayOutcome.Canceled, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        }
    }

    [Fact]
    public async Task RunStreamsAsync_NetworkStreams_HalfCloseAndChecksums()
    {
        var (a1, a2) = await ConnectedPairAsync();
        var (b1, b2) = await ConnectedPairAsync();
        using (a1)
        using (b2)
        {
            using var left = new NetworkStream(a2, ownsSocket: true);
            using var right = new NetworkStream(b1, ownsSocket: true);
            var run = TcpRelay.RunStreamsAsync(left, right, 16 * 1024, CancellationToken.None);
            var payload = RandomNumberGenerator.GetBytes(3 << 20);
            var send = Task.Run(async () =>
            {
                await a1.SendAsync(payload);
                a1.Shutdown(SocketShutdown.Send);
            });
            var got = await ReadToEndAsync(b2, CancellationToken.None);
            await send;
            Assert.Equal(SHA256.HashData(payload), SHA256.HashData(got));
            await b2.SendAsync("stream-peer done"u8.ToArray());
            b2.Shutdown(SocketShutdown.Send);
            Assert.Equal("stream-peer done", Encoding.ASCII.GetString(await ReadToEndAsync(a1, CancellationToken.None)));
            Assert.Equal(RelayOutcome.Completed, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        }
    }

    internal static async Task<(Socket Client, Socket Server)> ConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        return (client, server);
    }

    internal static async Task<byte[]> ReadToEndAsync(Socket socket, CancellationToken ct)
    {
        var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, ct)) > 0)
        {
            all.Write(buffer, 0, n);
        }
        return all.ToArray();
    }
}

/// <summary>The outcome of one <see cref="RelayRig.ExchangeAsync"/>.</summary>
internal sealed record Exchange(string BackendName, string ClientSentHash, string ClientReceivedHash, string BackendSentHash, string BackendReceivedHash, long BackendReceivedBytes);

/// <summary>
/// A named backend on 127.0.0.1 and a forwarder in front of it. The backend speaks a tiny protocol chosen by the
/// client's first 5 bytes: EXCHG (stream both ways, then report), REPLY (reply after EOF), RESET, WATCH.
/// </summary>
internal sealed class RelayRig : IAsyncDisposable
{
    private readonly Socket _backend;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private readonly Dictionary<int, TaskCompletionSource<(string Sent, string Received, long Bytes)>> _exchanges = [];
    private int _nextId;

    private readonly TcpRelay _relay;

    private RelayRig(string name, Socket backend, TcpRelay relay, TcpForwarder forwarder, IPEndPoint endpoint)
    {
        Name = name;
        _backend = backend;
        _relay = relay;
        Forwarder = forwarder;
        Endpoint = endpoint;
        _accept = Task.Run(AcceptLoopAsync);
    }

    public string Name { get; }

    public TcpForwarder Forwarder { get; }

    public IPEndPoint Endpoint { get; }

    public TaskCompletionSource<string> WatchOutcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static Task<RelayRig> StartAsync(string mode, string name)
    {
        var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        backend.Listen(512);
        var backendEndpoint = (IPEndPoint)backend.LocalEndPoint!;
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(512);
        var endpoint = (IPEndPoint)listener.LocalEndPoint!;
        var relay = TcpRelay.Create(TcpRelayTests.OptionsFor(mode));
        var forwarder = new TcpForwarder(listener, async ct =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await s.ConnectAsync(backendEndpoint, ct);
                return s;
            }
            catch
            {
                s.Dispose();
                throw;
            }
        }, relay);
        return Task.FromResult(new RelayRig(name, backend, relay, forwarder, endpoint));
    }

    /// <summary>Client sends <paramref name="clientBytes"/> random bytes while the backend sends <paramref name="backendBytes"/>.</summary>
    public async Task<Exchange> ExchangeAsync(int clientBytes, int backendBytes)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(Endpoint, cts.Token);
        var id = Interlocked.Increment(ref _nextId);
        var done = new TaskCompletionSource<(string, string, long)>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_exchanges)
        {
            _exchanges[id] = done;
        }
        var header = new byte[13];
        "EXCHG"u8.CopyTo(header);
        BitConverter.TryWriteBytes(header.AsSpan(5), id);
        BitConverter.TryWriteBytes(header.AsSpan(9), backendBytes);
        await client.SendAsync(header, cts.Token);
        var payload = RandomNumberGenerator.GetBytes(clientBytes);
        var send = Task.Run(async () =>
        {
            for (var sent = 0; sent < payload.Length;)
            {
                sent += await client.SendAsync(payload.AsMemory(sent, Math.Min(100_000, payload.Length - sent)), cts.Token);
            }
            client.Shutdown(SocketShutdown.Send);
        });
        var received = await TcpRelayTests.ReadToEndAsync(client, cts.Token);
        await send;
        var (backendSent, backendReceived, bytes) = await done.Task.WaitAsync(cts.Token);
        var nameLength = Array.IndexOf(received, (byte)'\n');
        var name = Encoding.ASCII.GetString(received, 0, nameLength);
        return new Exchange(name, Convert.ToHexString(SHA256.HashData(payload)), Convert.ToHexString(SHA256.HashData(received.AsSpan(nameLength + 1))), backendSent, backendReceived, bytes);
    }

    public async ValueTask DisposeAsync()
    {
        await Forwarder.DisposeAsync();
        await _relay.DisposeAsync();
        await _stop.CancelAsync();
        _backend.Dispose();
        await _accept;
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        var connections = new List<Task>();
        while (true)
        {
            Socket s;
            try
            {
                s = await _backend.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                break;
            }
            connections.Add(Task.Run(() => ServeAsync(s)));
        }
        await Task.WhenAll(connections);
    }

    private async Task ServeAsync(Socket s)
    {
        using (s)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                var verb = new byte[5];
                await ReadExactlyAsync(s, verb, cts.Token);
                switch (Encoding.ASCII.GetString(verb))
                {
                    case "EXCHG":
                        await ExchangeAsync(s, cts.Token);
                        break;
                    case "REPLY":
                        var rest = await TcpRelayTests.ReadToEndAsync(s, cts.Token);
                        await s.SendAsync(Encoding.ASCII.GetBytes($"{Name} read {rest.Length + 5} bytes then EOF"), cts.Token);
                        s.Shutdown(SocketShutdown.Send);
                        break;
                    case "RESET":
                        await s.SendAsync(Encoding.ASCII.GetBytes($"{Name} resetting"), cts.Token);
                        // Reset only once the client confirms it has the reply (no timing guess).
                        await ReadExactlyAsync(s, new byte[2], cts.Token);
                        s.LingerState = new LingerOption(true, 0);
                        break;
                    case "WATCH":
                        await s.SendAsync(Encoding.ASCII.GetBytes($"{Name} watching"), cts.Token);
                        try
                        {
                            var n = await s.ReceiveAsync(new byte[16], cts.Token);
                            WatchOutcome.TrySetResult(n == 0 ? "eof" : "data");
                        }
                        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
                        {
                            WatchOutcome.TrySetResult("reset");
                        }
                        break;
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task ExchangeAsync(Socket s, CancellationToken ct)
    {
        var header = new byte[8];
        await ReadExactlyAsync(s, header, ct);
        var id = BitConverter.ToInt32(header, 0);
        var size = BitConverter.ToInt32(header, 4);
        var payload = RandomNumberGenerator.GetBytes(size);
        var send = Task.Run(async () =>
        {
            await s.SendAsync(Encoding.ASCII.GetBytes(Name + "\n"), ct);
            for (var sent = 0; sent < payload.Length;)
            {
                sent += await s.SendAsync(payload.AsMemory(sent, Math.Min(100_000, payload.Length - sent)), ct);
            }
            s.Shutdown(SocketShutdown.Send);
        }, ct);
        var received = await TcpRelayTests.ReadToEndAsync(s, ct);
        await send;
        TaskCompletionSource<(string, string, long)> done;
        lock (_exchanges)
        {
            done = _exchanges[id];
            _exchanges.Remove(id);
        }
        done.TrySetResult((Convert.ToHexString(SHA256.HashData(payload)), Convert.ToHexString(SHA256.HashData(received)), received.Length));
    }

    private static async Task ReadExactlyAsync(Socket s, byte[] buffer, CancellationToken ct)
    {
        for (var got = 0; got < buffer.Length;)
        {
            var n = await s.ReceiveAsync(buffer.AsMemory(got), ct);
            if (n == 0)
            {
                throw new SocketException((int)SocketError.ConnectionReset);
            }
            got += n;
        }
    }
}
