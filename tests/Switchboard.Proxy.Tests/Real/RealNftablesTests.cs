using Switchboard.TestKit.Netns;
using System.Net;
using System.Net.Sockets;
using System.Text;
using k8s.Models;
using Switchboard.Netfilter;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Nftables;
using Switchboard.Proxy.Tests.Nftables;
using static Switchboard.Proxy.Tests.Builders;

namespace Switchboard.Proxy.Tests.Real;

/// <summary>
/// The generator's transactions on real nft 1.0.6 in namespaces these tests make (root, as CI). Every transaction
/// goes to the kernel and to the fake (they must agree), and traffic checks who answered.
/// </summary>
public sealed class RealNftablesTests
{
    private static V1Service[] RepresentativeServices() =>
    [
        Service("ns1", "plain", "172.30.0.41", Port("p80", 80), Port("dns", 53, "UDP")).With(s =>
        {
            s.ClusterIPs = ["172.30.0.41", "fd00:30::41"];
            s.IpFamilies = ["IPv4", "IPv6"];
            s.IpFamilyPolicy = "RequireDualStack";
        }),
        Service("ns2", "sticky", "172.30.0.42", Port("p80", 80)).With(s =>
        {
            s.SessionAffinity = "ClientIP";
            s.SessionAffinityConfig = new V1SessionAffinityConfig { ClientIP = new V1ClientIPConfig { TimeoutSeconds = 600 } };
        }),
        Service("ns3", "lb", "172.30.0.43", Port("p80", 80, nodePort: 30080)).With(s =>
        {
            s.Type = "LoadBalancer";
            s.ExternalTrafficPolicy = "Local";
            s.HealthCheckNodePort = 30999;
            s.LoadBalancerSourceRanges = ["203.0.113.0/25", "2001:db8:1::/64"];
            s.ExternalIPs = ["192.168.99.22"];
            s.ClusterIPs = ["172.30.0.43", "fd00:30::43"];
            s.IpFamilies = ["IPv4", "IPv6"];
        }).LoadBalancerIps("5.6.7.8", "2001:db8:ff::8"),
        Service("ns4", "empty", "172.30.0.44", Port("p80", 80, nodePort: 30081)).With(s => s.Type = "NodePort"),
        Service("ns5", "itp", "172.30.0.45", Port("p80", 80)).With(s => s.InternalTrafficPolicy = "Local"),
    ];

    private static V1EndpointSlice[] RepresentativeSlices() =>
    [
        Slice("ns1", "plain", "plain-4", "IPv4", [EpPort("p80", 8080), EpPort("dns", 5353, "UDP")], Ep("10.180.0.1", "other"), Ep("10.180.0.2", ProxierHarness.NodeName)),
        Slice("ns1", "plain", "plain-6", "IPv6", [EpPort("p80", 8080), EpPort("dns", 5353, "UDP")], Ep("fd00:10::1", "other")),
        Slice("ns2", "sticky", "sticky-4", "IPv4", [EpPort("p80", 80)], Ep("10.180.0.3", "other"), Ep("10.180.0.4", "other")),
        Slice("ns3", "lb", "lb-4", "IPv4", [EpPort("p80", 80)], Ep("10.180.0.5", ProxierHarness.NodeName), Ep("10.180.0.6", "other", ready: false, serving: true, terminating: true)),
        Slice("ns3", "lb", "lb-6", "IPv6", [EpPort("p80", 80)], Ep("fd00:10::5", "other")),
        Slice("ns5", "itp", "itp-4", "IPv4", [EpPort("p80", 80)], Ep("10.180.0.7", "other")),
    ];

    [Fact]
    public async Task Generator_RepresentativeServices_RealNftAcceptsFullPartialAndCleanupSyncs()
    {
        var prefix = TestNetns.NewPrefix();
        await using var node = await TestNetns.CreateAsync(prefix + "-n");
        foreach (var family in new[] { IpFamily.IPv4, IpFamily.IPv6 })
        {
            TeeNftables? tee = null;
            var h = new ProxierHarness(family,
                o => o with { TableName = prefix + "-proxy", NodePortAddresses = family == IpFamily.IPv4 ? null : o.NodePortAddresses },
                fake => tee = new TeeNftables(new NftablesRunner(node.Name), fake));
            h.Proxier.OnServiceCidrsChanged([IPNetwork.Parse("172.30.0.0/16"), IPNetwork.Parse("fd00:30::/112")]);
            h.Add(RepresentativeServices()).Add(RepresentativeSlices());
            Assert.True((await h.SyncAsync()).FullSync);

            // Partial syncs: endpoints change, a service goes away, affinity set removed, then stale chains deleted.
            h.Proxier.OnEndpointSliceUpdate(Slice("ns2", "sticky", "sticky-4", "IPv4", [EpPort("p80", 80)], Ep("10.180.0.3", "other")));
            h.Proxier.OnEndpointSliceUpdate(Slice("ns1", "plain", "plain-6", "IPv6", [EpPort("p80", 8080)], Ep("fd00:10::1", "other"), Ep("fd00:10::2", "other")));
            Assert.False((await h.SyncAsync()).FullSync);
            h.Proxier.OnServiceDelete(RepresentativeServices()[2]);
            await h.SyncAsync();
            h.Time.Advance(TimeSpan.FromSeconds(2));
            await h.SyncAsync();

            var real = new NftablesRunner(node.Name);
            var realChains = await real.ListAsync(h.Proxier.Table, NftObjectKind.Chain, CancellationToken.None);
            Assert.Equal(h.Table.Chains.Keys.Order(StringComparer.Ordinal), realChains.Order(StringComparer.Ordinal));
            Assert.DoesNotContain(realChains, c => c.Contains("ns3/lb", StringComparison.Ordinal));
            var realSets = await real.ListAsync(h.Proxier.Table, NftObjectKind.Set, CancellationToken.None);
            Assert.Equal(family == IpFamily.IPv4 ? 1 : 0, realSets.Count(s => s.StartsWith("affinity-", StringComparison.Ordinal)));
            Assert.True(tee!.Scripts.Count >= 4);

            await h.Proxier.CleanupAsync(CancellationToken.None);
            await Assert.ThrowsAsync<NftablesException>(() => real.ListAsync(h.Proxier.Table, NftObjectKind.Chain, CancellationToken.None));
        }
    }

    [Fact]
    public async Task ClusterIp_TcpFromTheNode_ReachesTheEndpointListener_AndNoEndpointsIsRefused()
    {
        var prefix = TestNetns.NewPrefix();
        await using var node = await TestNetns.CreateAsync(prefix + "-n");
        await using var server = await TestNetns.CreateAsync(prefix + "-s");
        await TestNetns.ShAsync("ip", "link", "add", prefix + "-a", "netns", node.Name, "type", "veth", "peer", "name", prefix + "-b", "netns", server.Name);
        await node.ExecAsync("ip", "addr", "add", "10.250.0.1/24", "dev", prefix + "-a");
        await node.ExecAsync("ip", "link", "set", prefix + "-a", "up");
        await node.ExecAsync("ip", "route", "add", "172.30.0.0/16", "dev", prefix + "-a");
        await server.ExecAsync("ip", "addr", "add", "10.250.0.2/24", "dev", prefix + "-b");
        await server.ExecAsync("ip", "link", "set", prefix + "-b", "up");

        var h = new ProxierHarness(IpFamily.IPv4,
            o => o with
            {
                TableName = prefix + "-proxy",
                NodeIp = IPAddress.Parse("10.250.0.1"),
                NodePortAddresses = [IPAddress.Parse("10.250.0.1")],
                ClusterCidrs = [IPNetwork.Parse("10.244.0.0/16")],
            },
            fake => new TeeNftables(new NftablesRunner(node.Name), fake));
        h.Add(Service("ns1", "web", "172.30.0.10", Port("http", 80)), Service("ns1", "none", "172.30.0.11", Port("http", 80)));
        h.Add(Slice("ns1", "web", "web-a", "IPv4", [EpPort("http", 8080)], Ep("10.250.0.2", "other")));
        await h.SyncAsync();

        using var listener = server.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Parse("10.250.0.2"), 8080));
        listener.Listen();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var serve = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptAsync(cts.Token);
            var reply = $"endpoint {server.Name} at {accepted.LocalEndPoint} saw {accepted.RemoteEndPoint}";
            await accepted.SendAsync(Encoding.ASCII.GetBytes(reply), cts.Token);
            accepted.Shutdown(SocketShutdown.Send);
        });

        using (var client = node.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await client.ConnectAsync(new IPEndPoint(IPAddress.Parse("172.30.0.10"), 80), cts.Token);
            var received = new MemoryStream();
            var chunk = new byte[256];
            int read;
            while ((read = await client.ReceiveAsync(chunk, cts.Token)) > 0)
            {
                received.Write(chunk, 0, read);
            }

            // Who answered: the endpoint in the server namespace, seeing the node's (masqueraded) address.
            Assert.StartsWith($"endpoint {server.Name} at 10.250.0.2:8080 saw 10.250.0.1:", Encoding.ASCII.GetString(received.ToArray()), StringComparison.Ordinal);
        }

        await serve;

        // The same through the tracer, for the record of what the kernel just did.
        h.AssertFlows(new FlowCase("node to cluster IP", "10.250.0.1", "172.30.0.10", 80, "10.250.0.2:8080", Masq: true, Origin: Switchboard.Netfilter.Tracing.PacketOrigin.Node));

        foreach (var (ip, port) in new[] { ("172.30.0.11", 80), ("172.30.0.10", 81) })
        {
            // No endpoints, or a port the Service does not have: REJECT, which TCP reports as connection refused.
            using var client = node.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var ex = await Assert.ThrowsAsync<SocketException>(async () => await client.ConnectAsync(new IPEndPoint(IPAddress.Parse(ip), port), cts.Token));
            Assert.Equal(SocketError.ConnectionRefused, ex.SocketErrorCode);
        }
    }

    [Fact]
    public async Task AgentRestart_NewProxierTakesOverExistingTable_AndRemovesLeftovers()
    {
        var prefix = TestNetns.NewPrefix();
        await using var node = await TestNetns.CreateAsync(prefix + "-n");
        ProxierHarness Make() => new(IpFamily.IPv4, o => o with { TableName = prefix + "-proxy" }, fake => new TeeNftables(new NftablesRunner(node.Name), fake));

        var first = Make();
        first.Add(RepresentativeServices()).Add(RepresentativeSlices());
        await first.SyncAsync();

        // The restarted agent sees only some of the Services; its fake starts from what the kernel has.
        var second = Make();
        second.Nft.Reset(first.Nft.Snapshot);
        second.Add(RepresentativeServices()[0]).Add(RepresentativeSlices()[0]);
        Assert.True((await second.SyncAsync()).FullSync);
        second.Time.Advance(TimeSpan.FromSeconds(2));
        await second.SyncAsync();

        var real = await new NftablesRunner(node.Name).ListAsync(second.Proxier.Table, NftObjectKind.Chain, CancellationToken.None);
        Assert.Equal(second.Table.Chains.Keys.Order(StringComparer.Ordinal), real.Order(StringComparer.Ordinal));
        Assert.DoesNotContain(real, c => c.Contains("ns2/", StringComparison.Ordinal) || c.Contains("ns3/", StringComparison.Ordinal));
        Assert.Contains(real, c => c.Contains("ns1/plain", StringComparison.Ordinal));
        var sets = await new NftablesRunner(node.Name).ListAsync(second.Proxier.Table, NftObjectKind.Set, CancellationToken.None);
        Assert.DoesNotContain(sets, s => s.StartsWith("affinity-", StringComparison.Ordinal));
    }

    private static Task<string> ServeOnceAsync(Socket listener, string name, CancellationToken ct) => Task.Run(async () =>
    {
        using var accepted = await listener.AcceptAsync(ct);
        var reply = $"{name} saw {((IPEndPoint)accepted.RemoteEndPoint!).Address}";
        await accepted.SendAsync(Encoding.ASCII.GetBytes(reply), ct);
        accepted.Shutdown(SocketShutdown.Send);
        return reply;
    }, ct);

    private static async Task<string> AskAsync(TestNetns ns, string ip, int port, CancellationToken ct)
    {
        var address = IPAddress.Parse(ip);
        using var client = ns.CreateSocket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(new IPEndPoint(address, port), ct);
        var received = new MemoryStream();
        var chunk = new byte[256];
        int read;
        while ((read = await client.ReceiveAsync(chunk, ct)) > 0)
        {
            received.Write(chunk, 0, read);
        }

        return Encoding.ASCII.GetString(received.ToArray());
    }

    [Fact]
    public async Task ExternalClient_NodePortAndLoadBalancer_ClusterMasqueradesLocalKeepsSource()
    {
        var prefix = TestNetns.NewPrefix();
        await using var client = await TestNetns.CreateAsync(prefix + "-c");
        await using var node = await TestNetns.CreateAsync(prefix + "-n");
        await using var pod = await TestNetns.CreateAsync(prefix + "-p");

        // client 10.251.0.2 -- 10.251.0.1 node 10.250.0.1 -- 10.250.0.2 pod (the endpoint, on this node)
        await TestNetns.ShAsync("ip", "link", "add", prefix + "-ca", "netns", client.Name, "type", "veth", "peer", "name", prefix + "-cb", "netns", node.Name);
        await TestNetns.ShAsync("ip", "link", "add", prefix + "-pa", "netns", node.Name, "type", "veth", "peer", "name", prefix + "-pb", "netns", pod.Name);
        await client.ExecAsync("ip", "addr", "add", "10.251.0.2/24", "dev", prefix + "-ca");
        await client.ExecAsync("ip", "link", "set", prefix + "-ca", "up");
        await client.ExecAsync("ip", "route", "add", "default", "via", "10.251.0.1");
        await node.ExecAsync("ip", "addr", "add", "10.251.0.1/24", "dev", prefix + "-cb");
        await node.ExecAsync("ip", "addr", "add", "10.250.0.1/24", "dev", prefix + "-pa");
        await node.ExecAsync("ip", "link", "set", prefix + "-cb", "up");
        await node.ExecAsync("ip", "link", "set", prefix + "-pa", "up");
        await node.ExecAsync("sysctl", "-qw", "net.ipv4.ip_forward=1"); // this test's own namespace only
        await pod.ExecAsync("ip", "addr", "add", "10.250.0.2/24", "dev", prefix + "-pb");
        await pod.ExecAsync("ip", "link", "set", prefix + "-pb", "up");
        await pod.ExecAsync("ip", "route", "add", "default", "via", "10.250.0.1");

        var h = new ProxierHarness(IpFamily.IPv4,
            o => o with
            {
                TableName = prefix + "-proxy",
                NodeName = "node-a",
                NodeIp = IPAddress.Parse("10.251.0.1"),
                NodePortAddresses = [IPAddress.Parse("10.251.0.1")],
                ClusterCidrs = [IPNetwork.Parse("10.250.0.0/24")],
            },
            fake => new TeeNftables(new NftablesRunner(node.Name), fake));
        h.Add(
            Service("ns1", "cluster", "172.30.0.20", Port("http", 80, nodePort: 30080)).With(s => s.Type = "NodePort"),
            Service("ns1", "local", "172.30.0.21", Port("http", 80, nodePort: 30081)).With(s =>
            {
                s.Type = "LoadBalancer";
                s.ExternalTrafficPolicy = "Local";
                s.HealthCheckNodePort = 30999;
            }).LoadBalancerIps("10.252.0.100"));
        h.Add(
            Slice("ns1", "cluster", "cluster-a", "IPv4", [EpPort("http", 8080)], Ep("10.250.0.2", "node-a")),
            Slice("ns1", "local", "local-a", "IPv4", [EpPort("http", 8081)], Ep("10.250.0.2", "node-a")));
        await h.SyncAsync();
        await client.ExecAsync("ip", "route", "add", "10.252.0.100/32", "via", "10.251.0.1");

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var l8080 = pod.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        l8080.Bind(new IPEndPoint(IPAddress.Parse("10.250.0.2"), 8080));
        l8080.Listen();
        using var l8081 = pod.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        l8081.Bind(new IPEndPoint(IPAddress.Parse("10.250.0.2"), 8081));
        l8081.Listen();

        // eTP Cluster NodePort: the endpoint answers, and sees the node (masqueraded).
        var serve = ServeOnceAsync(l8080, pod.Name + ":8080", cts.Token);
        Assert.Equal(pod.Name + ":8080 saw 10.250.0.1", await AskAsync(client, "10.251.0.1", 30080, cts.Token));
        await serve;

        // eTP Local NodePort: the local endpoint answers and sees the real client.
        serve = ServeOnceAsync(l8081, pod.Name + ":8081", cts.Token);
        Assert.Equal(pod.Name + ":8081 saw 10.251.0.2", await AskAsync(client, "10.251.0.1", 30081, cts.Token));
        await serve;

        // eTP Local LoadBalancer IP routed to the node: same, source kept.
        serve = ServeOnceAsync(l8081, pod.Name + ":8081", cts.Token);
        Assert.Equal(pod.Name + ":8081 saw 10.251.0.2", await AskAsync(client, "10.252.0.100", 80, cts.Token));
        await serve;

        // The tracer agrees with what the kernel did.
        h.AssertFlows(
            new FlowCase("NodePort eTP Cluster", "10.251.0.2", "10.251.0.1", 30080, "10.250.0.2:8080", Masq: true),
            new FlowCase("NodePort eTP Local", "10.251.0.2", "10.251.0.1", 30081, "10.250.0.2:8081", Masq: false),
            new FlowCase("LB IP eTP Local", "10.251.0.2", "10.252.0.100", 80, "10.250.0.2:8081", Masq: false));
    }
    [Fact]
    public async Task Hairpin_PodThroughItsOwnService_IsMasqueradedToTheNode_DualStackAndAffinity()
    {
        var prefix = TestNetns.NewPrefix();
        await using var node = await TestNetns.CreateAsync(prefix + "-n");
        await using var pod = await TestNetns.CreateAsync(prefix + "-p");

        // node 10.250.0.1 / fd00:250::1 -- 10.250.0.2 / fd00:250::2 pod (the only endpoint, reaching its own Services)
        await TestNetns.ShAsync("ip", "link", "add", prefix + "-pa", "netns", node.Name, "type", "veth", "peer", "name", prefix + "-pb", "netns", pod.Name);
        await node.ExecAsync("ip", "addr", "add", "10.250.0.1/24", "dev", prefix + "-pa");
        await node.ExecAsync("ip", "addr", "add", "fd00:250::1/64", "dev", prefix + "-pa", "nodad");
        await node.ExecAsync("ip", "link", "set", prefix + "-pa", "up");
        await node.ExecAsync("sysctl", "-qw", "net.ipv4.ip_forward=1"); // this test's own namespace only
        await node.ExecAsync("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
        await pod.ExecAsync("ip", "addr", "add", "10.250.0.2/24", "dev", prefix + "-pb");
        await pod.ExecAsync("ip", "addr", "add", "fd00:250::2/64", "dev", prefix + "-pb", "nodad");
        await pod.ExecAsync("ip", "link", "set", prefix + "-pb", "up");
        await pod.ExecAsync("ip", "route", "add", "default", "via", "10.250.0.1");
        await pod.ExecAsync("ip", "-6", "route", "add", "default", "via", "fd00:250::1");

        var services = new[]
        {
            Service("ns1", "plain", "172.30.0.30", Port("http", 80)).With(s =>
            {
                s.ClusterIPs = ["172.30.0.30", "fd00:30::30"];
                s.IpFamilies = ["IPv4", "IPv6"];
                s.IpFamilyPolicy = "RequireDualStack";
            }),
            Service("ns1", "sticky", "172.30.0.31", Port("http", 80)).With(s =>
            {
                s.SessionAffinity = "ClientIP";
                s.SessionAffinityConfig = new V1SessionAffinityConfig { ClientIP = new V1ClientIPConfig { TimeoutSeconds = 600 } };
            }),
        };
        var h4 = new ProxierHarness(IpFamily.IPv4,
            o => o with { TableName = prefix + "-proxy", NodeName = "node-a", NodeIp = IPAddress.Parse("10.250.0.1"), ClusterCidrs = [IPNetwork.Parse("10.250.0.0/24")] },
            fake => new TeeNftables(new NftablesRunner(node.Name), fake));
        var h6 = new ProxierHarness(IpFamily.IPv6,
            o => o with { TableName = prefix + "-proxy", NodeName = "node-a", NodeIp = IPAddress.Parse("fd00:250::1"), ClusterCidrs = [IPNetwork.Parse("fd00:250::/64")] },
            fake => new TeeNftables(new NftablesRunner(node.Name), fake));
        foreach (var h in new[] { h4, h6 })
        {
            h.Add(services);
            h.Add(
                Slice("ns1", "plain", "plain-4", "IPv4", [EpPort("http", 8080)], Ep("10.250.0.2", "node-a")),
                Slice("ns1", "plain", "plain-6", "IPv6", [EpPort("http", 8080)], Ep("fd00:250::2", "node-a")),
                Slice("ns1", "sticky", "sticky-4", "IPv4", [EpPort("http", 8081)], Ep("10.250.0.2", "node-a")));
            await h.SyncAsync();
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var l4 = pod.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        l4.Bind(new IPEndPoint(IPAddress.Parse("10.250.0.2"), 8080));
        l4.Listen();
        using var l6 = pod.CreateSocket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        l6.Bind(new IPEndPoint(IPAddress.Parse("fd00:250::2"), 8080));
        l6.Listen();
        using var sticky = pod.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        sticky.Bind(new IPEndPoint(IPAddress.Parse("10.250.0.2"), 8081));
        sticky.Listen();

        // Without masquerade the endpoint would answer itself directly and the connection would never complete.
        var serve = ServeOnceAsync(l4, pod.Name + ":8080", cts.Token);
        Assert.Equal(pod.Name + ":8080 saw 10.250.0.1", await AskAsync(pod, "172.30.0.30", 80, cts.Token));
        await serve;
        serve = ServeOnceAsync(l6, pod.Name + ":8080", cts.Token);
        Assert.Equal(pod.Name + ":8080 saw fd00:250::1", await AskAsync(pod, "fd00:30::30", 80, cts.Token));
        await serve;
        serve = ServeOnceAsync(sticky, pod.Name + ":8081", cts.Token);
        Assert.Equal(pod.Name + ":8081 saw 10.250.0.1", await AskAsync(pod, "172.30.0.31", 80, cts.Token));
        await serve;

        // The endpoint left the Service it shares with "sticky": "sticky" still hairpins (the element is shared).
        h4.Proxier.OnEndpointSliceUpdate(Slice("ns1", "plain", "plain-4", "IPv4", [EpPort("http", 8080)]));
        Assert.False((await h4.SyncAsync()).FullSync);
        serve = ServeOnceAsync(sticky, pod.Name + ":8081", cts.Token);
        Assert.Equal(pod.Name + ":8081 saw 10.250.0.1", await AskAsync(pod, "172.30.0.31", 80, cts.Token));
        await serve;

        h4.AssertFlows(new FlowCase("hairpin with affinity", "10.250.0.2", "172.30.0.31", 80, "10.250.0.2:8081", Masq: true));
        h6.AssertFlows(new FlowCase("hairpin IPv6", "fd00:250::2", "fd00:30::30", 80, "[fd00:250::2]:8080", Masq: true));
    }
}
