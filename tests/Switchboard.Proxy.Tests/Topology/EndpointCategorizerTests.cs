using System.Net;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Topology;

namespace Switchboard.Proxy.Tests.Topology;

/// <summary>Cases from upstream pkg/proxy/topology_test.go (TestCategorizeEndpoints).</summary>
public sealed class EndpointCategorizerTests
{
    private static EndpointInfo E(string ip, bool local = false, bool ready = true, bool serving = true, bool terminating = false, string[]? zones = null, string[]? nodes = null) =>
        new(ip, 80, local, ready, serving, terminating,
            zones is null ? default : new ValueArray<string>(zones), nodes is null ? default : new ValueArray<string>(nodes));

    private static ServicePortInfo Svc(bool itpLocal = false, bool etpLocal = false, bool external = false) => new()
    {
        Name = new ServicePortName("ns", "svc", "p", "TCP"),
        ClusterIP = IPAddress.Parse("10.96.0.1"),
        Port = 80,
        Protocol = "TCP",
        NodePort = external ? 30000 : 0,
        InternalPolicyLocal = itpLocal,
        ExternalPolicyLocal = etpLocal,
    };

    private static string Keys(IReadOnlyList<EndpointInfo> eps) => string.Join(",", eps.Select(e => e.Ip).Order(StringComparer.Ordinal));

    [Fact]
    public void Categorize_NoHints_UsesAllReady()
    {
        var r = EndpointCategorizer.Categorize([E("10.1.2.3"), E("10.1.2.4"), E("10.1.2.5", ready: false, serving: false)], Svc(), "node1", "zone-a");
        Assert.Equal("10.1.2.3,10.1.2.4", Keys(r.Cluster));
        Assert.Empty(r.Local);
        Assert.True(r.HasAnyEndpoints);
    }

    [Fact]
    public void Categorize_ZoneHintsForThisZone_FiltersToZone()
    {
        var r = EndpointCategorizer.Categorize(
            [E("10.1.2.3", zones: ["zone-a"]), E("10.1.2.4", zones: ["zone-b"]), E("10.1.2.5", zones: ["zone-c"]), E("10.1.2.6", zones: ["zone-a"])],
            Svc(), "node1", "zone-a");
        Assert.Equal("10.1.2.3,10.1.2.6", Keys(r.Cluster));
    }

    [Fact]
    public void Categorize_OneEndpointMissingZoneHint_IgnoresHints()
    {
        var r = EndpointCategorizer.Categorize([E("10.1.2.3", zones: ["zone-a"]), E("10.1.2.4")], Svc(), "node1", "zone-a");
        Assert.Equal("10.1.2.3,10.1.2.4", Keys(r.Cluster));
    }

    [Fact]
    public void Categorize_NoEndpointForThisZone_IgnoresHints()
    {
        var r = EndpointCategorizer.Categorize([E("10.1.2.3", zones: ["zone-b"]), E("10.1.2.4", zones: ["zone-c"])], Svc(), "node1", "zone-a");
        Assert.Equal("10.1.2.3,10.1.2.4", Keys(r.Cluster));
    }

    [Fact]
    public void Categorize_NodeWithoutZoneLabel_IgnoresZoneHints()
    {
        var r = EndpointCategorizer.Categorize([E("10.1.2.3", zones: ["zone-a"]), E("10.1.2.4", zones: ["zone-b"])], Svc(), "node1", null);
        Assert.Equal("10.1.2.3,10.1.2.4", Keys(r.Cluster));
    }

    [Fact]
    public void Categorize_NodeHintsForThisNode_PreferSameNode()
    {
        var r = EndpointCategorizer.Categorize(
            [E("10.1.2.3", zones: ["zone-a"], nodes: ["node1"]), E("10.1.2.4", zones: ["zone-a"], nodes: ["node2"]), E("10.1.2.5", zones: ["zone-b"], nodes: ["node3"])],
            Svc(), "node1", "zone-a");
        Assert.Equal("10.1.2.3", Keys(r.Cluster));
    }

    [Fact]
    public void Categorize_NodeHintsNotForThisNode_FallsBackToZone()
    {
        var r = EndpointCategorizer.Categorize(
            [E("10.1.2.3", zones: ["zone-a"], nodes: ["node2"]), E("10.1.2.4", zones: ["zone-a"], nodes: ["node3"]), E("10.1.2.5", zones: ["zone-b"], nodes: ["node4"])],
            Svc(), "node1", "zone-a");
        Assert.Equal("10.1.2.3,10.1.2.4", Keys(r.Cluster));
    }

    [Fact]
    public void Categorize_NoReady_FallsBackToServingTerminating()
    {
        var r = EndpointCategorizer.Categorize(
            [E("10.1.2.3", ready: false, serving: true, terminating: true), E("10.1.2.4", ready: false, serving: false, terminating: true)],
            Svc(), "node1", "zone-a");
        Assert.Equal("10.1.2.3", Keys(r.Cluster));
        Assert.True(r.HasAnyEndpoints);
    }

    [Fact]
    public void Categorize_OnlyNotServing_HasNoEndpoints()
    {
        var r = EndpointCategorizer.Categorize([E("10.1.2.3", ready: false, serving: false, terminating: true)], Svc(), "node1", "zone-a");
        Assert.Empty(r.Cluster);
        Assert.False(r.HasAnyEndpoints);
    }

    [Fact]
    public void Categorize_InternalLocal_OnlyLocalReady()
    {
        var r = EndpointCategorizer.Categorize([E("10.0.0.0", local: true), E("10.0.0.1"), E("10.0.0.2", local: true)], Svc(itpLocal: true), "node1", null);
        Assert.Empty(r.Cluster);
        Assert.Equal("10.0.0.0,10.0.0.2", Keys(r.Local));
        Assert.Equal("10.0.0.0,10.0.0.2", Keys(r.AllReachable));
    }

    [Fact]
    public void Categorize_InternalLocalNoLocalEndpoints_HasAnyButNoLocal()
    {
        var r = EndpointCategorizer.Categorize([E("10.0.0.1"), E("10.0.0.2")], Svc(itpLocal: true), "node1", null);
        Assert.Empty(r.Local);
        Assert.Empty(r.AllReachable);
        Assert.True(r.HasAnyEndpoints);
    }

    [Fact]
    public void Categorize_ExternalLocal_LocalFallsBackToLocalServingTerminating()
    {
        var r = EndpointCategorizer.Categorize(
            [E("10.0.0.0", local: true, ready: false, serving: true, terminating: true), E("10.0.0.1"), E("10.0.0.2", local: true, ready: false, serving: false, terminating: true)],
            Svc(etpLocal: true, external: true), "node1", null);
        Assert.Equal("10.0.0.1", Keys(r.Cluster));
        Assert.Equal("10.0.0.0", Keys(r.Local));
        Assert.Equal("10.0.0.0,10.0.0.1", Keys(r.AllReachable));
    }

    [Fact]
    public void Categorize_ExternalLocalWithZoneHints_UnionOfZoneAndLocal()
    {
        var r = EndpointCategorizer.Categorize(
            [E("10.0.0.0", local: true, zones: ["zone-b"]), E("10.0.0.1", zones: ["zone-a"]), E("10.0.0.2", zones: ["zone-b"])],
            Svc(etpLocal: true, external: true), "node1", "zone-a");
        Assert.Equal("10.0.0.1", Keys(r.Cluster));
        Assert.Equal("10.0.0.0", Keys(r.Local));
        Assert.Equal("10.0.0.0,10.0.0.1", Keys(r.AllReachable));
    }
}
