using k8s;
using k8s.Models;
using Switchboard.Client.Cache;
using Switchboard.Client.Tests.Fakes;
using Switchboard.TestKit;

namespace Switchboard.Client.Tests.Functional;

/// <summary>
/// The C# KubernetesClient and our reflector against the real in-process API server: typed CRUD and watch,
/// a watch resumed from a resourceVersion, and a 410 after compaction that the reflector survives by relisting.
/// </summary>
public sealed class RealServerTests : IAsyncLifetime
{
    private TestApiServer _server = null!;

    public async Task InitializeAsync() => _server = await TestApiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Kubernetes Client => _server.Client;

    private async Task<string> NamespaceAsync()
    {
        var name = "c-" + Guid.NewGuid().ToString("N")[..8];
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name } });
        return name;
    }

    private static V1Service Service(string name, int port = 80) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["app"] = "x" } },
        Spec = new V1ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "x" }, Ports = [new V1ServicePort { Port = port }] },
    };

    [Fact]
    public async Task TypedClient_CrudAcrossGroups()
    {
        var ns = await NamespaceAsync();
        var svc = await Client.CoreV1.CreateNamespacedServiceAsync(Service("web"), ns);
        Assert.StartsWith("10.", svc.Spec.ClusterIP, StringComparison.Ordinal);
        svc.Metadata.Labels["tier"] = "front";
        var replaced = await Client.CoreV1.ReplaceNamespacedServiceAsync(svc, "web", ns);
        Assert.Equal("front", replaced.Metadata.Labels["tier"]);
        var patched = await Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("""{"metadata":{"annotations":{"a":"b"}}}""", V1Patch.PatchType.MergePatch), "web", ns);
        Assert.Equal("b", patched.Metadata.Annotations["a"]);

        var deploy = await Client.AppsV1.CreateNamespacedDeploymentAsync(new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = "d" },
            Spec = new V1DeploymentSpec
            {
                Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "d" } },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "d" } },
                    Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "registry.k8s.io/pause:3.10" }] },
                },
            },
        }, ns);
        Assert.Equal(1, deploy.Spec.Replicas);
        Assert.Equal(1, deploy.Metadata.Generation);
        var slice = await Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta { Name = "web-abc", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = "web" } },
            AddressType = "IPv4",
            Endpoints = [new V1Endpoint { Addresses = ["10.244.1.7"] }],
        }, ns);
        Assert.Equal("IPv4", slice.AddressType);
        var slices = await Client.DiscoveryV1.ListNamespacedEndpointSliceAsync(ns, labelSelector: "kubernetes.io/service-name=web");
        Assert.Single(slices.Items);

        await Client.CoreV1.DeleteNamespacedServiceAsync("web", ns);
        var ex = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => Client.CoreV1.ReadNamespacedServiceAsync("web", ns));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, ex.Response.StatusCode);
    }

    [Fact]
    public async Task TypedWatch_FromResourceVersion_GetsExactlyMissedEvents()
    {
        var ns = await NamespaceAsync();
        var first = await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "a" } }, ns);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "b" } }, ns);
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("a", ns);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var seen = new List<string>();
        await foreach (var (type, cm) in Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, resourceVersion: first.Metadata.ResourceVersion, cancellationToken: cts.Token))
        {
            seen.Add(type + ":" + cm.Metadata.Name);
            if (seen.Count == 2)
            {
                break;
            }
        }
        Assert.Equal(["Added:b", "Deleted:a"], seen);
    }

    [Fact]
    public async Task Reflector_WatchFromCompactedRevision_410_RelistsWithoutLossOrDuplicates()
    {
        var ns = await NamespaceAsync();
        await Client.CoreV1.CreateNamespacedServiceAsync(Service("keep"), ns);
        await Client.CoreV1.CreateNamespacedServiceAsync(Service("gone"), ns);
        await Client.CoreV1.CreateNamespacedServiceAsync(Service("changed"), ns);

        var handler = new RecordingHandler();
        var reflector = new Reflector<V1Service>(Client, ResourceRequest.For<V1Service>(ns), handler);
        using var stop = new CancellationTokenSource();
        var run = reflector.RunAsync(stop.Token);
        await reflector.WaitForSyncAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        Assert.Equal(3, reflector.Store.Count);
        var before = handler.Events.Count;

        // Hold the reflector off the server, change things it will not see, and compact past its resourceVersion.
        _server.Host.Watches.CloseAll(hold: true);
        await WaitUntilAsync(() => _server.Host.Watches.Held >= 1, "the reflector to re-watch");
        await Client.CoreV1.DeleteNamespacedServiceAsync("gone", ns);
        await Client.CoreV1.CreateNamespacedServiceAsync(Service("new"), ns);
        var changed = await Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("""{"metadata":{"labels":{"v":"2"}}}""", V1Patch.PatchType.MergePatch), "changed", ns);
        await _server.Host.Store.CompactAsync(_server.Host.Store.Revision);
        _server.Host.Watches.Resume();

        await WaitUntilAsync(() => reflector.Store.TryGet(ns, "new", out _) && !reflector.Store.TryGet(ns, "gone", out _)
            && reflector.Store.TryGet(ns, "changed", out var c) && c.Metadata.ResourceVersion == changed.Metadata.ResourceVersion, "the relist");
        var after = handler.Events.Skip(before).ToList();
        Assert.Contains(after, e => e.StartsWith($"delete {ns}/gone@", StringComparison.Ordinal));
        Assert.Contains(after, e => e.StartsWith($"add {ns}/new@", StringComparison.Ordinal));
        Assert.Contains(after, e => e.StartsWith($"update {ns}/changed@", StringComparison.Ordinal));
        Assert.Equal(3, after.Count); // exactly the difference: nothing lost, nothing repeated
        Assert.Equal(["changed", "keep", "new"], reflector.Store.Snapshot().Select(s => s.Metadata.Name).Order(StringComparer.Ordinal));

        // And it keeps watching after the relist.
        await Client.CoreV1.DeleteNamespacedServiceAsync("keep", ns);
        await WaitUntilAsync(() => !reflector.Store.TryGet(ns, "keep", out _), "the delete after relist");

        await stop.CancelAsync();
        try
        {
            await run;
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("timed out waiting for " + what);
            }
            await Task.Delay(20);
        }
    }
}
