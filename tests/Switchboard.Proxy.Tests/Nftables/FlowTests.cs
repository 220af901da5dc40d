using System.Net;
using k8s.Models;
using Switchboard.Netfilter.Tracing;
using Switchboard.Proxy.Model;
using static Switchboard.Proxy.Tests.Builders;

namespace Switchboard.Proxy.Tests.Nftables;

/// <summary>
/// Packet-flow tests, one per feature row of reference/proxy.md §1: Services and EndpointSlices go through the
/// trackers and the generator into the fake nftables, and the tracer says where a packet ends up. Addresses follow
/// upstream's proxier_test.go (node 192.168.0.2, pods 10.0.0.0/8, endpoints 10.180.0.x, ClusterIPs 172.30.0.x).
/// </summary>
public sealed class FlowTests
{
    private const string Pod = "10.0.0.2";
    private const string Outside = "203.0.113.1";
    private const string Node = ProxierHarness.NodeIp;

    private static V1EndpointSlice Slice1(string ns, string svc, string portName, int port, params V1Endpoint[] eps) =>
        Slice(ns, svc, svc + "-abc", "IPv4", [EpPort(portName, port)], eps);

    [Fact]
    public async Task ClusterIp_PodNodeAndOutside()
    {
        var h = new ProxierHarness();
        h.Add(Service("ns1", "svc1", "172.30.0.41", Port("p80", 80)));
        h.Add(Slice1("ns1", "svc1", "p80", 80, Ep("10.180.0.1", "other-node"), Ep("10.180.0.11", "other-node")));
        h.Proxier.OnServiceCidrsChanged([IPNetwork.Parse("172.30.0.0/16")]);
        await h.SyncAsync();

        h.AssertFlows(
            new FlowCase("pod to cluster IP", Pod, "172.30.0.41", 80, "10.180.0.1:80, 10.180.0.11:80", Masq: false),
            new FlowCase("external to cluster IP is masqueraded", Outside, "172.30.0.41", 80, "10.180.0.1:80, 10.180.0.11:80", Masq: true),
            new FlowCase("node to cluster IP is masqueraded", Node, "172.30.0.41", 80, "10.180.0.1:80, 10.180.0.11:80", Masq: true, Origin: PacketOrigin.Node),
            new FlowCase("cluster IP, wrong port: rejected", Pod, "172.30.0.41", 81, "REJECT", Masq: false),
            new FlowCase("cluster IP, wrong protocol: rejected", Pod, "172.30.0.41", 80, "REJECT", Masq: false, Protocol: "udp"),
            new FlowCase("unallocated IP in a ServiceCIDR: dropped", Pod, "172.30.0.99", 80, "DROP", Masq: false),
            new FlowCase("IP outside the ServiceCIDRs: untouched", Pod, "10.180.0.1", 80, "", Masq: false));
    }

    [Fact]
    public async Task Hairpin_PodToItsOwnService_IsMasqueraded()
    {
        var h = new ProxierHarness();
        h.Add(Service("ns1", "svc1", "172.30.0.41", Port("p80", 80)));
        h.Add(Slice1("ns1", "svc1", "p80", 80, Ep("10.180.0.1", ProxierHarness.NodeName)));
        await h.SyncAsync();

        h.AssertFlows(
            new FlowCase("endpoint to its own service", "10.180.0.1", "172.30.0.41", 80, "10.180.0.1:80", Masq: true),
            new FlowCase("other pod", "10.180.0.2", "172.30.0.41", 80, "10.180.0.1:80", Masq: false));
    }

    [Fact]
    public async Task NodePort_ExternalTrafficPolicyLocal_WithAndWithoutLocalEndpoints()
    {
        var h = new ProxierHarness();
        var withLocal = Service("ns2", "local", "172.30.0.42", Port("p80", 80, nodePort: 3001)).With(s =>
        {
            s.Type = "NodePort";
            s.ExternalTrafficPolicy = "Local";
        });
        var noLocal = Service("ns3", "remote", "172.30.0.43", Port("p80", 80, nodePort: 3002)).With(s =>
        {
            s.Type = "NodePort";
            s.ExternalTrafficPolicy = "Local";
        });
        var cluster = Service("ns4", "cluster", "172.30.0.44", Port("p80", 80, nodePort: 3003)).With(s => s.Type = "NodePort");
        h.Add(withLocal, noLocal, cluster);
        h.Add(
            Slice1("ns2", "local", "p80", 80, Ep("10.180.0.2", ProxierHarness.NodeName), Ep("10.180.0.3", "other-node")),
            Slice1("ns3", "remote", "p80", 80, Ep("10.180.0.4", "other-node")),
            Slice1("ns4", "cluster", "p80", 80, Ep("10.180.0.5", "other-node")));
        await h.SyncAsync();

        h.AssertFlows(
            new FlowCase("external to eTP Local NodePort: local endpoint only, source kept", Outside, Node, 3001, "10.180.0.2:80", Masq: false),
            new FlowCase("external to eTP Local NodePort without local endpoints: dropped", Outside, Node, 3002, "DROP", Masq: false),
            new FlowCase("pod to eTP Local NodePort: short-circuited to all endpoints", Pod, Node, 3002, "10.180.0.4:80", Masq: false),
            new FlowCase("node to eTP Local NodePort: short-circuited and masqueraded", Node, Node, 3002, "10.180.0.4:80", Masq: true, Origin: PacketOrigin.Node),
            new FlowCase("external to eTP Cluster NodePort: masqueraded", Outside, Node, 3003, "10.180.0.5:80", Masq: true),
            new FlowCase("cluster IP of eTP Local service still uses all endpoints", Pod, "172.30.0.43", 80, "10.180.0.4:80", Masq: false),
            new FlowCase("unknown NodePort: untouched", Outside, Node, 3999, "", Masq: false));

        Assert.Equal(new Dictionary<ServiceName, int> { [new ServiceName("ns2", "local")] = 1, [new ServiceName("ns3", "remote")] = 0, [new ServiceName("ns4", "cluster")] = 0 },
            h.Last.LocalReadyEndpoints);
    }

    [Fact]
    public async Task LoadBalancer_SourceRanges_AndExternalIps()
    {
        var h = new ProxierHarness();
        var lb = Service("ns5", "lb", "172.30.0.45", Port("p80", 80, nodePort: 3005)).With(s =>
        {
            s.Type = "LoadBalancer";
            s.LoadBalancerSourceRanges = ["203.0.113.0/25"];
        }).LoadBalancerIps("5.6.7.8");
        var ext = Service("ns6", "ext", "172.30.0.46", Port("p80", 80)).With(s => s.ExternalIPs = ["192.168.99.22"]);
        h.Add(lb, ext);
        h.Add(Slice1("ns5", "lb", "p80", 80, Ep("10.180.0.5", "other-node")), Slice1("ns6", "ext", "p80", 80, Ep("10.180.0.6", "other-node")));
        await h.SyncAsync();

        h.AssertFlows(
            new FlowCase("LB IP from inside the source ranges", "203.0.113.1", "5.6.7.8", 80, "10.180.0.5:80", Masq: true),
            new FlowCase("LB IP from outside the source ranges", "203.0.113.200", "5.6.7.8", 80, "DROP", Masq: false),
            new FlowCase("pod to LB IP is subject to source ranges", Pod, "5.6.7.8", 80, "DROP", Masq: false),
            new FlowCase("NodePort is not subject to source ranges", "203.0.113.200", Node, 3005, "10.180.0.5:80", Masq: true),
            new FlowCase("external IP from outside", Outside, "192.168.99.22", 80, "10.180.0.6:80", Masq: true),
            new FlowCase("external IP from a pod", Pod, "192.168.99.22", 80, "10.180.0.6:80", Masq: true));
    }

    [Fact]
    public async Task LoadBalancer_SourceRangeContainingNode_AllowsVipAsSource()
    {
        var h = new ProxierHarness();
        var lb = Service("ns5", "lb", "172.30.0.45", Port("p80", 80, nodePort: 3005)).With(s =>
        {
            s.Type = "LoadBalancer";
            s.LoadBalancerSourceRanges = ["192.168.0.0/24"];
        }).LoadBalancerIps("5.6.7.8");
        h.Add(lb).Add(Slice1("ns5", "lb", "p80", 80, Ep("10.180.0.5", "other-node")));
        await h.SyncAsync();

        Assert.Contains("ip saddr != { 192.168.0.0/24, 5.6.7.8 } drop", h.Rules("firewall-"));
        h.AssertFlows(new FlowCase("VIP as source (node hairpin through the VIP)", "5.6.7.8", "5.6.7.8", 80, "10.180.0.5:80", Masq: true));
    }

    [Fact]
    public async Task SessionAffinity_SetsWithTimeoutAndRules()
    {
        var h = new ProxierHarness();
        h.Add(Service("ns1", "aff", "172.30.0.41", Port("p80", 80)).With(s =>
        {
            s.SessionAffinity = "ClientIP";
            s.SessionAffinityConfig = new V1SessionAffinityConfig { ClientIP = new V1ClientIPConfig { TimeoutSeconds = 300 } };
        }));
        h.Add(Slice1("ns1", "aff", "p80", 80, Ep("10.180.0.1"), Ep("10.180.0.2")));
        await h.SyncAsync();

        var sets = h.Table.Sets.Values.Where(s => s.Name.StartsWith("affinity-", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, sets.Count);
        Assert.All(sets, s =>
        {
            Assert.Equal(TimeSpan.FromSeconds(300), s.Definition.Timeout);
            Assert.True(s.Definition.HasFlag("timeout"));
            Assert.True(s.Definition.HasFlag("dynamic"));
        });
        var svcRules = h.Rules("service-");
        Assert.StartsWith("ip saddr @affinity-", svcRules[1]);
        Assert.Contains(" goto endpoint-", svcRules[1]);
        // Endpoint choice is a cascade (numgen random mod N-i 0 goto endpoint-i … goto endpoint-last): no anonymous sets.
        Assert.StartsWith("numgen random mod 2 0 goto endpoint-", svcRules[^2]);
        Assert.StartsWith("goto endpoint-", svcRules[^1]);
        var epChain = h.Table.Chains.Values.First(c => c.Name.StartsWith("endpoint-", StringComparison.Ordinal));
        Assert.Contains(epChain.Rules, r => r.Text.StartsWith("update @affinity-", StringComparison.Ordinal) && r.Text.EndsWith("{ ip saddr }", StringComparison.Ordinal));

        h.AssertFlows(new FlowCase("new client reaches any endpoint", Pod, "172.30.0.41", 80, "10.180.0.1:80, 10.180.0.2:80", Masq: false));
    }

    [Fact]
    public async Task NoEndpoints_RejectEverywhere()
    {
        var h = new ProxierHarness();
        var svc = Service("ns7", "empty", "172.30.0.47", Port("p80", 80, nodePort: 3007)).With(s =>
        {
            s.Type = "LoadBalancer";
            s.ExternalIPs = ["192.168.99.33"];
        }).LoadBalancerIps("5.6.7.9");
        h.Add(svc).Add(Slice1("ns7", "empty", "p80", 80, Ep("10.180.0.7", ready: false, serving: false)));
        await h.SyncAsync();

        h.AssertFlows(
            new FlowCase("cluster IP", Pod, "172.30.0.47", 80, "REJECT", Masq: false),
            new FlowCase("cluster IP from the node", Node, "172.30.0.47", 80, "REJECT", Masq: false, Origin: PacketOrigin.Node),
            new FlowCase("NodePort", Outside, Node, 3007, "REJECT", Masq: false),
            new FlowCase("external IP", Outside, "192.168.99.33", 80, "REJECT", Masq: false),
            new FlowCase("LB IP", Outside, "5.6.7.9", 80, "REJECT", Masq: false));
    }

    [Fact]
    public async Task InternalTrafficPolicyLocal_LocalEndpointsOrDrop()
    {
        var h = new ProxierHarness();
        h.Add(
            Service("ns1", "itp", "172.30.0.41", Port("p80", 80)).With(s => s.InternalTrafficPolicy = "Local"),
            Service("ns2", "itp-none", "172.30.0.42", Port("p80", 80)).With(s => s.InternalTrafficPolicy = "Local"));
        h.Add(
            Slice1("ns1", "itp", "p80", 80, Ep("10.180.0.1", ProxierHarness.NodeName), Ep("10.180.0.2", "other-node")),
            Slice1("ns2", "itp-none", "p80", 80, Ep("10.180.0.3", "other-node")));
        await h.SyncAsync();

        h.AssertFlows(
            new FlowCase("iTP Local with a local endpoint", Pod, "172.30.0.41", 80, "10.180.0.1:80", Masq: false),
            new FlowCase("iTP Local without local endpoints: dropped, not rejected", Pod, "172.30.0.42", 80, "DROP", Masq: false));
    }

    [Fact]
    public async Task TopologyHints_SameZoneAndSameNode_AndLabelChangeForcesFullSync()
    {
        var h = new ProxierHarness();
        h.Proxier.OnNodeLabels(new Dictionary<string, string> { ["topology.kubernetes.io/zone"] = "zone-a" });
        h.Add(
            Service("ns1", "zonal", "172.30.0.41", Port("p80", 80)).With(s => s.TrafficDistribution = "PreferSameZone"),
            Service("ns2", "nodal", "172.30.0.42", Port("p80", 80)).With(s => s.TrafficDistribution = "PreferSameNode"));
        h.Add(
            Slice1("ns1", "zonal", "p80", 80,
                Ep("10.180.0.1", "n1", zone: "zone-a", zoneHints: ["zone-a"]),
                Ep("10.180.0.2", "n2", zone: "zone-b", zoneHints: ["zone-b"]),
                Ep("10.180.0.3", "n3", zone: "zone-a", zoneHints: ["zone-a"])),
            Slice1("ns2", "nodal", "p80", 80,
                Ep("10.180.0.4", ProxierHarness.NodeName, zoneHints: ["zone-a"], nodeHints: [ProxierHarness.NodeName]),
                Ep("10.180.0.5", "n2", zoneHints: ["zone-a"], nodeHints: ["n2"])));
        Assert.True((await h.SyncAsync()).FullSync);

        h.AssertFlows(
            new FlowCase("same zone only", Pod, "172.30.0.41", 80, "10.180.0.1:80, 10.180.0.3:80", Masq: false),
            new FlowCase("same node only", Pod, "172.30.0.42", 80, "10.180.0.4:80", Masq: false));

        Assert.False((await h.SyncAsync()).FullSync);
        h.Proxier.OnNodeLabels(new Dictionary<string, string> { ["topology.kubernetes.io/zone"] = "zone-b" });
        Assert.True((await h.SyncAsync()).FullSync);
        h.AssertFlows(new FlowCase("now zone-b", Pod, "172.30.0.41", 80, "10.180.0.2:80", Masq: false));
    }

    [Fact]
    public async Task TerminatingEndpoints_UsedOnlyWithoutReadyOnes()
    {
        var h = new ProxierHarness();
        h.Add(
            Service("ns1", "mixed", "172.30.0.41", Port("p80", 80)),
            Service("ns2", "draining", "172.30.0.42", Port("p80", 80, nodePort: 3002)).With(s =>
            {
                s.Type = "NodePort";
                s.ExternalTrafficPolicy = "Local";
            }));
        h.Add(
            Slice1("ns1", "mixed", "p80", 80, Ep("10.180.0.1"), Ep("10.180.0.2", ready: false, serving: true, terminating: true)),
            Slice1("ns2", "draining", "p80", 80,
                Ep("10.180.0.3", ProxierHarness.NodeName, ready: false, serving: true, terminating: true),
                Ep("10.180.0.4", ProxierHarness.NodeName, ready: false, serving: false, terminating: true),
                Ep("10.180.0.5", "other-node")));
        await h.SyncAsync();

        h.AssertFlows(
            new FlowCase("ready endpoint preferred over terminating", Pod, "172.30.0.41", 80, "10.180.0.1:80", Masq: false),
            new FlowCase("eTP Local: local serving-terminating endpoint used while draining", Outside, Node, 3002, "10.180.0.3:80", Masq: false),
            new FlowCase("cluster traffic still uses the ready remote endpoint", Pod, "172.30.0.42", 80, "10.180.0.5:80", Masq: false));
    }

    [Fact]
    public async Task DualStack_Ipv6TableServesIpv6()
    {
        var v4 = new ProxierHarness(IpFamily.IPv4);
        var v6 = new ProxierHarness(IpFamily.IPv6);
        var svc = Service("ns1", "ds", "172.30.0.41", Port("p80", 80, nodePort: 3001)).With(s =>
        {
            s.Type = "NodePort";
            s.ClusterIPs = ["172.30.0.41", "fd00:30::41"];
            s.IpFamilies = ["IPv4", "IPv6"];
        });
        var slice4 = Slice1("ns1", "ds", "p80", 80, Ep("10.180.0.1", "other-node"));
        var slice6 = Slice("ns1", "ds", "ds-v6", "IPv6", [EpPort("p80", 80)], Ep("fd00:10::5", "other-node"));
        foreach (var h in new[] { v4, v6 })
        {
            h.Add(svc).Add(slice4, slice6);
            await h.SyncAsync();
        }

        Assert.Equal(Switchboard.Netfilter.NftFamily.Ip6, v6.Proxier.Table.Family);
        Assert.Equal("switchboard-proxy", v6.Proxier.Table.Name);
        v6.AssertFlows(
            new FlowCase("pod to IPv6 cluster IP", "fd00:10::9", "fd00:30::41", 80, "[fd00:10::5]:80", Masq: false),
            new FlowCase("outside to IPv6 NodePort", "2001:db8::99", ProxierHarness.NodeIp6, 3001, "[fd00:10::5]:80", Masq: true),
            new FlowCase("wrong port", "fd00:10::9", "fd00:30::41", 81, "REJECT", Masq: false));
        v4.AssertFlows(new FlowCase("IPv4 side", Pod, "172.30.0.41", 80, "10.180.0.1:80", Masq: false));
        Assert.DoesNotContain(v4.Table.Chains.Values.SelectMany(c => c.Rules), r => r.Text.Contains("fd00", StringComparison.Ordinal));
    }

    [Fact]
    public async Task NamedPorts_JoinOnPortNameAndProtocol()
    {
        var h = new ProxierHarness();
        h.Add(Service("ns1", "dns", "172.30.0.10", Port("dns", 53, "UDP"), Port("dns-tcp", 53, "TCP"), Port("metrics", 9153)));
        h.Add(Slice("ns1", "dns", "dns-a", "IPv4", [EpPort("dns", 5353, "UDP"), EpPort("dns-tcp", 5354, "TCP"), EpPort("metrics", 9153)], Ep("10.180.0.1")));
        await h.SyncAsync();

        h.AssertFlows(
            new FlowCase("udp port", Pod, "172.30.0.10", 53, "10.180.0.1:5353", Masq: false, Protocol: "udp"),
            new FlowCase("tcp port of the same number", Pod, "172.30.0.10", 53, "10.180.0.1:5354", Masq: false),
            new FlowCase("third port", Pod, "172.30.0.10", 9153, "10.180.0.1:9153", Masq: false));
    }

    [Fact]
    public async Task SkippedServices_ProxyNameHeadlessExternalName()
    {
        var h = new ProxierHarness();
        var optedOut = Service("ns1", "mine", "172.30.0.50", Port("p80", 80));
        optedOut.Metadata.Labels = new Dictionary<string, string> { ["service.kubernetes.io/service-proxy-name"] = "other-proxy" };
        var optedOutSlice = Slice1("ns1", "mine", "p80", 80, Ep("10.180.0.1"));
        optedOutSlice.Metadata.Labels["service.kubernetes.io/service-proxy-name"] = "other-proxy";
        var headless = Service("ns1", "headless", "None", Port("p80", 80));
        var headlessSlice = Slice1("ns1", "headless", "p80", 80, Ep("10.180.0.2"));
        headlessSlice.Metadata.Labels["service.kubernetes.io/headless"] = "";
        var external = Service("ns1", "ext", "", Port("p80", 80)).With(s =>
        {
            s.Type = "ExternalName";
            s.ExternalName = "example.com";
            s.ClusterIPs = null;
        });
        h.Add(optedOut, headless, external).Add(optedOutSlice, headlessSlice);
        await h.SyncAsync();

        Assert.DoesNotContain(h.Table.Chains.Keys, c => c.Contains('/', StringComparison.Ordinal));
        Assert.Empty(h.Table.Map("service-ips")!.Elements);
        h.AssertFlows(new FlowCase("opted-out service IP is not proxied", Pod, "172.30.0.50", 80, "", Masq: false));
    }

    [Fact]
    public async Task NodePortAddressesAll_UsesFibLocal()
    {
        var h = new ProxierHarness(configure: o => o with { NodePortAddresses = null });
        h.Add(Service("ns1", "np", "172.30.0.41", Port("p80", 80, nodePort: 3001)).With(s => s.Type = "NodePort"))
            .Add(Slice1("ns1", "np", "p80", 80, Ep("10.180.0.1", "other-node")));
        await h.SyncAsync();

        Assert.Null(h.Table.Set("nodeport-ips"));
        Assert.Contains("fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports", h.Rules("services"));
        h.AssertFlows(new FlowCase("external to NodePort", Outside, Node, 3001, "10.180.0.1:80", Masq: true));
    }

    [Fact]
    public async Task MasqueradeAll_MasqueradesPods()
    {
        var h = new ProxierHarness(configure: o => o with { MasqueradeAll = true });
        h.Add(Service("ns1", "svc1", "172.30.0.41", Port("p80", 80))).Add(Slice1("ns1", "svc1", "p80", 80, Ep("10.180.0.1")));
        await h.SyncAsync();
        h.AssertFlows(new FlowCase("pod to cluster IP", Pod, "172.30.0.41", 80, "10.180.0.1:80", Masq: true));
    }

    [Fact]
    public async Task InternalAndExternalPolicyLocal_ShortCircuitStillReachesClusterEndpoints()
    {
        var h = new ProxierHarness();
        h.Add(Service("ns1", "both-local", "172.30.0.41", Port("p80", 80, nodePort: 3001)).With(s =>
        {
            s.Type = "NodePort";
            s.InternalTrafficPolicy = "Local";
            s.ExternalTrafficPolicy = "Local";
        }));
        h.Add(Slice1("ns1", "both-local", "p80", 80, Ep("10.180.0.1", "other-node")));
        await h.SyncAsync();

        h.AssertFlows(
            new FlowCase("cluster IP: no local endpoint, dropped", Pod, "172.30.0.41", 80, "DROP", Masq: false),
            new FlowCase("external NodePort: no local endpoint, dropped", Outside, Node, 3001, "DROP", Masq: false),
            new FlowCase("pod to NodePort: short-circuited to the cluster endpoints", Pod, Node, 3001, "10.180.0.1:80", Masq: false),
            new FlowCase("node to NodePort: short-circuited and masqueraded", Node, Node, 3001, "10.180.0.1:80", Masq: true, Origin: PacketOrigin.Node));
    }

    [Fact]
    public async Task LongestNames_StillProgrammed()
    {
        // 63-character namespace, Service and port names: chain names stay under nft's limit, comments are cut.
        var ns = new string('n', 63);
        var name = new string('s', 63);
        var port = new string('p', 63);
        var h = new ProxierHarness();
        h.Add(Service(ns, name, "172.30.0.41", Port(port, 80)));
        h.Add(Slice(ns, name, "x", "IPv4", [EpPort(port, 80)], Ep("10.180.0.1")));
        h.Add(Service(ns, name + "-", "172.30.0.42", Port(port, 80))); // no endpoints: an element with a comment
        await h.SyncAsync();

        h.AssertFlows(
            new FlowCase("long names", Pod, "172.30.0.41", 80, "10.180.0.1:80", Masq: false),
            new FlowCase("long names, no endpoints", Pod, "172.30.0.42", 80, "REJECT", Masq: false));
        Assert.All(h.Table.Chains.Keys, c => Assert.True(c.Length <= 256, c));
    }

    [Fact]
    public async Task SyncFailure_FromTheBackend_IsLoggedAndRetriedNotThrown()
    {
        var h = new ProxierHarness();
        h.Add(Service("ns1", "svc1", "172.30.0.41", Port("p80", 80)));
        h.Proxier.OnServicesSynced();
        h.Proxier.OnEndpointSlicesSynced();
        h.Nft.FailNextRun(new Switchboard.Netfilter.NftablesException(Switchboard.Netfilter.NftErrorKind.Invalid, "syntax error"));

        await h.Proxier.SyncAsync(CancellationToken.None);

        Assert.Contains(h.Logger.Entries, e => e.Contains("syntax error", StringComparison.Ordinal));
        Assert.Contains(TimeSpan.FromSeconds(30), h.RequestedDelays);
        Assert.True((await h.SyncAsync()).FullSync);
    }
}
