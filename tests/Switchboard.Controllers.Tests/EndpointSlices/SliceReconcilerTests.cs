using k8s.Models;
using Switchboard.Controllers.EndpointSlices;
using static Switchboard.Controllers.Tests.EndpointSlices.Model;

namespace Switchboard.Controllers.Tests.EndpointSlices;

/// <summary>Upstream's EndpointSlice rules, table by table, on the pure reconciler (no API server).</summary>
public sealed class SliceReconcilerTests
{
    private static SliceReconciler Reconciler(int max = 100) => new(max, topology: null);

    // ---- which pods, which conditions ----

    public static TheoryData<string, V1Pod, bool, (bool Ready, bool Serving, bool Terminating)?> Conditions => new()
    {
        { "ready pod", Pod("p", "10.0.0.1", ready: true), false, (true, true, false) },
        { "not ready pod", Pod("p", "10.0.0.1", ready: false), false, (false, false, false) },
        { "terminating ready pod: serving but never ready", Pod("p", "10.0.0.1", ready: true, deleting: true), false, (false, true, true) },
        { "terminating unready pod", Pod("p", "10.0.0.1", ready: false, deleting: true), false, (false, false, true) },
        { "publishNotReadyAddresses: not ready pod is ready", Pod("p", "10.0.0.1", ready: false), true, (true, false, false) },
        { "publishNotReadyAddresses: terminating pod is ready", Pod("p", "10.0.0.1", ready: true, deleting: true), true, (true, true, true) },
        { "succeeded pod is no endpoint", Pod("p", "10.0.0.1", phase: "Succeeded"), false, null },
        { "failed pod is no endpoint", Pod("p", "10.0.0.1", phase: "Failed"), false, null },
        { "pod without IP is no endpoint", Pod("p", null), false, null },
    };

    [Theory]
    [MemberData(nameof(Conditions))]
    public void Plan_PodState_GivesUpstreamConditions(string name, V1Pod pod, bool publishNotReady, (bool Ready, bool Serving, bool Terminating)? expected)
    {
        var plan = Reconciler().Plan(Service(publishNotReady: publishNotReady), [pod], [], ThreeZones(), null);

        var slice = Assert.Single(plan.ToCreate);
        if (expected is null)
        {
            Assert.Empty(slice.Endpoints); // the placeholder
            return;
        }
        var e = Assert.Single(slice.Endpoints);
        Assert.True(expected == (e.Conditions.Ready!.Value, e.Conditions.Serving!.Value, e.Conditions.Terminating!.Value), name);
        Assert.Equal(["10.0.0.1"], e.Addresses);
        Assert.Equal("node-a", e.NodeName);
        Assert.Equal("zone-a", e.Zone);
        Assert.Equal(new V1ObjectReference { Kind = "Pod", NamespaceProperty = Ns, Name = "p", Uid = "uid-p" }, e.TargetRef);
        Assert.Null(e.Hostname);
    }

    [Fact]
    public void Plan_ReadyNotReadyTerminating_UpdatesTheSameSliceEachTime()
    {
        var api = new FakeSlices();
        var svc = Service();
        var r = Reconciler();
        api.Apply(r.Plan(svc, [Pod("p", "10.0.0.1", ready: true)], api.Stored, ThreeZones(), null));
        var name = Assert.Single(api.Stored).Metadata.Name;

        foreach (var (pod, ready, serving, terminating) in new[]
        {
            (Pod("p", "10.0.0.1", ready: false), false, false, false),
            (Pod("p", "10.0.0.1", ready: true, deleting: true), false, true, true),
            (Pod("p", "10.0.0.1", ready: false, deleting: true), false, false, true),
        })
        {
            var plan = r.Plan(svc, [pod], api.Stored, ThreeZones(), null);
            Assert.Empty(plan.ToCreate);
            Assert.Empty(plan.ToDelete);
            var updated = Assert.Single(plan.ToUpdate);
            Assert.Equal(name, updated.Metadata.Name);
            var e = Assert.Single(updated.Endpoints);
            Assert.Equal((ready, serving, terminating), (e.Conditions.Ready!.Value, e.Conditions.Serving!.Value, e.Conditions.Terminating!.Value));
            api.Apply(plan);
        }

        // Gone entirely: the slice is emptied into the placeholder (a create and a delete merged into one update).
        var last = r.Plan(svc, [], api.Stored, ThreeZones(), null);
        Assert.Equal(1, last.Writes);
        var placeholder = Assert.Single(last.ToUpdate);
        Assert.Equal(name, placeholder.Metadata.Name);
        Assert.Empty(placeholder.Endpoints);
        Assert.Empty(placeholder.Ports);
    }

    [Fact]
    public void Plan_UnchangedPods_WritesNothing()
    {
        var api = new FakeSlices();
        var svc = Service();
        var pods = Enumerable.Range(1, 30).Select(i => Pod("p" + i, "10.0.0." + i)).ToList();
        api.Apply(Reconciler().Plan(svc, pods, api.Stored, ThreeZones(), Created));

        var again = Reconciler().Plan(svc, pods, api.Stored, ThreeZones(), null);

        Assert.Equal(0, again.Writes);
    }

    [Fact]
    public void Plan_OnePodChanges_RewritesExactlyOneSlice()
    {
        var api = new FakeSlices();
        var svc = Service();
        var pods = Enumerable.Range(1, 250).Select(i => Pod("p" + i, $"10.0.{i / 200}.{i % 200}")).ToList();
        api.Apply(Reconciler().Plan(svc, pods, api.Stored, ThreeZones(), null));
        Assert.Equal(3, api.Stored.Count);

        pods[137] = Pod("p138", pods[137].Status.PodIP, ready: false);
        var plan = Reconciler().Plan(svc, pods, api.Stored, ThreeZones(), null);

        Assert.Equal(1, plan.Writes);
        var slice = Assert.Single(plan.ToUpdate);
        Assert.Contains(slice.Endpoints, e => e.TargetRef.Name == "p138" && e.Conditions.Ready == false);
    }

    [Fact]
    public void Plan_250Endpoints_SplitIntoSlicesOf100()
    {
        var pods = Enumerable.Range(1, 250).Select(i => Pod("p" + i, $"10.1.{i / 250}.{i % 250}")).ToList();

        var plan = Reconciler().Plan(Service(), pods, [], ThreeZones(), null);

        Assert.Equal([100, 100, 50], plan.ToCreate.Select(s => s.Endpoints.Count).Order().Reverse());
        Assert.Equal(250, plan.ToCreate.SelectMany(Addresses).Distinct().Count());
    }

    [Theory]
    [InlineData(10, 10, 1)]
    [InlineData(10, 25, 3)]
    [InlineData(1000, 1000, 1)]
    [InlineData(1000, 1001, 2)]
    public void Plan_MaxEndpointsPerSlice_IsAFlag(int max, int pods, int expectedSlices)
    {
        var list = Enumerable.Range(1, pods).Select(i => Pod("p" + i, $"10.2.{i / 250}.{i % 250}")).ToList();

        var plan = Reconciler(max).Plan(Service(), list, [], ThreeZones(), null);

        Assert.Equal(expectedSlices, plan.ToCreate.Count);
        Assert.All(plan.ToCreate, s => Assert.True(s.Endpoints.Count <= max));
        Assert.Equal(pods, plan.ToCreate.Sum(s => s.Endpoints.Count));
    }

    [Fact]
    public void Plan_TenNewEndpointsAndTwoSlicesWithFiveFree_CreatesOneSliceInsteadOfTwoUpdates()
    {
        // Upstream docs' example: one create is preferred to several updates.
        var api = new FakeSlices();
        var svc = Service();
        var pods = Enumerable.Range(1, 190).Select(i => Pod("p" + i, $"10.3.{i / 200}.{i % 200}")).ToList();
        var r = Reconciler();
        api.Apply(r.Plan(svc, pods.Take(95).ToList(), api.Stored, ThreeZones(), null));
        api.Apply(r.Plan(svc, pods, api.Stored, ThreeZones(), null));
        Assert.Equal([95, 95], api.Stored.Select(s => s.Endpoints.Count));

        pods.AddRange(Enumerable.Range(191, 10).Select(i => Pod("p" + i, $"10.3.9.{i % 200}")));
        var plan = r.Plan(svc, pods, api.Stored, ThreeZones(), null);

        Assert.Empty(plan.ToUpdate);
        Assert.Equal(10, Assert.Single(plan.ToCreate).Endpoints.Count);
    }

    [Fact]
    public void Plan_FewNewEndpoints_FillTheUnchangedSliceClosestToFull()
    {
        var api = new FakeSlices();
        var svc = Service();
        var r = Reconciler();
        var pods = Enumerable.Range(1, 150).Select(i => Pod("p" + i, $"10.4.{i / 200}.{i % 200}")).ToList();
        api.Apply(r.Plan(svc, pods, api.Stored, ThreeZones(), null)); // 100 + 50
        var fifty = api.Stored.Single(s => s.Endpoints.Count == 50).Metadata.Name;

        pods.AddRange(Enumerable.Range(151, 3).Select(i => Pod("p" + i, $"10.4.8.{i}")));
        var plan = r.Plan(svc, pods, api.Stored, ThreeZones(), null);

        var updated = Assert.Single(plan.ToUpdate);
        Assert.Equal(fifty, updated.Metadata.Name);
        Assert.Equal(53, updated.Endpoints.Count);
        Assert.Empty(plan.ToCreate);
    }

    [Fact]
    public void Plan_RemovedPodAndNewPod_ReplacedInTheSameSliceWithoutMoves()
    {
        var api = new FakeSlices();
        var svc = Service();
        var r = Reconciler();
        var pods = Enumerable.Range(1, 200).Select(i => Pod("p" + i, $"10.5.{i / 200}.{i % 200}")).ToList();
        api.Apply(r.Plan(svc, pods, api.Stored, ThreeZones(), null));
        var holder = api.Stored.Single(s => s.Endpoints.Any(e => e.TargetRef.Name == "p7")).Metadata.Name;

        pods.RemoveAt(6);
        pods.Add(Pod("p201", "10.5.9.1"));
        var plan = r.Plan(svc, pods, api.Stored, ThreeZones(), null);

        var updated = Assert.Single(plan.ToUpdate);
        Assert.Equal(holder, updated.Metadata.Name);
        Assert.Equal(100, updated.Endpoints.Count);
        Assert.Contains(updated.Endpoints, e => e.TargetRef.Name == "p201");
        Assert.Equal(0, plan.ToCreate.Count + plan.ToDelete.Count);
    }

    // ---- ports ----

    [Fact]
    public void Plan_NamedTargetPortWithMixedNumbers_OneSlicePerPortSet()
    {
        var svc = Service(ports: [new V1ServicePort { Name = "http", Port = 80, TargetPort = "web", Protocol = "TCP" }]);
        V1Pod Named(string name, string ip, int port) => Pod(name, ip, containerPorts: [new V1ContainerPort { Name = "web", ContainerPort = port, Protocol = "TCP" }]);
        var pods = new[] { Named("a", "10.6.0.1", 8080), Named("b", "10.6.0.2", 8080), Named("c", "10.6.0.3", 9090) };

        var plan = Reconciler().Plan(svc, pods, [], ThreeZones(), null);

        Assert.Equal(2, plan.ToCreate.Count);
        var p8080 = plan.ToCreate.Single(s => s.Ports.Single().Port == 8080);
        var p9090 = plan.ToCreate.Single(s => s.Ports.Single().Port == 9090);
        Assert.Equal(["10.6.0.1", "10.6.0.2"], Addresses(p8080).Order());
        Assert.Equal(["10.6.0.3"], Addresses(p9090));
        Assert.Equal(("http", "TCP"), (p9090.Ports[0].Name, p9090.Ports[0].Protocol));
    }

    public static TheoryData<string, V1Pod, int?> NamedPorts => new()
    {
        { "container port by name and protocol", Pod("p", "10.7.0.1", containerPorts: [new V1ContainerPort { Name = "dns", ContainerPort = 5353, Protocol = "UDP" }]), 5353 },
        { "same name, other protocol: not found", Pod("p", "10.7.0.1", containerPorts: [new V1ContainerPort { Name = "dns", ContainerPort = 5353, Protocol = "TCP" }]), null },
        {
            "restartable init container (sidecar)",
            Pod("p", "10.7.0.1", initContainers: [new V1Container { Name = "side", RestartPolicy = "Always", Ports = [new V1ContainerPort { Name = "dns", ContainerPort = 1053, Protocol = "UDP" }] }]),
            1053
        },
        {
            "plain init container is not searched",
            Pod("p", "10.7.0.1", initContainers: [new V1Container { Name = "init", Ports = [new V1ContainerPort { Name = "dns", ContainerPort = 1053, Protocol = "UDP" }] }]),
            null
        },
    };

    [Theory]
    [MemberData(nameof(NamedPorts))]
    public void Plan_NamedPortLookup_FollowsFindPort(string name, V1Pod pod, int? expected)
    {
        var svc = Service(ports: [new V1ServicePort { Name = "dns", Port = 53, TargetPort = "dns", Protocol = "UDP" }]);

        var slice = Assert.Single(Reconciler().Plan(svc, [pod], [], ThreeZones(), null).ToCreate);

        // An unresolved port is left out for that pod: the endpoint is published with no ports.
        Assert.Equal(expected, slice.Ports.SingleOrDefault()?.Port);
        Assert.Single(slice.Endpoints);
        Assert.NotNull(name);
    }

    [Fact]
    public void Plan_HeadlessWithoutPorts_EndpointsWithEmptyPorts()
    {
        var svc = Service(headless: true, ports: []);

        var slice = Assert.Single(Reconciler().Plan(svc, [Pod("p", "10.8.0.1")], [], ThreeZones(), null).ToCreate);

        Assert.Empty(slice.Ports);
        Assert.Single(slice.Endpoints);
        Assert.Equal("", slice.Metadata.Labels["service.kubernetes.io/headless"]);
    }

    // ---- address families ----

    [Fact]
    public void Plan_DualStackPods_TwoSliceFamilies()
    {
        var svc = Service(families: ["IPv4", "IPv6"]);
        var pods = new[] { Pod("a", ips: ["10.9.0.1", "fd00::1"]), Pod("b", ips: ["10.9.0.2", "FD00:0:0::2"]) };

        var plan = Reconciler().Plan(svc, pods, [], ThreeZones(), null);

        Assert.Equal(["IPv4", "IPv6"], plan.ToCreate.Select(s => s.AddressType).Order());
        Assert.Equal(["10.9.0.1", "10.9.0.2"], Addresses(plan.ToCreate.Single(s => s.AddressType == "IPv4")).Order());
        // Re-stringified canonically.
        Assert.Equal(["fd00::1", "fd00::2"], Addresses(plan.ToCreate.Single(s => s.AddressType == "IPv6")).Order());
    }

    [Fact]
    public void Plan_ServiceBecomesSingleStack_OtherFamilyDeleted()
    {
        var api = new FakeSlices();
        var pods = new[] { Pod("a", ips: ["10.9.0.1", "fd00::1"]) };
        api.Apply(Reconciler().Plan(Service(families: ["IPv4", "IPv6"]), pods, api.Stored, ThreeZones(), null));

        var plan = Reconciler().Plan(Service(families: ["IPv6"]), pods, api.Stored, ThreeZones(), null);

        Assert.Equal("IPv4", Assert.Single(plan.ToDelete).AddressType);
        Assert.Equal(0, plan.ToCreate.Count + plan.ToUpdate.Count);
    }

    public static TheoryData<string, V1Service, string[]> Families => new()
    {
        { "ipFamilies IPv6", Service(families: ["IPv6"]), ["IPv6"] },
        { "no ipFamilies, IPv4 ClusterIP", Service(families: []) , ["IPv4"] },
        { "no ipFamilies, IPv6 ClusterIP", WithClusterIp(Service(families: []), "fd00:96::a"), ["IPv6"] },
        { "no ipFamilies, headless: both", Service(families: [], headless: true), ["IPv4", "IPv6"] },
    };

    [Theory]
    [MemberData(nameof(Families))]
    public void AddressTypesFor_FollowsIpFamiliesThenClusterIp(string name, V1Service svc, string[] expected)
    {
        Assert.True(expected.SequenceEqual(SliceReconciler.AddressTypesFor(svc)), name);
    }

    private static V1Service WithClusterIp(V1Service svc, string ip)
    {
        svc.Spec.ClusterIP = ip;
        return svc;
    }

    // ---- metadata, ownership, placeholder ----

    [Fact]
    public void Plan_NewSlice_HasLabelsOwnerAndGenerateName()
    {
        var svc = Service(labels: new() { ["team"] = "a", ["kubernetes.io/service-name"] = "spoof", ["endpointslice.kubernetes.io/managed-by"] = "spoof" });

        var slice = Assert.Single(Reconciler().Plan(svc, [Pod("p", "10.10.0.1")], [], ThreeZones(), Created).ToCreate);

        Assert.Equal("web-", slice.Metadata.GenerateName);
        Assert.Null(slice.Metadata.Name);
        Assert.Equal(new Dictionary<string, string>
        {
            ["team"] = "a",
            ["kubernetes.io/service-name"] = "web",
            ["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io",
        }, slice.Metadata.Labels);
        var owner = Assert.Single(slice.Metadata.OwnerReferences);
        Assert.Equal(("v1", "Service", "web", "svc-uid", true, true), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));
        Assert.Equal("2025-01-01T00:00:00Z", slice.Metadata.Annotations["endpoints.kubernetes.io/last-change-trigger-time"]);
    }

    [Fact]
    public void Plan_ServiceLabelChange_UpdatesSliceLabelsOnly()
    {
        var api = new FakeSlices();
        var pods = new[] { Pod("p", "10.10.0.1") };
        api.Apply(Reconciler().Plan(Service(), pods, api.Stored, ThreeZones(), null));

        var plan = Reconciler().Plan(Service(labels: new() { ["tier"] = "front" }), pods, api.Stored, ThreeZones(), null);

        Assert.Equal("front", Assert.Single(plan.ToUpdate).Metadata.Labels["tier"]);
    }

    [Fact]
    public void Plan_NoPods_OnePlaceholderPerFamilyKeptAcrossSyncs()
    {
        var api = new FakeSlices();
        var svc = Service(families: ["IPv4", "IPv6"]);

        var first = Reconciler().Plan(svc, [], api.Stored, ThreeZones(), null);
        Assert.Equal(2, first.ToCreate.Count);
        Assert.All(first.ToCreate, s => Assert.Empty(s.Endpoints));
        api.Apply(first);

        Assert.Equal(0, Reconciler().Plan(svc, [], api.Stored, ThreeZones(), null).Writes);
    }

    [Fact]
    public void Plan_SliceOwnedByEarlierServiceWithSameName_ReplacedByUpdateNotKept()
    {
        var api = new FakeSlices();
        var pods = new[] { Pod("p", "10.11.0.1") };
        api.Apply(Reconciler().Plan(Service(uid: "old"), pods, api.Stored, ThreeZones(), null));

        var plan = Reconciler().Plan(Service(uid: "new"), pods, api.Stored, ThreeZones(), null);

        // Upstream only merges a create into a delete of a slice the Service owns: the old one is deleted.
        Assert.Single(plan.ToDelete);
        Assert.Equal("new", Assert.Single(plan.ToCreate).Metadata.OwnerReferences[0].Uid);
    }

    [Fact]
    public void Plan_ServiceBeingDeleted_CreatesNothing()
    {
        var svc = Service();
        svc.Metadata.DeletionTimestamp = Created;

        var plan = Reconciler().Plan(svc, [Pod("p", "10.12.0.1")], [], ThreeZones(), null);

        Assert.Empty(plan.ToCreate);
    }

    // ---- hostname, nodes ----

    [Theory]
    [InlineData("web", "host-1", "host-1")]
    [InlineData("other", "host-1", null)]
    [InlineData("web", null, null)]
    public void Plan_Hostname_SetWhenSubdomainIsTheService(string subdomain, string? hostname, string? expected)
    {
        var slice = Assert.Single(Reconciler().Plan(Service(headless: true), [Pod("p", "10.13.0.1", hostname: hostname, subdomain: subdomain)], [], ThreeZones(), null).ToCreate);

        Assert.Equal(expected, Assert.Single(slice.Endpoints).Hostname);
    }

    [Theory]
    [InlineData(false, 0, 1)]
    [InlineData(true, 1, 1)]
    public void Plan_PodOnUnknownNode_SkippedAndRetriedUnlessPublishNotReady(bool publishNotReady, int endpoints, int errors)
    {
        var plan = Reconciler().Plan(Service(publishNotReady: publishNotReady), [Pod("p", "10.14.0.1", node: "ghost")], [], ThreeZones(), null);

        Assert.Equal(endpoints, plan.ToCreate.Sum(s => s.Endpoints.Count));
        Assert.Equal(publishNotReady ? 0 : errors, plan.MissingNodes.Count);
        Assert.Equal(publishNotReady ? null : "skipping 1 Pod(s) for Service ns/web: Node ghost Not Found", plan.Error("ns/web"));
        if (publishNotReady)
        {
            Assert.Null(plan.ToCreate.Single().Endpoints.Single().Zone);
        }
    }

    [Fact]
    public void Plan_NodeWithoutZoneLabel_EndpointWithoutZone()
    {
        var nodes = new Dictionary<string, V1Node> { ["node-a"] = Node("node-a", zone: null) };

        var slice = Assert.Single(Reconciler().Plan(Service(), [Pod("p", "10.15.0.1")], [], n => nodes.GetValueOrDefault(n), null).ToCreate);

        Assert.Null(Assert.Single(slice.Endpoints).Zone);
    }

    [Fact]
    public void Plan_NoTriggerChange_RemovesTriggerAnnotationOnNextWrite()
    {
        var api = new FakeSlices();
        var svc = Service();
        api.Apply(Reconciler().Plan(svc, [Pod("p", "10.16.0.1")], api.Stored, ThreeZones(), Created));

        var plan = Reconciler().Plan(Service(labels: new() { ["x"] = "y" }), [Pod("p", "10.16.0.1")], api.Stored, ThreeZones(), null);

        Assert.False(Assert.Single(plan.ToUpdate).Metadata.Annotations.ContainsKey("endpoints.kubernetes.io/last-change-trigger-time"));
    }
}
