using System.Collections.Concurrent;
using System.Text.Json;
using k8s;
using k8s.Models;
using Switchboard.Controllers.Hosting;
using Switchboard.Controllers.Tests.Support;
using Xunit.Abstractions;
using static Switchboard.Controllers.Tests.Support.Objects;

namespace Switchboard.Controllers.Tests.EndpointSlices;

/// <summary>
/// The EndpointSlice and Endpoints controllers started as `switchboard server` starts them, against the real
/// in-process API server, with kwok-style simulated nodes and pods. Each test has its own namespace and nodes.
/// </summary>
public sealed class EndpointSliceControllerTests(ApiServerFixture fixture, ITestOutputHelper output) : IClassFixture<ApiServerFixture>
{
    private const string ManagedBy = "endpointslice.kubernetes.io/managed-by";
    private readonly Kubernetes _client = fixture.Server.Client;

    private ControllerManager StartControllers() =>
        ControllerManager.Start(fixture.Server.Host.KubeconfigPath, new TestOutputLoggerFactory(output), TimeProvider.System);

    private static Dictionary<string, string> App(string app) => new() { ["app"] = app };

    private Task<V1Service> CreateServiceAsync(string ns, string name, string app, Action<V1ServiceSpec>? configure = null, IDictionary<string, string>? annotations = null)
    {
        var spec = new V1ServiceSpec
        {
            Selector = App(app),
            Ports = [new V1ServicePort { Name = "http", Port = 80, TargetPort = 8080, Protocol = "TCP" }],
        };
        configure?.Invoke(spec);
        return _client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            ApiVersion = "v1",
            Kind = "Service",
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Labels = new Dictionary<string, string> { ["team"] = "net" }, Annotations = annotations },
            Spec = spec,
        }, ns);
    }

    private async Task<List<V1EndpointSlice>> SlicesAsync(string ns, string service) =>
        [.. (await _client.DiscoveryV1.ListNamespacedEndpointSliceAsync(ns, labelSelector: $"kubernetes.io/service-name={service}")).Items];

    private async Task<List<V1EndpointSlice>> WaitForSlicesAsync(string ns, string service, Func<List<V1EndpointSlice>, bool> condition, string what)
    {
        List<V1EndpointSlice> slices = [];
        await Poll.UntilAsync(async () => condition(slices = await SlicesAsync(ns, service)), what);
        return slices;
    }

    private static V1Endpoint? EndpointOf(IEnumerable<V1EndpointSlice> slices, string pod) =>
        slices.SelectMany(s => s.Endpoints ?? []).SingleOrDefault(e => e.TargetRef?.Name == pod);

    [Fact]
    public async Task PodLifecycle_ReadyNotReadyTerminatingGone_SliceFollows()
    {
        await using var controllers = StartControllers();
        await using var cluster = new SimulatedCluster(_client);
        var node = await cluster.AddNodeAsync("life-" + Guid.NewGuid().ToString("N")[..6], "zone-a");
        var ns = await CreateNamespaceAsync(_client, "eslife");
        var svc = await CreateServiceAsync(ns, "web", "web");

        // A selecting Service with no pods gets a placeholder slice.
        var slices = await WaitForSlicesAsync(ns, "web", s => s.Count == 1, "the placeholder slice");
        Assert.Empty(slices[0].Endpoints ?? []);

        await cluster.RunPodAsync(ns, "web-1", node, App("web"), "10.60.0.1");
        slices = await WaitForSlicesAsync(ns, "web", s => EndpointOf(s, "web-1")?.Conditions.Ready == true, "web-1 ready in the slice");
        var slice = Assert.Single(slices);
        Assert.StartsWith("web-", slice.Metadata.Name, StringComparison.Ordinal);
        Assert.Equal("IPv4", slice.AddressType);
        Assert.Equal(("web", "endpointslice-controller.k8s.io", "net"), (slice.Metadata.Labels["kubernetes.io/service-name"], slice.Metadata.Labels[ManagedBy], slice.Metadata.Labels["team"]));
        var owner = Assert.Single(slice.Metadata.OwnerReferences);
        Assert.Equal((svc.Metadata.Uid, "Service", true, true), (owner.Uid, owner.Kind, owner.Controller, owner.BlockOwnerDeletion));
        Assert.Equal(8080, Assert.Single(slice.Ports).Port);
        var e = EndpointOf(slices, "web-1")!;
        Assert.Equal(["10.60.0.1"], e.Addresses);
        Assert.Equal((node, "zone-a", true, false), (e.NodeName, e.Zone, e.Conditions.Serving!.Value, e.Conditions.Terminating!.Value));
        Assert.True(slice.Metadata.Annotations.ContainsKey("endpoints.kubernetes.io/last-change-trigger-time"));

        await cluster.SetPodStatusAsync(ns, "web-1", ready: false, "10.60.0.1");
        slices = await WaitForSlicesAsync(ns, "web", s => EndpointOf(s, "web-1")?.Conditions.Ready == false, "web-1 not ready");
        Assert.False(EndpointOf(slices, "web-1")!.Conditions.Serving);

        await cluster.SetPodStatusAsync(ns, "web-1", ready: true, "10.60.0.1");
        await WaitForSlicesAsync(ns, "web", s => EndpointOf(s, "web-1")?.Conditions.Ready == true, "web-1 ready again");

        // Graceful deletion: the pod stays (terminating) until the "kubelet" deletes it with grace 0.
        await _client.CoreV1.DeleteNamespacedPodAsync("web-1", ns, new V1DeleteOptions { GracePeriodSeconds = 30 });
        slices = await WaitForSlicesAsync(ns, "web", s => EndpointOf(s, "web-1")?.Conditions.Terminating == true, "web-1 terminating");
        e = EndpointOf(slices, "web-1")!;
        Assert.Equal((false, true), (e.Conditions.Ready!.Value, e.Conditions.Serving!.Value));
        Assert.Equal(slice.Metadata.Name, Assert.Single(slices).Metadata.Name);

        await _client.CoreV1.DeleteNamespacedPodAsync("web-1", ns, new V1DeleteOptions { GracePeriodSeconds = 0 });
        slices = await WaitForSlicesAsync(ns, "web", s => s.Count == 1 && (s[0].Endpoints?.Count ?? 0) == 0, "the slice to become the placeholder");
        // The create of the placeholder and the delete of the old slice were merged into one update.
        Assert.Equal(slice.Metadata.Name, slices[0].Metadata.Name);
    }

    [Fact]
    public async Task PodStatusChange_ExactlyOneSliceModified_UnrelatedPodNone()
    {
        await using var controllers = StartControllers();
        await using var cluster = new SimulatedCluster(_client);
        var node = await cluster.AddNodeAsync("one-" + Guid.NewGuid().ToString("N")[..6], "zone-a");
        var ns = await CreateNamespaceAsync(_client, "esone");
        await CreateServiceAsync(ns, "web", "web");
        for (var i = 1; i <= 3; i++)
        {
            await cluster.RunPodAsync(ns, "web-" + i, node, App("web"), "10.61.0." + i);
        }
        await cluster.RunPodAsync(ns, "other", node, App("other"), "10.61.1.1");
        await WaitForSlicesAsync(ns, "web", s => s.SelectMany(x => x.Endpoints ?? []).Count(x => x.Conditions.Ready == true) == 3, "3 ready endpoints");
        // Let any write in flight land (a slice event is re-checked after 1 s).
        await Task.Delay(TimeSpan.FromSeconds(2));

        var list = await _client.DiscoveryV1.ListNamespacedEndpointSliceAsync(ns);
        using var watch = new SliceWatch(fixture.Server.Http, ns, list.Metadata.ResourceVersion);
        await watch.StartedAsync();

        await cluster.SetPodStatusAsync(ns, "web-2", ready: false, "10.61.0.2");
        await Poll.UntilAsync(() => Task.FromResult(!watch.Events.IsEmpty), "a slice event");
        await Task.Delay(TimeSpan.FromSeconds(3));
        var events = watch.Events.ToArray();
        var modified = Assert.Single(events);
        Assert.Equal("MODIFIED", modified.Type);
        Assert.False(EndpointOf([modified.Slice], "web-2")!.Conditions.Ready);

        await cluster.SetPodStatusAsync(ns, "other", ready: false, "10.61.1.1");
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Single(watch.Events);
    }

    [Fact]
    public async Task ManyPodsDualStackHeadless_SlicesOf100PerFamily()
    {
        await using var controllers = StartControllers();
        await using var cluster = new SimulatedCluster(_client);
        var node = await cluster.AddNodeAsync("many-" + Guid.NewGuid().ToString("N")[..6], "zone-b");
        var ns = await CreateNamespaceAsync(_client, "esmany");
        // Headless so the dual-stack families are kept by today's single-stack allocator.
        await CreateServiceAsync(ns, "db", "db", s =>
        {
            s.ClusterIP = "None";
            s.IpFamilies = ["IPv4", "IPv6"];
            s.IpFamilyPolicy = "RequireDualStack";
        });
        await Parallel.ForEachAsync(Enumerable.Range(0, 250), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
            await cluster.RunPodAsync(ns, $"db-{i}", node, App("db"), $"10.62.{i / 200}.{i % 200 + 1}", $"fd00:62::{i + 1:x}"));

        var slices = await WaitForSlicesAsync(ns, "db", s => s.Sum(x => x.Endpoints?.Count ?? 0) == 500, "250 endpoints per family");
        foreach (var family in new[] { "IPv4", "IPv6" })
        {
            var sizes = slices.Where(s => s.AddressType == family).Select(s => s.Endpoints.Count).Order().ToArray();
            Assert.Equal(250, sizes.Sum());
            Assert.All(sizes, n => Assert.True(n <= 100));
            Assert.Equal(3, sizes.Length);
        }
        Assert.All(slices, s => Assert.Equal("", s.Metadata.Labels["service.kubernetes.io/headless"]));
        Assert.Contains(slices.Where(s => s.AddressType == "IPv6").SelectMany(s => s.Endpoints), e => e.Addresses[0] == "fd00:62::1");
    }

    [Fact]
    public async Task NamedTargetPort_PodsWithDifferentNumbers_TwoSlices()
    {
        await using var controllers = StartControllers();
        await using var cluster = new SimulatedCluster(_client);
        var node = await cluster.AddNodeAsync("named-" + Guid.NewGuid().ToString("N")[..6], "zone-a");
        var ns = await CreateNamespaceAsync(_client, "esnamed");
        await CreateServiceAsync(ns, "api", "api", s => s.Ports = [new V1ServicePort { Name = "http", Port = 80, TargetPort = "web", Protocol = "TCP" }]);
        foreach (var (name, port, ip) in new[] { ("api-a", 8080, "10.63.0.1"), ("api-b", 9090, "10.63.0.2") })
        {
            await cluster.CreatePodAsync(ns, name, node, App("api"), [new V1ContainerPort { Name = "web", ContainerPort = port, Protocol = "TCP" }]);
            await cluster.SetPodStatusAsync(ns, name, ready: true, ip);
        }

        var slices = await WaitForSlicesAsync(ns, "api", s => s.Count == 2 && s.All(x => x.Endpoints?.Count == 1), "one slice per port number");
        Assert.Equal([8080, 9090], slices.Select(s => s.Ports.Single().Port!.Value).Order());
    }

    [Fact]
    public async Task DeleteService_SlicesAndEndpointsGo_SelectorlessAndExternalNameLeftAlone()
    {
        await using var controllers = StartControllers();
        await using var cluster = new SimulatedCluster(_client);
        var node = await cluster.AddNodeAsync("del-" + Guid.NewGuid().ToString("N")[..6], "zone-a");
        var ns = await CreateNamespaceAsync(_client, "esdel");
        await CreateServiceAsync(ns, "web", "web");
        await CreateServiceAsync(ns, "manual", "unused", s => s.Selector = null);
        await CreateServiceAsync(ns, "ext", "unused", s =>
        {
            s.Type = "ExternalName";
            s.ExternalName = "example.com";
            s.Ports = null;
        });
        await _client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta { Name = "manual-1", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = "manual", [ManagedBy] = "staff" } },
            AddressType = "IPv4",
            Endpoints = [new V1Endpoint { Addresses = ["192.0.2.10"] }],
        }, ns);
        await cluster.RunPodAsync(ns, "web-1", node, App("web"), "10.64.0.1");
        await WaitForSlicesAsync(ns, "web", s => EndpointOf(s, "web-1") is not null, "web's slice");
        await Poll.UntilAsync(async () => await TryReadAsync(() => _client.CoreV1.ReadNamespacedEndpointsAsync("web", ns)) is not null, "web's Endpoints");

        await _client.CoreV1.DeleteNamespacedServiceAsync("web", ns);

        await WaitForSlicesAsync(ns, "web", s => s.Count == 0, "web's slices to be garbage collected");
        await Poll.UntilAsync(async () => await TryReadAsync(() => _client.CoreV1.ReadNamespacedEndpointsAsync("web", ns)) is null, "web's Endpoints to be deleted");
        var manual = await SlicesAsync(ns, "manual");
        Assert.Equal("manual-1", Assert.Single(manual).Metadata.Name);
        Assert.Empty(await SlicesAsync(ns, "ext"));
        Assert.Null(await TryReadAsync(() => _client.CoreV1.ReadNamespacedEndpointsAsync("ext", ns)));
    }

    [Fact]
    public async Task Restart_UnchangedSlicesAndEndpointsNotRewritten()
    {
        var ns = await CreateNamespaceAsync(_client, "esrestart");
        await using var cluster = new SimulatedCluster(_client);
        var node = await cluster.AddNodeAsync("rst-" + Guid.NewGuid().ToString("N")[..6], "zone-a");
        Dictionary<string, string> before;
        string endpointsVersion;
        await using (StartControllers())
        {
            await CreateServiceAsync(ns, "web", "web");
            for (var i = 1; i <= 5; i++)
            {
                await cluster.RunPodAsync(ns, "web-" + i, node, App("web"), "10.65.0." + i);
            }
            var slices = await WaitForSlicesAsync(ns, "web", s => s.Sum(x => x.Endpoints?.Count ?? 0) == 5, "5 endpoints");
            await Poll.UntilAsync(async () => (await TryReadAsync(() => _client.CoreV1.ReadNamespacedEndpointsAsync("web", ns)))?.Subsets?.Sum(s => s.Addresses?.Count ?? 0) == 5, "5 addresses in Endpoints");
            await Task.Delay(TimeSpan.FromSeconds(2));
            before = (await SlicesAsync(ns, "web")).ToDictionary(s => s.Metadata.Name, s => s.Metadata.ResourceVersion);
            endpointsVersion = (await _client.CoreV1.ReadNamespacedEndpointsAsync("web", ns)).Metadata.ResourceVersion;
        }

        await using (StartControllers())
        {
            // Long enough for the new controllers to list, sync every Service and react to their slice events.
            await Task.Delay(TimeSpan.FromSeconds(5));
            var after = (await SlicesAsync(ns, "web")).ToDictionary(s => s.Metadata.Name, s => s.Metadata.ResourceVersion);
            Assert.Equal(before, after);
            Assert.Equal(endpointsVersion, (await _client.CoreV1.ReadNamespacedEndpointsAsync("web", ns)).Metadata.ResourceVersion);

            // And it is live: a change still lands.
            await cluster.SetPodStatusAsync(ns, "web-3", ready: false, "10.65.0.3");
            await WaitForSlicesAsync(ns, "web", s => EndpointOf(s, "web-3")?.Conditions.Ready == false, "web-3 not ready after restart");
        }
    }

    [Fact]
    public async Task Endpoints_ReadyAndNotReadyAddresses_AndKubectlDescribeListsThem()
    {
        await using var controllers = StartControllers();
        await using var cluster = new SimulatedCluster(_client);
        var node = await cluster.AddNodeAsync("ep-" + Guid.NewGuid().ToString("N")[..6], "zone-a");
        var ns = await CreateNamespaceAsync(_client, "esep");
        await CreateServiceAsync(ns, "web", "web");
        await cluster.RunPodAsync(ns, "web-1", node, App("web"), "10.66.0.1");
        await cluster.RunPodAsync(ns, "web-2", node, App("web"), "10.66.0.2");
        await cluster.CreatePodAsync(ns, "web-3", node, App("web"));
        await cluster.SetPodStatusAsync(ns, "web-3", ready: false, "10.66.0.3");

        V1Endpoints? ep = null;
        await Poll.UntilAsync(async () =>
        {
            ep = await TryReadAsync(() => _client.CoreV1.ReadNamespacedEndpointsAsync("web", ns));
            return ep?.Subsets is [{ Addresses.Count: 2, NotReadyAddresses.Count: 1 }];
        }, "Endpoints with 2 ready and 1 not-ready addresses");
        var subset = ep!.Subsets[0];
        Assert.Equal(["10.66.0.1", "10.66.0.2"], subset.Addresses.Select(a => a.Ip));
        Assert.Equal("10.66.0.3", subset.NotReadyAddresses[0].Ip);
        Assert.Equal(("http", 8080, "TCP"), (subset.Ports[0].Name, subset.Ports[0].Port, subset.Ports[0].Protocol));
        Assert.Equal("net", ep.Metadata.Labels["team"]);
        Assert.Equal(("Pod", "web-1", node), (subset.Addresses[0].TargetRef.Kind, subset.Addresses[0].TargetRef.Name, subset.Addresses[0].NodeName));

        var describe = await Kubectl.RunAsync(fixture.Server.Host.KubeconfigPath, "describe", "service", "web", "-n", ns);
        output.WriteLine(describe);
        var line = describe.Split('\n').Single(l => l.StartsWith("Endpoints:", StringComparison.Ordinal));
        Assert.Contains("10.66.0.1:8080", line, StringComparison.Ordinal);
        Assert.Contains("10.66.0.2:8080", line, StringComparison.Ordinal);
        Assert.DoesNotContain("10.66.0.3", line, StringComparison.Ordinal);
    }

    /// <summary>Raw watch of one namespace's EndpointSlices, collecting events in the background.</summary>
    private sealed class SliceWatch : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task _reader;

        public SliceWatch(HttpClient http, string ns, string resourceVersion) =>
            _reader = Task.Run(async () =>
            {
                try
                {
                    using var response = await http.GetAsync($"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?watch=true&resourceVersion={resourceVersion}", HttpCompletionOption.ResponseHeadersRead, _stop.Token);
                    response.EnsureSuccessStatusCode();
                    _started.TrySetResult();
                    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(_stop.Token));
                    while (await reader.ReadLineAsync(_stop.Token) is { } line)
                    {
                        using var doc = JsonDocument.Parse(line);
                        var type = doc.RootElement.GetProperty("type").GetString()!;
                        if (type != "BOOKMARK")
                        {
                            Events.Enqueue((type, KubernetesJson.Deserialize<V1EndpointSlice>(doc.RootElement.GetProperty("object").GetRawText())));
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                }
                catch (Exception e)
                {
                    _started.TrySetException(e);
                }
            });

        public ConcurrentQueue<(string Type, V1EndpointSlice Slice)> Events { get; } = new();

        public Task StartedAsync() => _started.Task.WaitAsync(TimeSpan.FromSeconds(30));

        public void Dispose()
        {
            _stop.Cancel();
            try
            {
                _reader.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
            }
            _stop.Dispose();
        }
    }
}
