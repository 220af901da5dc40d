using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Tracking;
using static Switchboard.Proxy.Tests.Builders;

namespace Switchboard.Proxy.Tests.Tracking;

public sealed class ChangeTrackerTests
{
    private static readonly ServicePortName P80 = new("ns1", "svc1", "p80", "TCP");

    [Fact]
    public void ServiceUpdate_AddThenApply_ProducesPortAndUpdatedService()
    {
        var tracker = new ServiceChangeTracker(IpFamily.IPv4);
        var map = new ServicePortMap();
        Assert.True(tracker.Update(null, Service("ns1", "svc1", "172.30.0.41", Port("p80", 80))));

        var result = map.Apply(tracker);

        Assert.Contains(new ServiceName("ns1", "svc1"), result.UpdatedServices);
        var info = Assert.Single(map).Value;
        Assert.Equal("172.30.0.41", info.ClusterIP.ToString());
        Assert.Equal(80, info.Port);
        Assert.Equal(0, tracker.PendingCount);
    }

    [Fact]
    public void ServiceUpdate_AddThenDeleteBeforeSync_CancelsOut()
    {
        var tracker = new ServiceChangeTracker(IpFamily.IPv4);
        var svc = Service("ns1", "svc1", "172.30.0.41", Port("p80", 80));
        tracker.Update(null, svc);

        Assert.False(tracker.Update(svc, null));
        Assert.Equal(0, tracker.PendingCount);
    }

    [Fact]
    public void ServiceUpdate_DeleteUdpService_ReportsStaleClusterIp()
    {
        var tracker = new ServiceChangeTracker(IpFamily.IPv4);
        var map = new ServicePortMap();
        var svc = Service("ns1", "dns", "172.30.0.10", Port("dns", 53, "UDP"), Port("dns-tcp", 53, "TCP"));
        tracker.Update(null, svc);
        map.Apply(tracker);

        tracker.Update(svc, null);
        var result = map.Apply(tracker);

        Assert.Empty(map);
        Assert.Equal(["172.30.0.10"], result.DeletedUdpClusterIps);
    }

    [Theory]
    [InlineData("None")]
    [InlineData("")]
    public void ServiceUpdate_Headless_IsSkipped(string clusterIp)
    {
        var tracker = new ServiceChangeTracker(IpFamily.IPv4);
        Assert.False(tracker.Update(null, Service("ns1", "h", clusterIp, Port("p", 80))));
    }

    [Fact]
    public void ServiceUpdate_ExternalNameAndProxyNameLabel_AreSkipped()
    {
        var tracker = new ServiceChangeTracker(IpFamily.IPv4);
        var ext = Service("ns1", "ext", "172.30.0.50", Port("p", 80)).With(s => s.Type = "ExternalName");
        var other = Service("ns1", "other", "172.30.0.51", Port("p", 80));
        other.Metadata.Labels = new Dictionary<string, string> { ["service.kubernetes.io/service-proxy-name"] = "someone-else" };

        Assert.False(tracker.Update(null, ext));
        Assert.False(tracker.Update(null, other));
    }

    [Fact]
    public void ServiceUpdate_DualStack_EachFamilySeesItsOwnClusterIp()
    {
        var svc = Service("ns1", "ds", "172.30.0.60", Port("p", 80)).With(s =>
        {
            s.ClusterIPs = ["172.30.0.60", "fd00:30::60"];
            s.IpFamilies = ["IPv4", "IPv6"];
            s.ExternalIPs = ["192.168.99.1", "2001:db8::1"];
        });
        var v4 = new ServiceChangeTracker(IpFamily.IPv4);
        var v6 = new ServiceChangeTracker(IpFamily.IPv6);
        var m4 = new ServicePortMap();
        var m6 = new ServicePortMap();
        v4.Update(null, svc);
        v6.Update(null, svc);
        m4.Apply(v4);
        m6.Apply(v6);

        Assert.Equal("172.30.0.60", Assert.Single(m4).Value.ClusterIP.ToString());
        Assert.Equal("192.168.99.1", Assert.Single(Assert.Single(m4).Value.ExternalIPs).ToString());
        Assert.Equal("fd00:30::60", Assert.Single(m6).Value.ClusterIP.ToString());
        Assert.Equal("2001:db8::1", Assert.Single(Assert.Single(m6).Value.ExternalIPs).ToString());
    }

    [Fact]
    public void ServiceConversion_LoadBalancerIpModeProxy_IsNotAVip()
    {
        var svc = Service("ns1", "lb", "172.30.0.70", Port("p", 80, nodePort: 30070)).With(s => s.Type = "LoadBalancer").LoadBalancerIps("5.6.7.8", "5.6.7.9");
        svc.Status.LoadBalancer.Ingress[1].IpMode = "Proxy";

        var ports = ServiceConversion.ToServicePorts(svc, IpFamily.IPv4);

        Assert.Equal(["5.6.7.8"], Assert.Single(ports).Value.LoadBalancerVIPs.Select(ip => ip.ToString()));
    }

    [Fact]
    public void ServiceConversion_ClientIpAffinityWithoutTimeout_DefaultsTo10800()
    {
        var svc = Service("ns1", "aff", "172.30.0.71", Port("p", 80)).With(s => s.SessionAffinity = "ClientIP");
        var info = Assert.Single(ServiceConversion.ToServicePorts(svc, IpFamily.IPv4)).Value;
        Assert.True(info.SessionAffinityClientIP);
        Assert.Equal(10800, info.StickyMaxAgeSeconds);
    }

    [Fact]
    public void EndpointSliceUpdate_MergesSlicesAndDeduplicates()
    {
        var tracker = new EndpointsChangeTracker("node1", IpFamily.IPv4, new FakeTimeProvider());
        var map = new EndpointsMap();
        var ports = new[] { EpPort("p80", 80) };
        tracker.EndpointSliceUpdate(Slice("ns1", "svc1", "svc1-a", "IPv4", ports, Ep("10.180.0.1", "node2"), Ep("10.180.0.2", "node1")), false);
        // The same endpoint moving between slices appears in both for a while; count it once.
        tracker.EndpointSliceUpdate(Slice("ns1", "svc1", "svc1-b", "IPv4", ports, Ep("10.180.0.2", "node1"), Ep("10.180.0.3")), false);

        var result = map.Apply(tracker);

        Assert.Contains(new ServiceName("ns1", "svc1"), result.UpdatedServices);
        var eps = map[P80];
        Assert.Equal(["10.180.0.1:80", "10.180.0.2:80", "10.180.0.3:80"], eps.Select(e => e.Key));
        Assert.True(eps[1].IsLocal);
        Assert.False(eps[0].IsLocal);
    }

    [Fact]
    public void EndpointSliceUpdate_UnchangedSlice_IsNoChange()
    {
        var tracker = new EndpointsChangeTracker("node1", IpFamily.IPv4, new FakeTimeProvider());
        var map = new EndpointsMap();
        var slice = Slice("ns1", "svc1", "svc1-a", "IPv4", [EpPort("p80", 80)], Ep("10.180.0.1"));
        Assert.True(tracker.EndpointSliceUpdate(slice, false));
        map.Apply(tracker);

        Assert.False(tracker.EndpointSliceUpdate(slice, false));
        Assert.Empty(map.Apply(tracker).UpdatedServices);
    }

    [Fact]
    public void EndpointSliceUpdate_IgnoresOtherFamilyHeadlessAndUnlabelled()
    {
        var tracker = new EndpointsChangeTracker("node1", IpFamily.IPv4, new FakeTimeProvider());
        var v6 = Slice("ns1", "svc1", "svc1-6", "IPv6", [EpPort("p80", 80)], Ep("fd00::1"));
        var headless = Slice("ns1", "h", "h-a", "IPv4", [EpPort("p80", 80)], Ep("10.0.0.1"));
        headless.Metadata.Labels["service.kubernetes.io/headless"] = "";
        var unlabelled = Slice("ns1", "svc1", "x", "IPv4", [EpPort("p80", 80)], Ep("10.0.0.2"));
        unlabelled.Metadata.Labels.Clear();

        Assert.False(tracker.EndpointSliceUpdate(v6, false));
        Assert.False(tracker.EndpointSliceUpdate(headless, false));
        Assert.False(tracker.EndpointSliceUpdate(unlabelled, false));
    }

    [Fact]
    public void EndpointSliceUpdate_SliceGainsProxyNameLabel_IsRemoved()
    {
        var tracker = new EndpointsChangeTracker("node1", IpFamily.IPv4, new FakeTimeProvider());
        var map = new EndpointsMap();
        var slice = Slice("ns1", "svc1", "svc1-a", "IPv4", [EpPort("p80", 80)], Ep("10.180.0.1"));
        tracker.EndpointSliceUpdate(slice, false);
        map.Apply(tracker);

        slice.Metadata.Labels["service.kubernetes.io/service-proxy-name"] = "other";
        Assert.True(tracker.EndpointSliceUpdate(slice, false));
        map.Apply(tracker);

        Assert.Empty(map);
    }

    [Fact]
    public void EndpointsApply_UdpEndpointRemoved_ReportsStaleEndpointAndNewlyActive()
    {
        var tracker = new EndpointsChangeTracker("node1", IpFamily.IPv4, new FakeTimeProvider());
        var map = new EndpointsMap();
        var ports = new[] { EpPort("dns", 53, "UDP") };
        tracker.EndpointSliceUpdate(Slice("ns1", "dns", "dns-a", "IPv4", ports, Ep("10.180.0.1"), Ep("10.180.0.2")), false);
        var first = map.Apply(tracker);
        Assert.Equal([new ServicePortName("ns1", "dns", "dns", "UDP")], first.NewlyActiveUdpServices);

        tracker.EndpointSliceUpdate(Slice("ns1", "dns", "dns-a", "IPv4", ports, Ep("10.180.0.2")), false);
        var second = map.Apply(tracker);

        var stale = Assert.Single(second.DeletedUdpEndpoints);
        Assert.Equal("10.180.0.1:53", stale.Endpoint);
        Assert.Empty(second.NewlyActiveUdpServices);
    }

    [Fact]
    public void EndpointSliceDelete_RemovesEndpoints()
    {
        var tracker = new EndpointsChangeTracker("node1", IpFamily.IPv4, new FakeTimeProvider());
        var map = new EndpointsMap();
        var slice = Slice("ns1", "svc1", "svc1-a", "IPv4", [EpPort("p80", 80)], Ep("10.180.0.1"));
        tracker.EndpointSliceUpdate(slice, false);
        map.Apply(tracker);

        Assert.True(tracker.EndpointSliceUpdate(slice, true));
        map.Apply(tracker);

        Assert.Empty(map);
    }

    [Fact]
    public void EndpointSliceUpdate_TriggerTimeAfterStart_IsReported()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));
        var tracker = new EndpointsChangeTracker("node1", IpFamily.IPv4, time);
        var map = new EndpointsMap();
        var slice = Slice("ns1", "svc1", "svc1-a", "IPv4", [EpPort("p80", 80)], Ep("10.180.0.1"));
        slice.Metadata.Annotations = new Dictionary<string, string> { ["endpoints.kubernetes.io/last-change-trigger-time"] = "2026-01-01T00:00:05Z" };
        tracker.EndpointSliceUpdate(slice, false);

        var result = map.Apply(tracker);

        Assert.Equal(DateTimeOffset.Parse("2026-01-01T00:00:05Z"), Assert.Single(result.LastChangeTriggerTimes[new ServiceName("ns1", "svc1")]));
    }

    [Fact]
    public void ServiceCidrTracker_UnionPerFamily()
    {
        var t = new ServiceCidrTracker();
        Assert.True(t.Update(null, new V1ServiceCIDR { Metadata = new V1ObjectMeta { Name = "kubernetes" }, Spec = new V1ServiceCIDRSpec { Cidrs = ["10.96.0.0/12", "fd00:10:96::/112"] } }));
        Assert.True(t.Update(null, new V1ServiceCIDR { Metadata = new V1ObjectMeta { Name = "extra" }, Spec = new V1ServiceCIDRSpec { Cidrs = ["10.200.0.0/24"] } }));

        Assert.Equal(["10.200.0.0/24", "10.96.0.0/12"], t.Snapshot(IpFamily.IPv4).Select(n => n.ToString()));
        Assert.Equal(["fd00:10:96::/112"], t.Snapshot(IpFamily.IPv6).Select(n => n.ToString()));
        Assert.True(t.Update(new V1ServiceCIDR { Metadata = new V1ObjectMeta { Name = "extra" } }, null));
        Assert.Equal(["10.96.0.0/12"], t.Snapshot(IpFamily.IPv4).Select(n => n.ToString()));
    }
}
