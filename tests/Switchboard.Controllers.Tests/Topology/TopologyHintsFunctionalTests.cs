using k8s;
using k8s.Models;
using Switchboard.Controllers.Hosting;
using Switchboard.Controllers.Tests.Support;
using Xunit.Abstractions;
using static Switchboard.Controllers.Tests.Support.Objects;

namespace Switchboard.Controllers.Tests.Topology;

/// <summary>
/// Hints end to end on their own API server (node capacity is cluster-wide): three simulated zones of equal CPU,
/// a Service with <c>topology-mode: Auto</c>, and the Events explaining why hints were removed.
/// </summary>
public sealed class TopologyHintsFunctionalTests(ApiServerFixture fixture, ITestOutputHelper output) : IClassFixture<ApiServerFixture>
{
    private readonly Kubernetes _client = fixture.Server.Client;

    private async Task<SimulatedCluster> ThreeZonesAsync()
    {
        var cluster = new SimulatedCluster(_client);
        foreach (var zone in new[] { "a", "b", "c" })
        {
            await cluster.AddNodeAsync("node-" + zone, "zone-" + zone, cpu: "4");
        }
        // A control-plane node does not count, even in a fourth zone.
        await cluster.AddNodeAsync("cp", "zone-d", cpu: "8");
        await _client.CoreV1.PatchNodeAsync(new V1Patch("""{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":""}}}""", V1Patch.PatchType.MergePatch), "cp");
        return cluster;
    }

    private async Task ServiceAsync(string ns, string name, IDictionary<string, string>? annotations = null, string? trafficDistribution = null) =>
        await _client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = name, Annotations = annotations },
            Spec = new V1ServiceSpec
            {
                Selector = new Dictionary<string, string> { ["app"] = name },
                Ports = [new V1ServicePort { Port = 80, TargetPort = 8080 }],
                TrafficDistribution = trafficDistribution,
            },
        }, ns);

    private async Task PodsAsync(SimulatedCluster cluster, string ns, string app, int count, int subnet)
    {
        for (var i = 0; i < count; i++)
        {
            await cluster.RunPodAsync(ns, $"{app}-{i}", "node-" + "abc"[i % 3], new Dictionary<string, string> { ["app"] = app }, $"10.{subnet}.0.{i + 1}");
        }
    }

    private async Task<List<V1Endpoint>> EndpointsAsync(string ns, string service) =>
        [.. (await _client.DiscoveryV1.ListNamespacedEndpointSliceAsync(ns, labelSelector: "kubernetes.io/service-name=" + service)).Items.SelectMany(s => s.Endpoints ?? [])];

    private async Task<List<Corev1Event>> EventsAsync(string ns, string service) =>
        [.. (await _client.CoreV1.ListNamespacedEventAsync(ns)).Items.Where(e => e.InvolvedObject?.Name == service && e.InvolvedObject.Kind == "Service")];

    [Fact]
    public async Task AutoMode_11EndpointsOver3EqualZones_NoHintsAndWarning_12Endpoints_Hinted()
    {
        await using var cluster = await ThreeZonesAsync();
        await using var controllers = ControllerManager.Start(fixture.Server.Host.KubeconfigPath, new TestOutputLoggerFactory(output), TimeProvider.System);
        var ns = await CreateNamespaceAsync(_client, "topo");
        await ServiceAsync(ns, "web", new Dictionary<string, string> { ["service.kubernetes.io/topology-mode"] = "Auto" });
        await PodsAsync(cluster, ns, "web", 11, 70);

        // kubernetes/kubernetes#122437: minimum ceil(3.67 / 1.2) = 4 per zone, 12 > 11 endpoints.
        await Poll.UntilAsync(async () => (await EventsAsync(ns, "web")).Any(e =>
            e.Reason == "TopologyAwareHintsDisabled"
            && e.Message == "Unable to allocate minimum required endpoints to each zone without exceeding overload threshold (11 endpoints, 3 zones), addressType: IPv4"), "the 'disabled' Event for 11 endpoints");
        await Poll.UntilAsync(async () => (await EndpointsAsync(ns, "web")).Count(e => e.Conditions.Ready == true) == 11, "11 ready endpoints");
        Assert.All(await EndpointsAsync(ns, "web"), e => Assert.Null(e.Hints));
        var warning = (await EventsAsync(ns, "web")).First(e => e.Reason == "TopologyAwareHintsDisabled");
        Assert.Equal(("Warning", "endpoint-slice-controller"), (warning.Type, warning.Source.Component));

        await cluster.RunPodAsync(ns, "web-11", "node-c", new Dictionary<string, string> { ["app"] = "web" }, "10.70.0.12");

        await Poll.UntilAsync(async () =>
        {
            var eps = await EndpointsAsync(ns, "web");
            return eps.Count == 12 && eps.All(e => e.Hints?.ForZones?.SingleOrDefault()?.Name == e.Zone);
        }, "12 endpoints each hinted for its own zone");
        await Poll.UntilAsync(async () => (await EventsAsync(ns, "web")).Any(e => e.Reason == "TopologyAwareHintsEnabled" && e.Type == "Normal"), "the 'enabled' Event");
    }

    [Fact]
    public async Task TrafficDistribution_PreferSameNode_ZoneAndNodeHintsForReadyEndpoints()
    {
        await using var cluster = await ThreeZonesAsync();
        await using var controllers = ControllerManager.Start(fixture.Server.Host.KubeconfigPath, new TestOutputLoggerFactory(output), TimeProvider.System);
        var ns = await CreateNamespaceAsync(_client, "tdist");
        await ServiceAsync(ns, "api", trafficDistribution: "PreferSameNode");
        await PodsAsync(cluster, ns, "api", 2, 71);
        await cluster.CreatePodAsync(ns, "api-unready", "node-c", new Dictionary<string, string> { ["app"] = "api" });
        await cluster.SetPodStatusAsync(ns, "api-unready", ready: false, "10.71.0.9");

        await Poll.UntilAsync(async () =>
        {
            var eps = await EndpointsAsync(ns, "api");
            return eps.Count == 3 && eps.Where(e => e.Conditions.Ready == true).All(e => e.Hints?.ForNodes?.SingleOrDefault()?.Name == e.NodeName && e.Hints.ForZones.Single().Name == e.Zone);
        }, "zone and node hints on ready endpoints");
        Assert.Null((await EndpointsAsync(ns, "api")).Single(e => e.TargetRef.Name == "api-unready").Hints);
    }
}
