using System.Net;
using Switchboard.Netfilter.Conntrack;
using Switchboard.Proxy.Tests.Nftables;
using static Switchboard.Proxy.Tests.Builders;

namespace Switchboard.Proxy.Tests.Conntrack;

/// <summary>UDP conntrack clean-up after syncs (kube-proxy's cleanup_test.go scenarios), on the fake conntrack.</summary>
public sealed class ConntrackCleanerTests
{
    private static ConntrackFlow Udp(string client, string serviceIp, int port, string endpoint, int endpointPort) => new()
    {
        Protocol = "udp",
        OrigSrc = IPAddress.Parse(client),
        OrigSrcPort = 40000,
        OrigDst = IPAddress.Parse(serviceIp),
        OrigDstPort = port,
        ReplySrc = IPAddress.Parse(endpoint),
        ReplySrcPort = endpointPort,
        ReplyDst = IPAddress.Parse(client),
        ReplyDstPort = 40000,
    };

    [Fact]
    public async Task EndpointRemoved_DeletesOnlyEntriesNattedToIt()
    {
        var ct = new FakeConntrack();
        var h = new ProxierHarness(conntrack: ct);
        h.Add(Service("ns1", "dns", "172.30.0.10", Port("dns", 53, "UDP", nodePort: 30053)).With(s => s.Type = "NodePort"));
        h.Add(Slice("ns1", "dns", "dns-a", "IPv4", [EpPort("dns", 5353, "UDP")], Ep("10.180.0.1"), Ep("10.180.0.2")));
        await h.SyncAsync();
        ct.Add(Udp("10.0.0.2", "172.30.0.10", 53, "10.180.0.1", 5353));
        ct.Add(Udp("10.0.0.3", "172.30.0.10", 53, "10.180.0.2", 5353));
        ct.Add(Udp("203.0.113.1", ProxierHarness.NodeIp, 30053, "10.180.0.1", 5353));

        h.Proxier.OnEndpointSliceUpdate(Slice("ns1", "dns", "dns-a", "IPv4", [EpPort("dns", 5353, "UDP")], Ep("10.180.0.2")));
        await h.SyncAsync();

        var left = Assert.Single(ct.Flows);
        Assert.Equal("10.180.0.2", left.ReplySrc.ToString());
    }

    [Fact]
    public async Task ServiceGainsEndpoints_ClearsEntriesThatCachedTheReject()
    {
        var ct = new FakeConntrack();
        var h = new ProxierHarness(conntrack: ct);
        h.Add(Service("ns1", "dns", "172.30.0.10", Port("dns", 53, "UDP")));
        await h.SyncAsync();

        // A client retrying from a fixed source port while the service had no endpoints (#125467).
        ct.Add(Udp("10.0.0.2", "172.30.0.10", 53, "172.30.0.10", 53));
        h.Add(Slice("ns1", "dns", "dns-a", "IPv4", [EpPort("dns", 53, "UDP")], Ep("10.180.0.1")));
        await h.SyncAsync();

        Assert.Empty(ct.Flows);
        Assert.Contains(ct.Deletes, d => d.OrigDst?.ToString() == "172.30.0.10" && d.DstNat is null);
    }

    [Fact]
    public async Task UdpServiceDeleted_ClearsItsClusterIp_TcpUntouched()
    {
        var ct = new FakeConntrack();
        var h = new ProxierHarness(conntrack: ct);
        var svc = Service("ns1", "dns", "172.30.0.10", Port("dns", 53, "UDP"), Port("dns-tcp", 53));
        h.Add(svc).Add(Slice("ns1", "dns", "dns-a", "IPv4", [EpPort("dns", 53, "UDP"), EpPort("dns-tcp", 53)], Ep("10.180.0.1")));
        await h.SyncAsync();
        ct.Add(Udp("10.0.0.2", "172.30.0.10", 53, "10.180.0.1", 53));
        ct.Add(Udp("10.0.0.2", "172.30.0.10", 53, "10.180.0.1", 53) with { Protocol = "tcp" });

        h.Proxier.OnServiceDelete(svc);
        await h.SyncAsync();

        Assert.Equal("tcp", Assert.Single(ct.Flows).Protocol);
    }
}
