using k8s.Models;
using Switchboard.Controllers.EndpointSlices;
using Switchboard.Controllers.Topology;
using static Switchboard.Controllers.Tests.EndpointSlices.Model;

namespace Switchboard.Controllers.Tests.Topology;

/// <summary>Topology Aware Routing ("Auto" hints) and trafficDistribution, with upstream's cases.</summary>
public sealed class TopologyCacheTests
{
    private static TopologyCache Cache(params (string Zone, string Cpu)[] nodes)
    {
        var cache = new TopologyCache();
        cache.SetNodes(nodes.Select((n, i) => Node("n" + i, n.Zone, n.Cpu)));
        return cache;
    }

    private static V1Endpoint Ep(string ip, string? zone, bool? ready = true, string? node = null, V1EndpointHints? hints = null) => new()
    {
        Addresses = [ip],
        Zone = zone,
        NodeName = node,
        Hints = hints,
        Conditions = new V1EndpointConditions { Ready = ready },
    };

    private static V1EndpointSlice Slice(params V1Endpoint[] endpoints) => new()
    {
        Metadata = new V1ObjectMeta { Name = "s-" + endpoints.FirstOrDefault()?.Addresses[0], NamespaceProperty = Ns },
        AddressType = "IPv4",
        Endpoints = [.. endpoints],
    };

    private static SliceInfo Info(List<V1EndpointSlice>? create = null, List<V1EndpointSlice>? update = null, List<V1EndpointSlice>? unchanged = null) => new()
    {
        ServiceKey = "ns/svc",
        AddressType = "IPv4",
        ToCreate = create ?? [],
        ToUpdate = update ?? [],
        Unchanged = unchanged ?? [],
    };

    private static string? HintOf(V1Endpoint e) => e.Hints?.ForZones?.SingleOrDefault()?.Name;

    // ---- SetNodes (upstream TestSetNodes) ----

    public static TheoryData<string, V1Node[], Dictionary<string, double>?> NodeSets => new()
    {
        { "empty", [], null },
        { "single node", [Node("a", "zone-a", "1000m")], null },
        { "single zone", [Node("a", "zone-a", "1000m"), Node("b", "zone-a", "1000m")], null },
        { "2 zones", [Node("a", "zone-a", "1000m"), Node("b", "zone-b", "1000m")], new() { ["zone-a"] = 0.5, ["zone-b"] = 0.5 } },
        { "2 zones, the only node of one not ready", [Node("a", "zone-a", "1000m", ready: false), Node("b", "zone-b", "1000m")], null },
        { "2 zones, the only node of one control plane", [Node("a", "zone-a", "1000m"), Node("b", "zone-b", "1000m", controlPlane: true)], null },
        { "unready node ignored", [Node("a", "zone-a", "1000m"), Node("b", "zone-b", "1000m"), Node("c", "zone-b", "1000m", ready: false)], new() { ["zone-a"] = 0.5, ["zone-b"] = 0.5 } },
        { "control-plane node ignored", [Node("a", "zone-a", "1000m"), Node("b", "zone-b", "1000m"), Node("c", "zone-b", "1000m", controlPlane: true)], new() { ["zone-a"] = 0.5, ["zone-b"] = 0.5 } },
        { "a node without zone: insufficient", [Node("a", "zone-a", "1000m"), Node("b", "zone-b", "1000m"), Node("c", null, "1000m")], null },
        { "a node without CPU: insufficient", [Node("a", "zone-a", "1000m"), Node("b", "zone-b", "1000m"), Node("c", "zone-b", "0")], null },
        {
            "3 zones, 4 nodes in 1, 2 nodes in 1, 1 node in 1",
            [
                Node("a1", "zone-a", "1000m"), Node("a2", "zone-a", "1000m"), Node("a3", "zone-a", "1000m"), Node("a4", "zone-a", "2000m"),
                Node("b1", "zone-b", "3000m"), Node("b2", "zone-b", "1500m"), Node("c1", "zone-c", "500m"),
            ],
            new() { ["zone-a"] = 0.5, ["zone-b"] = 0.45, ["zone-c"] = 0.05 }
        },
    };

    [Theory]
    [MemberData(nameof(NodeSets))]
    public void SetNodes_ZoneShares_AsUpstream(string name, V1Node[] nodes, Dictionary<string, double>? expected)
    {
        var cache = new TopologyCache();
        cache.SetNodes(nodes);

        if (expected is null)
        {
            Assert.True(cache.CpuRatiosByZone is null, name);
            return;
        }
        Assert.Equal(expected.OrderBy(kv => kv.Key), cache.CpuRatiosByZone!.OrderBy(kv => kv.Key));
    }

    // ---- getAllocations ----

    public static TheoryData<string, (string, string)[], int, string?, Dictionary<string, (int Min, int Max)>?> AllocationCases => new()
    {
        // kubernetes/kubernetes#122437: desired 3.67 per zone, minimum ceil(3.67/1.2) = 4 each, 12 > 11.
        { "#122437: 11 endpoints over 3 equal zones", [("zone-a", "4"), ("zone-b", "4"), ("zone-c", "4")], 11, "Unable to allocate minimum required endpoints to each zone without exceeding overload threshold (11 endpoints, 3 zones)", null },
        { "12 endpoints over 3 equal zones", [("zone-a", "4"), ("zone-b", "4"), ("zone-c", "4")], 12, null, new() { ["zone-a"] = (4, 4), ["zone-b"] = (4, 4), ["zone-c"] = (4, 4) } },
        { "10 endpoints over 3 equal zones", [("zone-a", "4"), ("zone-b", "4"), ("zone-c", "4")], 10, null, new() { ["zone-a"] = (3, 4), ["zone-b"] = (3, 4), ["zone-c"] = (3, 4) } },
        { "fewer endpoints than zones", [("zone-a", "4"), ("zone-b", "4"), ("zone-c", "4")], 2, "Insufficient number of endpoints (2 endpoints, 3 zones)", null },
        { "no node information", [], 5, "Insufficient Node information: allocatable CPU or zone not specified on one or more nodes", null },
        { "2 endpoints, 45/55 shares", [("zone-a", "450m"), ("zone-b", "550m")], 2, null, new() { ["zone-a"] = (1, 1), ["zone-b"] = (1, 1) } },
        { "uneven shares 50/45/5 with 20 endpoints", [("zone-a", "5"), ("zone-b", "4500m"), ("zone-c", "500m")], 20, null, new() { ["zone-a"] = (9, 11), ["zone-b"] = (8, 10), ["zone-c"] = (1, 3) } },
    };

    [Theory]
    [MemberData(nameof(AllocationCases))]
    public void GetAllocations_OverloadThresholdAndMinimumPerZone(string name, (string, string)[] nodes, int endpoints, string? disabledMessage, Dictionary<string, (int Min, int Max)>? expected)
    {
        var (allocations, reason) = Cache(nodes).GetAllocations(endpoints);

        if (disabledMessage is not null)
        {
            Assert.Null(allocations);
            Assert.Equal(("Warning", "TopologyAwareHintsDisabled", disabledMessage), (reason!.Type, reason.Reason, reason.Message));
            return;
        }
        Assert.True(reason is null, name);
        Assert.Equal(expected!.OrderBy(kv => kv.Key), allocations!.Select(kv => KeyValuePair.Create(kv.Key, (kv.Value.Minimum, kv.Value.Maximum))).OrderBy(kv => kv.Key));
    }

    // ---- AddHints (upstream TestAddHints) ----

    [Fact]
    public void AddHints_122437_ElevenEndpointsThreeZones_HintsRemovedWithEvent()
    {
        var cache = Cache(("zone-a", "4"), ("zone-b", "4"), ("zone-c", "4"));
        var zones = new[] { "zone-a", "zone-b", "zone-c" };
        var old = Slice([.. Enumerable.Range(0, 11).Select(i => Ep("10.0.0." + i, zones[i % 3], hints: TopologyCache.ZoneHint(zones[i % 3])))]);

        var (create, update, events) = cache.AddHints(Info(unchanged: [old]));

        Assert.Empty(create);
        var cleared = Assert.Single(update);
        Assert.All(cleared.Endpoints, e => Assert.Null(e.Hints));
        Assert.NotNull(old.Endpoints[0].Hints); // the cached slice is not touched
        var ev = Assert.Single(events);
        Assert.Equal("Unable to allocate minimum required endpoints to each zone without exceeding overload threshold (11 endpoints, 3 zones), addressType: IPv4", ev.Message);
        Assert.False(cache.HasPopulatedHints("ns/svc"));
    }

    [Fact]
    public void AddHints_TwelveEndpointsThreeZones_EachHintedForItsOwnZone()
    {
        var cache = Cache(("zone-a", "4"), ("zone-b", "4"), ("zone-c", "4"));
        var zones = new[] { "zone-a", "zone-b", "zone-c" };
        var slice = Slice([.. Enumerable.Range(0, 12).Select(i => Ep("10.0.0." + i, zones[i % 3]))]);

        var (create, _, events) = cache.AddHints(Info(create: [slice]));

        Assert.All(Assert.Single(create).Endpoints, e => Assert.Equal(e.Zone, HintOf(e)));
        Assert.Equal(("Normal", "TopologyAwareHintsEnabled", "Topology Aware Hints has been enabled, addressType: IPv4"), (events[0].Type, events[0].Reason, events[0].Message));
        Assert.True(cache.HasPopulatedHints("ns/svc"));

        // Already enabled: no second "enabled" event.
        var (_, _, again) = cache.AddHints(Info(create: [Slice([.. slice.Endpoints])]));
        Assert.Empty(again);
    }

    [Fact]
    public void AddHints_ThreeZoneThreshold_OneEndpointLentFromBusiestZone()
    {
        // Upstream "slices to create and update within 3 zone threshold": shares 35/35/30, 10 endpoints.
        var cache = Cache(("zone-a", "3500m"), ("zone-b", "3500m"), ("zone-c", "3000m"));
        var create = new List<V1EndpointSlice>
        {
            Slice(Ep("10.1.2.3", "zone-a"), Ep("10.1.2.4", "zone-b")),
            Slice(Ep("10.1.3.3", "zone-c"), Ep("10.1.3.4", "zone-c"), Ep("10.1.3.5", "zone-a")),
        };
        var update = new List<V1EndpointSlice>
        {
            Slice(Ep("10.2.2.3", "zone-a"), Ep("10.2.2.4", "zone-a")),
            Slice(Ep("10.2.3.3", "zone-b"), Ep("10.2.3.4", "zone-c"), Ep("10.2.3.5", "zone-a")),
        };

        var (c, u, events) = cache.AddHints(Info(create, update));

        var all = c.Concat(u).SelectMany(s => s.Endpoints).ToList();
        Assert.Equal("zone-b", HintOf(all[0])); // first ready zone-a endpoint goes to zone-b
        Assert.Equal(all.Skip(1).Select(e => e.Zone), all.Skip(1).Select(HintOf));
        Assert.Equal([("zone-a", 4), ("zone-b", 3), ("zone-c", 3)], all.GroupBy(HintOf).Select(g => (g.Key!, g.Count())).OrderBy(g => g.Item1));
        Assert.Equal("TopologyAwareHintsEnabled", Assert.Single(events).Reason);
    }

    [Fact]
    public void AddHints_UnreadyEndpoints_GetNoHintsAndDoNotCount()
    {
        var cache = Cache(("zone-a", "450m"), ("zone-b", "550m"));
        var slice = Slice(Ep("10.1.2.3", "zone-a"), Ep("10.1.2.4", "zone-b"), Ep("10.1.2.5", "zone-b", ready: false), Ep("10.1.2.6", "zone-b", ready: null));

        var (create, _, _) = cache.AddHints(Info(create: [slice]));

        Assert.Equal(["zone-a", "zone-b", null, null], Assert.Single(create).Endpoints.Select(HintOf));
    }

    [Fact]
    public void AddHints_EndpointWithoutZone_AllHintsRemoved()
    {
        var cache = Cache(("zone-a", "4"), ("zone-b", "4"));
        var slice = Slice(Ep("10.1.2.3", "zone-a"), Ep("10.1.2.4", "zone-b"), Ep("10.1.2.6", "zone-a"), Ep("10.1.2.5", null));

        var (create, _, events) = cache.AddHints(Info(create: [slice]));

        Assert.All(Assert.Single(create).Endpoints, e => Assert.Null(e.Hints));
        Assert.Equal("One or more endpoints do not have a zone specified, addressType: IPv4", Assert.Single(events).Message);
    }

    [Fact]
    public void AddHints_UnchangedSliceWithValidHints_StaysUnchanged()
    {
        var cache = Cache(("zone-a", "4"), ("zone-b", "4"));
        var unchanged = Slice(Ep("10.1.2.3", "zone-a", hints: TopologyCache.ZoneHint("zone-a")), Ep("10.1.2.4", "zone-b", hints: TopologyCache.ZoneHint("zone-b")));
        var missing = Slice(Ep("10.1.3.3", "zone-a"), Ep("10.1.3.4", "zone-b"));
        var info = Info(unchanged: [unchanged, missing]);

        var (_, update, _) = cache.AddHints(info);

        Assert.Same(unchanged, Assert.Single(info.Unchanged));
        Assert.Equal(["zone-a", "zone-b"], Assert.Single(update).Endpoints.Select(HintOf));
    }

    [Fact]
    public void GetOverloadedServices_AfterCapacityShift_ListsService()
    {
        var cache = Cache(("zone-a", "4"), ("zone-b", "4"));
        cache.AddHints(Info(create: [Slice(Ep("10.0.0.1", "zone-a"), Ep("10.0.0.2", "zone-b"))]));
        Assert.Empty(cache.GetOverloadedServices());

        cache.SetNodes([Node("a", "zone-a", "1"), Node("b", "zone-b", "9")]);

        Assert.Equal(["ns/svc"], cache.GetOverloadedServices());
    }

    // ---- trafficDistribution ----

    public static TheoryData<string?, string?[], string?[]> TrafficCases => new()
    {
        { "PreferClose", ["zone-a", "zone-b", null], [null, null, null] },
        { "PreferSameZone", ["zone-a", "zone-b", null], [null, null, null] },
        { "PreferSameNode", ["zone-a", "zone-b", null], ["node-a", "node-b", null] },
        { null, [null, null, null], [null, null, null] },
        { "Unknown", [null, null, null], [null, null, null] },
    };

    [Theory]
    [MemberData(nameof(TrafficCases))]
    public void TrafficDistribution_HintsReadyEndpointsOnly(string? value, string?[] zoneHints, string?[] nodeHints)
    {
        var slice = Slice(
            Ep("10.0.0.1", "zone-a", node: "node-a"),
            Ep("10.0.0.2", "zone-b", node: "node-b", hints: TopologyCache.ZoneHint("stale")),
            Ep("10.0.0.3", "zone-c", ready: false, node: "node-c"));

        var (_, update) = TrafficDistribution.ReconcileHints(value, [], [], [slice]);

        var updated = update.SingleOrDefault();
        var endpoints = (updated ?? slice).Endpoints;
        Assert.Equal(zoneHints, endpoints.Select(HintOf));
        Assert.Equal(nodeHints, endpoints.Select(e => e.Hints?.ForNodes?.SingleOrDefault()?.Name));
        Assert.Equal("stale", HintOf(slice.Endpoints[1])); // cache untouched
    }

    [Fact]
    public void TrafficDistribution_CorrectHints_NoUpdate()
    {
        var slice = Slice(Ep("10.0.0.1", "zone-a", node: "node-a", hints: TopologyCache.ZoneHint("zone-a")));

        var (_, update) = TrafficDistribution.ReconcileHints("PreferClose", [], [], [slice]);

        Assert.Empty(update);
    }

    // ---- through the reconciler: annotation precedence and events ----

    [Fact]
    public void Plan_AnnotationAndTrafficDistribution_AnnotationWins()
    {
        var cache = Cache(("zone-a", "4"), ("zone-b", "4"), ("zone-c", "4"));
        var reconciler = new SliceReconciler(100, cache);
        var svc = Service(annotations: new() { ["service.kubernetes.io/topology-mode"] = "Auto" }, trafficDistribution: "PreferSameNode");
        var nodes = ThreeZones();
        var pods = Enumerable.Range(0, 11).Select(i => Pod("p" + i, "10.20.0." + i, node: "node-" + "abc"[i % 3])).ToList();

        var plan = reconciler.Plan(svc, pods, [], nodes, null);

        // Auto with 11 endpoints over 3 equal zones: no hints at all (not PreferSameNode's), and a Warning.
        Assert.All(plan.ToCreate.SelectMany(s => s.Endpoints), e => Assert.Null(e.Hints));
        Assert.Equal("TopologyAwareHintsDisabled", Assert.Single(plan.Events).Reason);

        pods.Add(Pod("p11", "10.20.0.11", node: "node-c"));
        var twelve = reconciler.Plan(svc, pods, [], nodes, null);
        Assert.All(twelve.ToCreate.SelectMany(s => s.Endpoints), e => Assert.Equal(e.Zone, HintOf(e)));
        Assert.Equal("TopologyAwareHintsEnabled", Assert.Single(twelve.Events).Reason);
    }

    [Fact]
    public void Plan_AnnotationRemoved_HintsRemovedWithDisabledEvent()
    {
        var cache = Cache(("zone-a", "4"), ("zone-b", "4"), ("zone-c", "4"));
        var reconciler = new SliceReconciler(100, cache);
        var api = new FakeSlices();
        var pods = Enumerable.Range(0, 12).Select(i => Pod("p" + i, "10.21.0." + i, node: "node-" + "abc"[i % 3])).ToList();
        api.Apply(reconciler.Plan(Service(annotations: new() { ["service.kubernetes.io/topology-aware-hints"] = "auto" }), pods, api.Stored, ThreeZones(), null));
        Assert.All(api.Stored.SelectMany(s => s.Endpoints), e => Assert.NotNull(e.Hints));

        var plan = reconciler.Plan(Service(), pods, api.Stored, ThreeZones(), null);

        Assert.All(Assert.Single(plan.ToUpdate).Endpoints, e => Assert.Null(e.Hints));
        Assert.Equal("Topology Aware Hints has been disabled, addressType: IPv4", Assert.Single(plan.Events).Message);
    }

    [Theory]
    [InlineData("Auto", "Auto", true)]
    [InlineData(null, "auto", true)]
    [InlineData("Disabled", "Auto", false)] // the deprecated annotation wins when both are set
    [InlineData(null, "PreferZone", false)]
    [InlineData(null, null, false)]
    public void HintsEnabled_DeprecatedAnnotationTakesPrecedence(string? deprecated, string? current, bool expected)
    {
        var annotations = new Dictionary<string, string>();
        if (deprecated is not null)
        {
            annotations["service.kubernetes.io/topology-aware-hints"] = deprecated;
        }
        if (current is not null)
        {
            annotations["service.kubernetes.io/topology-mode"] = current;
        }

        Assert.Equal(expected, SliceReconciler.HintsEnabled(annotations));
    }
}
