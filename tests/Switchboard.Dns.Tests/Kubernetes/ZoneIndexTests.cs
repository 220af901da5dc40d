using System.Buffers.Binary;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Tests.Fixtures;
using Switchboard.Dns.Wire;
using static Switchboard.Dns.Tests.Fixtures.Objects;

namespace Switchboard.Dns.Tests.Kubernetes;

/// <summary>The index and zone without sockets: SRV weights (N10), snapshot swaps, cut-down objects.</summary>
public sealed class ZoneIndexTests
{
    [Theory]
    [InlineData(1, 100)]
    [InlineData(2, 50)]
    [InlineData(6, 16)]
    [InlineData(150, 1)]
    public void Srv_WeightIsFloorOf100OverCount_AtLeastOne(int endpoints, int weight)
    {
        var index = new ZoneIndex("cluster.local", TimeProvider.System);
        InjectedServer.Feed(index, Namespace("ns"), Headless("ns", "h", false, ("p", 1, "TCP")),
            Slice("ns", "h", "h-1", "IPv4", [("p", 1, "TCP")], [.. Enumerable.Range(1, endpoints).Select(i => Ep($"10.1.{i / 200}.{(i % 200) + 1}"))]));
        index.MarkSynced();
        index.Publish();
        var zone = new ClusterZone(index, 5, PodsMode.Disabled, reverseFallthrough: false);

        var buffer = new byte[65535];
        var w = new DnsMessageWriter(buffer, buffer.Length);
        var name = DnsName.Encode("_p._tcp.h.ns.svc.cluster.local");
        w.TryWriteQuestion(name, DnsType.SRV, DnsClass.IN);
        Assert.Equal(ZoneStatus.Answered, zone.Serve(name, DnsType.SRV, ref w, out var rcode, out _));
        Assert.Equal(0, rcode);
        Assert.Equal(endpoints, w.AnswerCount);
        // First SRV rdata: after question (name + 4) and the answer's pointer, type, class, ttl, rdlength.
        var rdata = 12 + name.Length + 4 + 2 + 10;
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(rdata)));
        Assert.Equal(weight, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(rdata + 2)));
    }

    [Fact]
    public void Publish_ReadersKeepTheirSnapshot_NewOneSwappedIn()
    {
        var index = new ZoneIndex("cluster.local", TimeProvider.System);
        Assert.False(index.Current.Synced);
        InjectedServer.Feed(index, Namespace("ns"), ClusterIp("ns", "a", "10.96.0.20", ("http", 80, "TCP")));
        index.Publish();
        Assert.False(index.Current.Synced); // nothing is published before the first sync (N9)
        index.MarkSynced();
        index.Publish();
        var before = index.Current;
        Assert.True(before.Services.ContainsKey("a.ns"));

        index.RemoveService("ns", "a");
        InjectedServer.Feed(index, ClusterIp("ns", "b", "10.96.0.21", ("http", 80, "TCP")));
        index.Publish();
        Assert.True(before.Services.ContainsKey("a.ns"), "an old snapshot never changes");
        Assert.False(index.Current.Services.ContainsKey("a.ns"));
        Assert.True(index.Current.Services.ContainsKey("b.ns"));
        Assert.False(index.Current.Reverse.ContainsKey(IpKey.From(System.Net.IPAddress.Parse("10.96.0.20"))));
        Assert.True(index.Current.Reverse.ContainsKey(IpKey.From(System.Net.IPAddress.Parse("10.96.0.21"))));
        Assert.True(index.Current.Serial >= before.Serial);
    }

    [Fact]
    public void SlimModel_KeepsOnlyWhatDnsReads()
    {
        var svc = ClusterIp("ns", "a", "10.96.0.20", ("http", 80, "TCP"));
        svc.Metadata.Labels = new Dictionary<string, string> { ["app"] = "a" };
        svc.Metadata.Annotations = new Dictionary<string, string> { ["big"] = new string('x', 10000), [ServiceInfo.TolerateUnreadyAnnotation] = "true" };
        svc.Metadata.ManagedFields = [new k8s.Models.V1ManagedFieldsEntry { Manager = "kubectl", Operation = "Update" }];
        svc.Metadata.Uid = "u1";
        svc.Metadata.ResourceVersion = "42";
        var slim = InjectedServer.Slim<ServiceObject>(svc);
        Assert.Equal(("a", "ns", "u1", "42"), (slim.Metadata.Name, slim.Metadata.NamespaceProperty, slim.Metadata.Uid, slim.Metadata.ResourceVersion));
        Assert.Null(slim.Metadata.Labels);
        Assert.Null(slim.Metadata.ManagedFields);
        Assert.Equal([ServiceInfo.TolerateUnreadyAnnotation], slim.Metadata.Annotations!.Keys);
        var info = ServiceInfo.From(slim);
        Assert.True(info.PublishNotReady);
        Assert.Equal(ServiceKind.ClusterIP, info.Kind);
        Assert.Equal("10.96.0.20", Assert.Single(info.ClusterIPs).ToString());
    }

    [Fact]
    public void SliceInfo_IgnoresUnlabelledAndFqdnSlices_ReadsTriggerTime()
    {
        var slice = Slice("ns", "svc", "s-1", "IPv4", [("p", 1, "TCP")], Ep("10.0.0.1"));
        slice.Metadata.Annotations = new Dictionary<string, string> { [SliceInfo.TriggerTimeAnnotation] = "2026-01-02T03:04:05Z" };
        var info = SliceInfo.From(InjectedServer.Slim<EndpointSliceObject>(slice))!;
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), info.TriggerTime);
        slice.AddressType = "FQDN";
        Assert.Null(SliceInfo.From(InjectedServer.Slim<EndpointSliceObject>(slice)));
        slice.AddressType = "IPv4";
        slice.Metadata.Labels.Clear();
        Assert.Null(SliceInfo.From(InjectedServer.Slim<EndpointSliceObject>(slice)));
    }
}
