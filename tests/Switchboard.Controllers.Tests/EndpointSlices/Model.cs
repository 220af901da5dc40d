using k8s.Models;
using Switchboard.Controllers.EndpointSlices;

namespace Switchboard.Controllers.Tests.EndpointSlices;

/// <summary>In-memory builders for the reconciler's unit tests, and a fake "API" applying plans to a slice list.</summary>
internal static class Model
{
    public const string Ns = "ns";
    public static readonly DateTime Created = new(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static V1Service Service(
        string name = "web",
        Dictionary<string, string>? selector = null,
        IList<V1ServicePort>? ports = null,
        IList<string>? families = null,
        bool headless = false,
        bool publishNotReady = false,
        Dictionary<string, string>? annotations = null,
        Dictionary<string, string>? labels = null,
        string? trafficDistribution = null,
        string uid = "svc-uid") => new()
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns, Uid = uid, Labels = labels, Annotations = annotations, CreationTimestamp = Created },
            Spec = new V1ServiceSpec
            {
                Selector = selector ?? new Dictionary<string, string> { ["app"] = name },
                Ports = ports ?? [new V1ServicePort { Name = "http", Port = 80, TargetPort = 8080, Protocol = "TCP" }],
                ClusterIP = headless ? "None" : "10.96.0.10",
                IpFamilies = families ?? ["IPv4"],
                PublishNotReadyAddresses = publishNotReady,
                TrafficDistribution = trafficDistribution,
            },
        };

    public static V1Pod Pod(
        string name,
        string? ip = null,
        bool ready = true,
        string node = "node-a",
        string app = "web",
        bool deleting = false,
        string phase = "Running",
        IList<string>? ips = null,
        IList<V1ContainerPort>? containerPorts = null,
        IList<V1Container>? initContainers = null,
        string? hostname = null,
        string? subdomain = null,
        DateTime? readySince = null)
    {
        ips ??= ip is null ? [] : [ip];
        return new V1Pod
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = Ns,
                Uid = "uid-" + name,
                ResourceVersion = "1",
                Labels = new Dictionary<string, string> { ["app"] = app },
                DeletionTimestamp = deleting ? Created.AddHours(1) : null,
            },
            Spec = new V1PodSpec
            {
                NodeName = node,
                Hostname = hostname,
                Subdomain = subdomain,
                Containers = [new V1Container { Name = "c", Image = "pause", Ports = containerPorts }],
                InitContainers = initContainers,
            },
            Status = new V1PodStatus
            {
                Phase = phase,
                PodIP = ips.FirstOrDefault(),
                PodIPs = [.. ips.Select(i => new V1PodIP { Ip = i })],
                Conditions = [new V1PodCondition { Type = "Ready", Status = ready ? "True" : "False", LastTransitionTime = readySince ?? Created.AddMinutes(1) }],
            },
        };
    }

    public static V1Node Node(string name, string? zone, string cpu = "4", bool ready = true, bool controlPlane = false)
    {
        var labels = new Dictionary<string, string>();
        if (zone is not null)
        {
            labels["topology.kubernetes.io/zone"] = zone;
        }
        if (controlPlane)
        {
            labels["node-role.kubernetes.io/control-plane"] = "";
        }
        return new V1Node
        {
            Metadata = new V1ObjectMeta { Name = name, Labels = labels },
            Status = new V1NodeStatus
            {
                Allocatable = new Dictionary<string, ResourceQuantity> { ["cpu"] = new ResourceQuantity(cpu) },
                Conditions = [new V1NodeCondition { Type = "Ready", Status = ready ? "True" : "False" }],
            },
        };
    }

    /// <summary>Nodes node-a (zone-a), node-b (zone-b), node-c (zone-c), 4 CPUs each.</summary>
    public static Func<string, V1Node?> ThreeZones()
    {
        var nodes = new[] { Node("node-a", "zone-a"), Node("node-b", "zone-b"), Node("node-c", "zone-c") }.ToDictionary(n => n.Metadata.Name);
        return n => nodes.GetValueOrDefault(n);
    }

    /// <summary>Plays the API server: applies a plan to the stored slices, naming, versioning and (on update) replacing them.</summary>
    public sealed class FakeSlices
    {
        private int _names;
        private long _rv = 100;

        public List<V1EndpointSlice> Stored { get; } = [];

        public void Apply(SlicePlan plan)
        {
            foreach (var s in plan.ToCreate)
            {
                var created = SliceUtil.Clone(s);
                created.Metadata.Name = s.Metadata.GenerateName + "s" + _names++;
                created.Metadata.Uid = "slice-uid-" + created.Metadata.Name;
                created.Metadata.ResourceVersion = (++_rv).ToString(System.Globalization.CultureInfo.InvariantCulture);
                Stored.Add(created);
            }
            foreach (var s in plan.ToUpdate)
            {
                var i = Stored.FindIndex(x => x.Metadata.Name == s.Metadata.Name);
                Assert.True(i >= 0, $"update of unknown slice {s.Metadata.Name}");
                var updated = SliceUtil.Clone(s);
                updated.Metadata.ResourceVersion = (++_rv).ToString(System.Globalization.CultureInfo.InvariantCulture);
                Stored[i] = updated;
            }
            foreach (var s in plan.ToDelete)
            {
                Assert.Equal(1, Stored.RemoveAll(x => x.Metadata.Name == s.Metadata.Name));
            }
        }
    }

    public static IEnumerable<string> Addresses(V1EndpointSlice slice) => slice.Endpoints.SelectMany(e => e.Addresses);
}
