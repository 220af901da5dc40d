using System.Net;
using k8s.Models;
using Switchboard.Proxy.Model;
using static Switchboard.Proxy.Tests.Builders;

namespace Switchboard.Proxy.Tests.Nftables;

/// <summary>
/// Ports of kubernetes/kubernetes pkg/proxy/nftables/proxier_test.go packet-flow cases (TestOverallNFTablesRules'
/// chain names, TestNoEndpointsReject, TestClusterIPGeneral, TestLoadBalancer, TestNodePorts,
/// TestExternalTrafficPolicyLocal/Cluster), same addresses and expectations.
/// </summary>
public sealed class UpstreamFlowTests
{
    private const string ExternalClient = "203.0.113.2";
    private const string ExternalClientBlocked = "203.0.113.130";

    private static ProxierHarness Harness(IpFamily family = IpFamily.IPv4, IReadOnlyList<IPAddress>? nodePortAddresses = null)
    {
        var h = new ProxierHarness(family, o => o with
        {
            NodePortAddresses = nodePortAddresses ?? o.NodePortAddresses,
            ClusterCidrs = [IPNetwork.Parse(family == IpFamily.IPv4 ? "10.0.0.0/8" : "fd00:10::/64")],
        });
        h.Proxier.OnServiceCidrsChanged([IPNetwork.Parse("172.30.0.0/16"), IPNetwork.Parse("fd00:10:96::/112")]);
        return h;
    }

    private static V1EndpointSlice Eps(string ns, string svc, string port, params V1Endpoint[] endpoints) =>
        Slice(ns, svc, svc + "-1", "IPv4", [EpPort(port, 80)], endpoints);

    [Fact]
    public async Task OverallRules_ChainNamesAndFlows()
    {
        var h = Harness();
        h.Add(
            Service("ns1", "svc1", "172.30.0.41", Port("p80", 80)),
            Service("ns2", "svc2", "172.30.0.42", Port("p80", 80, nodePort: 3001)).With(s =>
            {
                s.Type = "LoadBalancer";
                s.ExternalTrafficPolicy = "Local";
                s.ExternalIPs = ["192.168.99.22"];
                s.HealthCheckNodePort = 30000;
            }).LoadBalancerIps("1.2.3.4"),
            Service("ns3", "svc3", "172.30.0.43", Port("p80", 80, nodePort: 3003)).With(s => s.Type = "NodePort"),
            Service("ns4", "svc4", "172.30.0.44", Port("p80", 80)).With(s =>
            {
                s.Type = "NodePort";
                s.ExternalIPs = ["192.168.99.33"];
            }),
            Service("ns5", "svc5", "172.30.0.45", Port("p80", 80, nodePort: 3002)).With(s =>
            {
                s.Type = "LoadBalancer";
                s.HealthCheckNodePort = 30000;
                s.LoadBalancerSourceRanges = [" 203.0.113.0/25"];
                s.SessionAffinity = "ClientIP";
                s.SessionAffinityConfig = new V1SessionAffinityConfig { ClientIP = new V1ClientIPConfig { TimeoutSeconds = 10800 } };
            }).LoadBalancerIps("5.6.7.8"),
            Service("ns6", "svc6", "172.30.0.46", Port("p80", 80)));
        h.Add(
            Eps("ns1", "svc1", "p80", Ep("10.180.0.1")),
            Eps("ns2", "svc2", "p80", Ep("10.180.0.2")),
            Eps("ns3", "svc3", "p80", Ep("10.180.0.3")),
            Eps("ns4", "svc4", "p80", Ep("10.180.0.4"), Ep("10.180.0.5", ProxierHarness.NodeName)),
            Eps("ns5", "svc5", "p80", Ep("10.180.0.3")));
        await h.SyncAsync();

        // Names are byte-identical to kube-proxy's (same hash and layout). Endpoint chains exist only with
        // ClientIP affinity (svc5); the others DNAT in the service chain (see the README).
        var expected = new[]
        {
            "service-ULMVA6XW-ns1/svc1/tcp/p80",
            "service-42NFTM6N-ns2/svc2/tcp/p80", "external-42NFTM6N-ns2/svc2/tcp/p80",
            "service-4AT6LBPK-ns3/svc3/tcp/p80", "external-4AT6LBPK-ns3/svc3/tcp/p80",
            "service-LAUZTJTB-ns4/svc4/tcp/p80", "external-LAUZTJTB-ns4/svc4/tcp/p80",
            "service-HVFWP5L3-ns5/svc5/tcp/p80", "external-HVFWP5L3-ns5/svc5/tcp/p80", "firewall-HVFWP5L3-ns5/svc5/tcp/p80",
            "endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80",
        };
        Assert.Equal(expected.Order(StringComparer.Ordinal), h.Table.Chains.Keys.Where(k => k.Contains('/', StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Equal(["meta l4proto tcp dnat to 10.180.0.1:80"], h.Rules("service-ULMVA6XW-ns1/svc1/tcp/p80").Where(r => r.Contains("dnat", StringComparison.Ordinal)));
        Assert.Equal(
            ["update @affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { ip saddr }", "meta l4proto tcp dnat to 10.180.0.3:80"],
            h.Rules("endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80"));

        Assert.NotNull(h.Table.Set("affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80"));
        Assert.Equal(
            ["ip saddr 10.0.0.0/8 goto service-42NFTM6N-ns2/svc2/tcp/p80", "fib saddr type local jump mark-for-masquerade", "fib saddr type local goto service-42NFTM6N-ns2/svc2/tcp/p80"],
            h.Rules("external-42NFTM6N-ns2/svc2/tcp/p80"));
        Assert.Equal(["ip saddr != { 203.0.113.0/25 } drop"], h.Rules("firewall-HVFWP5L3-ns5/svc5/tcp/p80"));
        Assert.Equal("drop", h.Table.Map("no-endpoint-nodeports")!.Lookup("tcp", "3001")!.Value[0]);
        Assert.Equal("ns2/svc2:p80", h.Table.Map("no-endpoint-services")!.Lookup("1.2.3.4", "tcp", "80")!.Element.Comment);
        Assert.Equal("goto reject-chain", h.Table.Map("no-endpoint-services")!.Lookup("172.30.0.46", "tcp", "80")!.Value[0]);
        Assert.True(h.Table.Set("cluster-ips")!.Contains("172.30.0.46"));

        h.AssertFlows(
            new FlowCase("eTP Local LB without local endpoints: external dropped", ExternalClient, "1.2.3.4", 80, "DROP", Masq: false),
            new FlowCase("eTP Local LB without local endpoints: pod short-circuited", "10.0.0.2", "1.2.3.4", 80, "10.180.0.2:80", Masq: false),
            new FlowCase("no endpoints", "10.0.0.2", "172.30.0.46", 80, "REJECT", Masq: false));
    }

    [Fact]
    public async Task NoEndpointsReject()
    {
        var h = Harness();
        h.Add(Service("ns1", "svc1", "172.30.0.41", Port("p80", 80, nodePort: 3001)).With(s =>
        {
            s.Type = "LoadBalancer";
            s.ExternalIPs = ["192.168.99.11"];
        }).LoadBalancerIps("1.2.3.4"));
        await h.SyncAsync();

        h.AssertFlows(
            new FlowCase("pod to cluster IP with no endpoints", "10.0.0.2", "172.30.0.41", 80, "REJECT", Masq: false),
            new FlowCase("external to external IP with no endpoints", ExternalClient, "192.168.99.11", 80, "REJECT", Masq: false),
            new FlowCase("pod to NodePort with no endpoints", "10.0.0.2", ProxierHarness.NodeIp, 3001, "REJECT", Masq: false),
            new FlowCase("external to NodePort with no endpoints", ExternalClient, ProxierHarness.NodeIp, 3001, "REJECT", Masq: false),
            new FlowCase("pod to LoadBalancer IP with no endpoints", "10.0.0.2", "1.2.3.4", 80, "REJECT", Masq: false),
            new FlowCase("external to LoadBalancer IP with no endpoints", ExternalClient, "1.2.3.4", 80, "REJECT", Masq: false));
    }

    [Fact]
    public async Task ClusterIpGeneral()
    {
        var h = Harness();
        h.Add(
            Service("ns1", "svc1", "172.30.0.41", Port("http", 80)),
            Service("ns2", "svc2", "172.30.0.42", Port("http", 80), Port("https", 443), Port("dns-udp", 53, "UDP"), Port("dns-tcp", 53), Port("dns-sctp", 53, "SCTP")));
        h.Add(
            Slice("ns1", "svc1", "svc1-1", "IPv4", [EpPort("http", 80)], Ep("10.180.0.1", ProxierHarness.NodeName)),
            Slice("ns2", "svc2", "svc2-1", "IPv4",
                [EpPort("http", 80), EpPort("https", 8443), EpPort("dns-udp", 53, "UDP"), EpPort("dns-tcp", 5353), EpPort("dns-sctp", 53, "SCTP")],
                Ep("10.180.0.1", ProxierHarness.NodeName), Ep("10.180.2.1", "node2")));
        await h.SyncAsync();

        h.AssertFlows(
            new FlowCase("simple clusterIP", "10.180.0.2", "172.30.0.41", 80, "10.180.0.1:80", Masq: false),
            new FlowCase("hairpin to cluster IP", "10.180.0.1", "172.30.0.41", 80, "10.180.0.1:80", Masq: true),
            new FlowCase("clusterIP with multiple endpoints", "10.180.0.2", "172.30.0.42", 80, "10.180.0.1:80, 10.180.2.1:80", Masq: false),
            new FlowCase("clusterIP with TargetPort", "10.180.0.2", "172.30.0.42", 443, "10.180.0.1:8443, 10.180.2.1:8443", Masq: false),
            new FlowCase("same port (TCP)", "10.180.0.2", "172.30.0.42", 53, "10.180.0.1:5353, 10.180.2.1:5353", Masq: false),
            new FlowCase("same port (UDP)", "10.180.0.2", "172.30.0.42", 53, "10.180.0.1:53, 10.180.2.1:53", Masq: false, Protocol: "udp"),
            new FlowCase("same port (SCTP)", "10.180.0.2", "172.30.0.42", 53, "10.180.0.1:53, 10.180.2.1:53", Masq: false, Protocol: "sctp"),
            new FlowCase("TCP-only port does not match UDP traffic", "10.180.0.2", "172.30.0.42", 80, "REJECT", Masq: false, Protocol: "udp"),
            new FlowCase("svc1 does not accept svc2's ports", "10.180.0.2", "172.30.0.41", 443, "REJECT", Masq: false),
            new FlowCase("packet to unallocated cluster ip", "10.180.0.2", "172.30.0.50", 80, "DROP", Masq: false));
    }

    [Fact]
    public async Task LoadBalancer()
    {
        var h = Harness();
        h.Add(Service("ns1", "svc1", "172.30.0.41", Port("p80", 80, nodePort: 3001)).With(s =>
        {
            s.Type = "LoadBalancer";
            s.LoadBalancerSourceRanges = ["192.168.0.0/24", " 203.0.113.0/25"];
        }).LoadBalancerIps("1.2.3.4", "5.6.7.8"));
        h.Add(Eps("ns1", "svc1", "p80", Ep("10.180.0.1")));
        await h.SyncAsync();

        const string ep = "10.180.0.1:80";
        h.AssertFlows(
            new FlowCase("pod to cluster IP", "10.0.0.2", "172.30.0.41", 80, ep, Masq: false),
            new FlowCase("external to nodePort", ExternalClient, ProxierHarness.NodeIp, 3001, ep, Masq: true),
            new FlowCase("nodePort bypasses LoadBalancerSourceRanges", ExternalClientBlocked, ProxierHarness.NodeIp, 3001, ep, Masq: true),
            new FlowCase("accepted external to LB1", ExternalClient, "1.2.3.4", 80, ep, Masq: true),
            new FlowCase("accepted external to LB2", ExternalClient, "5.6.7.8", 80, ep, Masq: true),
            new FlowCase("blocked external to LB1", ExternalClientBlocked, "1.2.3.4", 80, "DROP", Masq: false),
            new FlowCase("blocked external to LB2", ExternalClientBlocked, "5.6.7.8", 80, "DROP", Masq: false),
            new FlowCase("pod to LB1 (blocked by LoadBalancerSourceRanges)", "10.0.0.2", "1.2.3.4", 80, "DROP", Masq: false),
            new FlowCase("pod to LB2 (blocked by LoadBalancerSourceRanges)", "10.0.0.2", "5.6.7.8", 80, "DROP", Masq: false),
            new FlowCase("node to LB1 (allowed by LoadBalancerSourceRanges)", ProxierHarness.NodeIp, "1.2.3.4", 80, ep, Masq: true),
            new FlowCase("node to LB2 (allowed by LoadBalancerSourceRanges)", ProxierHarness.NodeIp, "5.6.7.8", 80, ep, Masq: true),
            new FlowCase("same node to LB1, SNATted to LB1 (implicitly allowed)", "1.2.3.4", "1.2.3.4", 80, ep, Masq: true),
            new FlowCase("same node to LB2, SNATted to LB2 (implicitly allowed)", "5.6.7.8", "5.6.7.8", 80, ep, Masq: true));
    }

    [Theory]
    [InlineData(IpFamily.IPv4, false)]
    [InlineData(IpFamily.IPv4, true)]
    [InlineData(IpFamily.IPv6, false)]
    [InlineData(IpFamily.IPv6, true)]
    public async Task NodePorts(IpFamily family, bool multipleNodePortAddresses)
    {
        var v4 = family == IpFamily.IPv4;
        var svcIp = v4 ? "172.30.0.41" : "fd00:172:30::41";
        var ep1 = v4 ? "10.180.0.1" : "fd00:10:180::1";
        var ep2 = v4 ? "10.180.2.1" : "fd00:10:180::2:1";
        var nodeIp = v4 ? ProxierHarness.NodeIp : ProxierHarness.NodeIp6;
        var altNodeIp = v4 ? "192.168.1.2" : "2001:db8:1::2";
        IPAddress[]? addresses = multipleNodePortAddresses ? [IPAddress.Parse(nodeIp), IPAddress.Parse(altNodeIp)] : null;
        var h = Harness(family, addresses);
        h.Add(Service("ns1", "svc1", svcIp, Port("p80", 80, nodePort: 3001)).With(s => s.Type = "NodePort"));
        h.Add(Slice("ns1", "svc1", "svc1-1", v4 ? "IPv4" : "IPv6", [EpPort("p80", 80)], Ep(ep1), Ep(ep2, ProxierHarness.NodeName)));
        await h.SyncAsync();

        var podIp = v4 ? "10.0.0.2" : "fd00:10::2";
        var external = v4 ? ExternalClient : "2600:5200::1";
        var output = v4 ? $"{ep1}:80, {ep2}:80" : $"[{ep1}]:80, [{ep2}]:80";
        h.AssertFlows(
            new FlowCase("pod to cluster IP", podIp, svcIp, 80, output, Masq: false),
            new FlowCase("external to nodePort", external, nodeIp, 3001, output, Masq: true),
            new FlowCase("node to nodePort", nodeIp, nodeIp, 3001, output, Masq: true),
            multipleNodePortAddresses
                ? new FlowCase("external to nodePort on secondary IP", external, altNodeIp, 3001, output, Masq: true)
                : new FlowCase("secondary nodeIP ignores NodePorts", external, altNodeIp, 3001, "", Masq: false));
    }

    [Theory]
    [InlineData("Local")]
    [InlineData("Cluster")]
    public async Task ExternalTrafficPolicy(string policy)
    {
        var h = Harness();
        h.Add(Service("ns1", "svc1", "172.30.0.41", Port("p80", 80, nodePort: 3001)).With(s =>
        {
            s.Type = "LoadBalancer";
            s.ExternalTrafficPolicy = policy;
            s.ExternalIPs = ["192.168.99.11"];
            s.HealthCheckNodePort = policy == "Local" ? 30000 : null;
        }).LoadBalancerIps("1.2.3.4"));
        h.Add(Eps("ns1", "svc1", "p80", Ep("10.180.0.1"), Ep("10.180.2.1", ProxierHarness.NodeName)));
        await h.SyncAsync();

        const string both = "10.180.0.1:80, 10.180.2.1:80";
        if (policy == "Local")
        {
            h.AssertFlows(
                new FlowCase("pod to cluster IP hits both endpoints, unmasqueraded", "10.0.0.2", "172.30.0.41", 80, both, Masq: false),
                new FlowCase("pod to external IP hits both endpoints, unmasqueraded", "10.0.0.2", "192.168.99.11", 80, both, Masq: false),
                new FlowCase("external to external IP hits only local endpoint, unmasqueraded", ExternalClient, "192.168.99.11", 80, "10.180.2.1:80", Masq: false),
                new FlowCase("pod to LB IP hits only both endpoints, unmasqueraded", "10.0.0.2", "1.2.3.4", 80, both, Masq: false),
                new FlowCase("external to LB IP hits only local endpoint, unmasqueraded", ExternalClient, "1.2.3.4", 80, "10.180.2.1:80", Masq: false),
                new FlowCase("pod to NodePort hits both endpoints, unmasqueraded", "10.0.0.2", ProxierHarness.NodeIp, 3001, both, Masq: false),
                new FlowCase("external to NodePort hits only local endpoint, unmasqueraded", ExternalClient, ProxierHarness.NodeIp, 3001, "10.180.2.1:80", Masq: false));
            Assert.Equal(30000, h.Last.HealthCheckNodePorts[new ServiceName("ns1", "svc1")]);
        }
        else
        {
            h.AssertFlows(
                new FlowCase("pod to cluster IP hits both endpoints, unmasqueraded", "10.0.0.2", "172.30.0.41", 80, both, Masq: false),
                new FlowCase("pod to external IP hits both endpoints, masqueraded", "10.0.0.2", "192.168.99.11", 80, both, Masq: true),
                new FlowCase("external to external IP hits both endpoints, masqueraded", ExternalClient, "192.168.99.11", 80, both, Masq: true),
                new FlowCase("pod to LB IP hits both endpoints, masqueraded", "10.0.0.2", "1.2.3.4", 80, both, Masq: true),
                new FlowCase("external to LB IP hits both endpoints, masqueraded", ExternalClient, "1.2.3.4", 80, both, Masq: true),
                new FlowCase("pod to NodePort hits both endpoints, masqueraded", "10.0.0.2", ProxierHarness.NodeIp, 3001, both, Masq: true),
                new FlowCase("external to NodePort hits both endpoints, masqueraded", ExternalClient, ProxierHarness.NodeIp, 3001, both, Masq: true));
            Assert.Empty(h.Last.HealthCheckNodePorts);
        }
    }
}
