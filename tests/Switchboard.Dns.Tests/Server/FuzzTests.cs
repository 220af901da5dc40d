using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Server;
using Switchboard.Dns.Tests.Fixtures;
using Switchboard.Dns.Wire;
using static Switchboard.Dns.Tests.Fixtures.Objects;

namespace Switchboard.Dns.Tests.Server;

/// <summary>
/// Random and mutated packets for a bounded time, straight into the handler chain and over the real UDP socket:
/// no exception may escape or even be caught on the packet path, every answer is a well-formed response to its
/// query, memory stays bounded (the forward cache is capped), and the server still answers afterwards.
/// </summary>
public sealed class FuzzTests
{
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(4);

    [Fact]
    public async Task Pipeline_RandomAndMutatedPackets_NoCrashNoLeak()
    {
        await using var upstream = new FakeResolver();
        upstream.AddA("example.org", 60, "192.0.2.1");
        var options = ClusterFixture.Options(PodsMode.Insecure, autopath: true, upstream.Address);
        options.CacheCapacity = 500;
        options.ForwardTimeout = TimeSpan.FromMilliseconds(200);
        await using var s = await InjectedServer.StartAsync(options, objects:
        [
            Namespace("default"), ClusterIp("default", "web", "10.96.0.9", ("http", 80, "TCP")),
            Headless("default", "h", false, ("http", 80, "TCP")),
            Slice("default", "h", "h-1", "IPv4", [("http", 80, "TCP")], Ep("10.244.0.5", "h-0"), Ep("10.244.0.6")),
            ExternalName("default", "ext", "example.org"), ExternalName("default", "loop", "loop.default.svc.cluster.local"),
            InjectedServer.Pod("default", "client", "127.0.0.1"),
        ]);
        var seeds = Corpus();
        var random = new Random(20260515);
        var response = new byte[65535];
        var ctx = new RequestContext(false, false, IpKey.From(IPAddress.Loopback), true);
        var pipeline = s.Server.Pipeline;

        // Warm up once so one-time allocations (caches, JIT) do not count as growth.
        await RunAsync(TimeSpan.FromMilliseconds(500));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var packets = await RunAsync(Duration);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var growth = GC.GetTotalMemory(forceFullCollection: true) - before;

        Assert.True(packets > 1000, $"only {packets} packets in {Duration}");
        Assert.Equal(0, s.Server.Metrics.Panics);
        Assert.True(growth < 32 << 20, $"managed heap grew by {growth >> 20} MiB over {packets} packets");

        // The same over the socket, then a normal query still works.
        using (var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            udp.Connect(new IPEndPoint(IPAddress.Loopback, s.Port));
            for (var i = 0; i < 3000; i++)
            {
                udp.Send(Mutate(seeds[random.Next(seeds.Count)], random));
            }
        }
        var r = await Dig.QueryAsync(s.Port, "web.default.svc.cluster.local", "A");
        Assert.Equal("10.96.0.9", Assert.Single(r.Answer).Data);
        Assert.Equal(0, s.Server.Metrics.Panics);

        async Task<int> RunAsync(TimeSpan duration)
        {
            var n = 0;
            var end = DateTime.UtcNow + duration;
            while (DateTime.UtcNow < end)
            {
                var packet = random.Next(4) == 0 ? RandomBytes(random) : Mutate(seeds[random.Next(seeds.Count)], random);
                var length = pipeline.Handle(packet, response, ctx);
                if (length == DnsPipeline.NeedsAsync)
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    length = await pipeline.HandleAsync(packet, response, ctx, 0, cts.Token);
                }
                CheckResponse(packet, response.AsSpan(0, Math.Max(length, 0)), length);
                n++;
            }
            return n;
        }
    }

    private static void CheckResponse(byte[] query, ReadOnlySpan<byte> answer, int length)
    {
        Assert.InRange(length, 0, 65535);
        if (length == 0)
        {
            return;
        }
        Assert.True(length >= 12, "a response has a header");
        Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(query), BinaryPrimitives.ReadUInt16BigEndian(answer));
        Assert.True((answer[2] & 0x80) != 0, "QR set");
        Assert.True(length <= DnsLimits.DefaultEdnsPayload, "a UDP answer never exceeds the server's EDNS size");
        // Every record in it must parse.
        var pos = 12;
        int qd = DnsName.U16(answer, 4), rr = DnsName.U16(answer, 6) + DnsName.U16(answer, 8) + DnsName.U16(answer, 10);
        for (var i = 0; i < qd; i++)
        {
            Assert.True(DnsName.TrySkip(answer, ref pos));
            pos += 4;
        }
        for (var i = 0; i < rr; i++)
        {
            Assert.True(DnsQueryParser.SkipRecord(answer, ref pos, out _), "records parse");
        }
        Assert.Equal(length, pos);
    }

    private static List<byte[]> Corpus()
    {
        string[] names =
        [
            "web.default.svc.cluster.local", "h.default.svc.cluster.local", "_http._tcp.h.default.svc.cluster.local", "h-0.h.default.svc.cluster.local",
            "ext.default.svc.cluster.local", "loop.default.svc.cluster.local", "cluster.local", "dns-version.cluster.local", "9.0.96.10.in-addr.arpa",
            "10-0-0-1.default.pod.cluster.local", "example.org", "google.com.default.svc.cluster.local", "nosuch.default.svc.cluster.local",
            "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa",
        ];
        ushort[] types = [DnsType.A, DnsType.AAAA, DnsType.SRV, DnsType.PTR, DnsType.TXT, DnsType.ANY, DnsType.SOA, DnsType.NS, DnsType.CNAME, 65];
        var corpus = new List<byte[]>();
        foreach (var name in names)
        {
            foreach (var type in types)
            {
                corpus.Add(RawDns.Query(name, type));
                corpus.Add(RawDns.Query(name, type, ednsVersion: 0, ednsSize: 512));
            }
        }
        return corpus;
    }

    private static byte[] RandomBytes(Random random)
    {
        var b = new byte[random.Next(0, 600)];
        random.NextBytes(b);
        if (b.Length > 3 && random.Next(2) == 0)
        {
            b[2] &= 0x7F; // mostly queries, so parsing goes deep
        }
        return b;
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var b = seed.ToList();
        var edits = random.Next(1, 6);
        for (var e = 0; e < edits && b.Count > 0; e++)
        {
            switch (random.Next(7))
            {
                case 0:
                    b[random.Next(b.Count)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    b[random.Next(b.Count)] = (byte)random.Next(256);
                    break;
                case 2:
                    b.RemoveRange(random.Next(b.Count), 1);
                    break;
                case 3:
                    b.Insert(random.Next(b.Count), (byte)random.Next(256));
                    break;
                case 4:
                    b = b.Take(random.Next(b.Count)).ToList();
                    break;
                case 5:
                    if (b.Count >= 12)
                    {
                        var at = 4 + (2 * random.Next(4)); // a section count
                        b[at] = (byte)random.Next(3);
                        b[at + 1] = (byte)random.Next(256);
                    }
                    break;
                default:
                    var p = random.Next(12, Math.Max(13, b.Count));
                    if (p + 1 < b.Count)
                    {
                        b[p] = (byte)(0xC0 | random.Next(4)); // a compression pointer somewhere
                        b[p + 1] = (byte)random.Next(256);
                    }
                    break;
            }
        }
        if (b.Count > 2)
        {
            b[2] &= 0x7F;
        }
        return [.. b];
    }
}
