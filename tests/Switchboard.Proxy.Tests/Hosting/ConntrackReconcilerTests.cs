using System.Net;
using Switchboard.Netfilter.Conntrack;
using Switchboard.Proxy.Hosting;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Tests.Hosting;

public sealed class ConntrackReconcilerTests
{
    private static readonly IPAddress ClusterIp = IPAddress.Parse("10.96.0.10");
    private static readonly IPAddress LbIp = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress ExternalIp = IPAddress.Parse("198.51.100.7");

    private static UdpServicePort Dns(params string[] serving) => new(
        new ServicePortInfo
        {
            Name = new ServicePortName("kube-system", "dns", "dns", "UDP"),
            ClusterIP = ClusterIp,
            Port = 53,
            Protocol = "UDP",
            NodePort = 30053,
            LoadBalancerVIPs = new ValueArray<IPAddress>([LbIp]),
            ExternalIPs = new ValueArray<IPAddress>([ExternalIp]),
        },
        new HashSet<string>(serving));

    private static ConntrackFlow Flow(IPAddress dst, int port, string replySrc, string protocol = "udp") => new()
    {
        Protocol = protocol,
        OrigSrc = IPAddress.Parse("10.244.1.20"),
        OrigSrcPort = 40000,
        OrigDst = dst,
        OrigDstPort = port,
        ReplySrc = IPAddress.Parse(replySrc),
        ReplySrcPort = 53,
        ReplyDst = IPAddress.Parse("10.244.1.20"),
        ReplyDstPort = 40000,
    };

    [Fact]
    public void StaleFilters_FrontendEntryToGoneEndpoint_DeletedByIpPortAndReplySource()
    {
        var filters = ConntrackReconciler.StaleFilters(
            [Dns("10.244.1.5")],
            [Flow(ClusterIp, 53, "10.244.9.9"), Flow(LbIp, 53, "10.244.9.9"), Flow(ExternalIp, 53, "10.244.9.9"), Flow(ClusterIp, 53, "10.244.1.5")]);
        Assert.Equal(3, filters.Count);
        Assert.All(filters, f => Assert.Equal(IPAddress.Parse("10.244.9.9"), f.ReplySrc));
        Assert.All(filters, f => Assert.Equal(53, f.OrigDstPort));
        Assert.Equal([ClusterIp, LbIp, ExternalIp], filters.Select(f => f.OrigDst!));
    }

    [Fact]
    public void StaleFilters_NodePortEntryToGoneEndpoint_DeletedByPortAndReplySourceOnAnyAddress()
    {
        var filters = ConntrackReconciler.StaleFilters([Dns("10.244.1.5")], [Flow(IPAddress.Parse("10.0.0.2"), 30053, "10.244.9.9")]);
        var f = Assert.Single(filters);
        Assert.Null(f.OrigDst);
        Assert.Equal(30053, f.OrigDstPort);
        Assert.Equal(IPAddress.Parse("10.244.9.9"), f.ReplySrc);
    }

    [Fact]
    public void StaleFilters_ServiceWithoutServingEndpoints_Skipped() =>
        Assert.Empty(ConntrackReconciler.StaleFilters([Dns()], [Flow(ClusterIp, 53, "10.244.9.9")]));

    [Fact]
    public void StaleFilters_TcpEntryOrOtherPortOrDuplicate_OnlyOneUdpFilter()
    {
        var filters = ConntrackReconciler.StaleFilters(
            [Dns("10.244.1.5")],
            [Flow(ClusterIp, 53, "10.244.9.9", "tcp"), Flow(ClusterIp, 54, "10.244.9.9"), Flow(ClusterIp, 53, "10.244.9.9"), Flow(ClusterIp, 53, "10.244.9.9") with { OrigSrcPort = 40001 }]);
        Assert.Single(filters);
    }

    [Fact]
    public async Task ReconcileAsync_FakeConntrack_DeletesOnlyStaleEntries()
    {
        var ct = new FakeConntrack();
        ct.Add(Flow(ClusterIp, 53, "10.244.9.9"));
        ct.Add(Flow(ClusterIp, 53, "10.244.1.5"));
        var deleted = await ConntrackReconciler.ReconcileAsync(ct, IpFamily.IPv4, [Dns("10.244.1.5")], CancellationToken.None);
        Assert.Equal(1, deleted);
        Assert.Equal("10.244.1.5", Assert.Single(ct.Flows).ReplySrc.ToString());
    }

    [Fact]
    public async Task ReconcileAsync_NoServingEndpointsAnywhere_DoesNotListTable()
    {
        var ct = new ThrowingConntrack();
        Assert.Equal(0, await ConntrackReconciler.ReconcileAsync(ct, IpFamily.IPv4, [Dns()], CancellationToken.None));
    }

    private sealed class ThrowingConntrack : IConntrack
    {
        public Task<IReadOnlyList<ConntrackFlow>> ListAsync(System.Net.Sockets.AddressFamily family, string? protocol, CancellationToken ct) =>
            throw new InvalidOperationException("listed");

        public Task<int> DeleteAsync(ConntrackFilter filter, CancellationToken ct) => throw new InvalidOperationException("deleted");
    }
}
