using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Switchboard.Dns.Server;
using Switchboard.Dns.Wire;

namespace Switchboard.Dns.Tests.Fixtures;

/// <summary>
/// A tiny upstream resolver on 127.0.0.1 (UDP and TCP on one port) with a fixed table of records, so forwarding
/// tests never touch the machine's resolver. Counts questions per name; truncates UDP answers larger than the
/// asker's EDNS size, as a real server does.
/// </summary>
public sealed class FakeResolver : IAsyncDisposable
{
    private readonly Socket _udp;
    private readonly Socket _tcp;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.OrdinalIgnoreCase);
    private readonly Task _udpLoop;
    private readonly Task _tcpLoop;

    public FakeResolver()
    {
        (_udp, _tcp) = DnsServer.Bind(ListenAddress.Parse("127.0.0.1:0"));
        EndPoint = (IPEndPoint)_udp.LocalEndPoint!;
        _udpLoop = UdpLoopAsync();
        _tcpLoop = TcpLoopAsync();
    }

    public IPEndPoint EndPoint { get; }

    public string Address => $"127.0.0.1:{EndPoint.Port}";

    /// <summary>Records by lower-case name (no trailing dot) and type; "" data means NODATA, a missing name NXDOMAIN.</summary>
    public ConcurrentDictionary<(string Name, ushort Type), (uint Ttl, byte[][] Rdata)> Records { get; } = new();

    /// <summary>When set, every question is relayed to this address instead (to build a forwarding loop).</summary>
    public IPEndPoint? RelayTo { get; set; }

    /// <summary>When set, nothing is answered (a dead upstream).</summary>
    public bool Silent { get; set; }

    public int Count(string name) => _counts.TryGetValue(name.TrimEnd('.'), out var n) ? n : 0;

    public int Total => _counts.Values.Sum();

    public void AddA(string name, uint ttl, params string[] addresses) =>
        Records[(name, DnsType.A)] = (ttl, [.. addresses.Select(a => IPAddress.Parse(a).GetAddressBytes())]);

    public void AddAaaa(string name, uint ttl, params string[] addresses) =>
        Records[(name, DnsType.AAAA)] = (ttl, [.. addresses.Select(a => IPAddress.Parse(a).GetAddressBytes())]);

    public void AddPtr(string name, uint ttl, string target) => Records[(name, DnsType.PTR)] = (ttl, [DnsName.Encode(target)]);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _udp.Dispose();
        _tcp.Dispose();
        try
        {
            await Task.WhenAll(_udpLoop, _tcpLoop);
        }
        catch (Exception)
        {
        }
    }

    private async Task UdpLoopAsync()
    {
        var buffer = new byte[65535];
        var response = new byte[65535];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            if (Silent)
            {
                continue;
            }
            if (RelayTo is { } relay)
            {
                _ = RelayAsync(buffer.AsMemory(0, r.ReceivedBytes).ToArray(), r.RemoteEndPoint, relay);
                continue;
            }
            var n = Answer(buffer.AsSpan(0, r.ReceivedBytes), response, tcp: false);
            if (n > 0)
            {
                await _udp.SendToAsync(response.AsMemory(0, n), SocketFlags.None, r.RemoteEndPoint);
            }
        }
    }

    private async Task RelayAsync(byte[] query, EndPoint client, IPEndPoint relay)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await s.ConnectAsync(relay);
        await s.SendAsync(query, SocketFlags.None);
        var buffer = new byte[65535];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            var n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            await _udp.SendToAsync(buffer.AsMemory(0, n), SocketFlags.None, client);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task TcpLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _tcp.AcceptAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                using var c = client;
                var len = new byte[2];
                if (await c.ReceiveAsync(len, SocketFlags.None) < 2)
                {
                    return;
                }
                var query = new byte[BinaryPrimitives.ReadUInt16BigEndian(len)];
                var got = 0;
                while (got < query.Length)
                {
                    var n = await c.ReceiveAsync(query.AsMemory(got), SocketFlags.None);
                    if (n == 0)
                    {
                        return;
                    }
                    got += n;
                }
                var response = new byte[65537];
                var length = Answer(query, response.AsSpan(2), tcp: true);
                BinaryPrimitives.WriteUInt16BigEndian(response, (ushort)length);
                await c.SendAsync(response.AsMemory(0, length + 2), SocketFlags.None);
            });
        }
    }

    private int Answer(ReadOnlySpan<byte> packet, Span<byte> response, bool tcp)
    {
        var q = default(DnsQuery);
        if (DnsQueryParser.Parse(packet, ref q) != ParseStatus.Ok)
        {
            return 0;
        }
        var name = DnsName.ToText(q.LowerNameWire).TrimEnd('.');
        _counts.AddOrUpdate(name, 1, (_, n) => n + 1);
        var w = new DnsMessageWriter(response, tcp ? 65535 : q.HasEdns ? q.EdnsPayload : 512);
        w.TryWriteQuestion(q.NameWire, q.QType, q.QClass);
        var rcode = DnsRcode.NoError;
        var exists = Records.Keys.Any(k => k.Name == name);
        if (Records.TryGetValue((name, q.QType), out var rr))
        {
            foreach (var data in rr.Rdata)
            {
                if (!w.TryAddRaw(DnsSection.Answer, NameRef.Question, q.QType, DnsClass.IN, rr.Ttl, data))
                {
                    w.Truncated = true;
                    break;
                }
            }
        }
        else
        {
            rcode = exists ? DnsRcode.NoError : DnsRcode.NXDomain;
            var zone = DnsName.Encode("example");
            w.TryAddSoa(DnsSection.Authority, new NameRef(zone), 3600, DnsName.Encode("ns.example"), DnsName.Encode("hostmaster.example"), 1, 7200, 1800, 86400, 30);
        }
        return w.Finish(q.Id, (ushort)(DnsFlags.QR | DnsFlags.RD | DnsFlags.RA | DnsFlags.AA), rcode);
    }
}
