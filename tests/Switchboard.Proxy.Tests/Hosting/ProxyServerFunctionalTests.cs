using System.Globalization;
using System.Net;
using System.Text.Json;
using k8s;
using k8s.Models;
using Switchboard.Netfilter;
using Switchboard.Netfilter.Conntrack;
using Switchboard.Netfilter.Fake;
using Switchboard.Netfilter.Tracing;
using Switchboard.Proxy.Hosting;
using Switchboard.Proxy.Model;
using Switchboard.TestKit;

namespace Switchboard.Proxy.Tests.Hosting;

/// <summary>A real in-process API server, the ProxyServer with the fake nftables and fake conntrack, real HTTP listeners on 127.0.0.1.</summary>
public sealed class ProxyServerFunctionalTests : IAsyncLifetime
{
    private const string Node = "node-a";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private TestApiServer _api = null!;
    private readonly FakeNftables _nft = new();
    private readonly FakeConntrack _conntrack = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private ProxyServer _proxy = null!;
    private Task _run = Task.CompletedTask;
    private string _ns = null!;

    public async Task InitializeAsync()
    {
        _api = await TestApiServer.StartAsync();
        _ns = "t" + Guid.NewGuid().ToString("N")[..8];
        await _api.Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = _ns } });
        await _api.Client.CoreV1.CreateNodeAsync(new V1Node
        {
            Metadata = new V1ObjectMeta { Name = Node, Labels = new Dictionary<string, string> { ["topology.kubernetes.io/zone"] = "a" } },
        });
        _proxy = new ProxyServer(
            _api.Client,
            new ProxyServerOptions
            {
                NodeName = Node,
                NodeIps = [IPAddress.Parse("10.0.0.2")],
                ClusterCidrs = [IPNetwork.Parse("10.244.0.0/16")],
                MinSyncPeriod = TimeSpan.FromMilliseconds(50),
                SyncPeriod = TimeSpan.FromSeconds(1), // retry after a failed sync
                HealthTimeout = TimeSpan.FromSeconds(60),
                HealthzBindAddress = new IPEndPoint(IPAddress.Loopback, 0),
                MetricsBindAddress = new IPEndPoint(IPAddress.Loopback, 0),
                HealthCheckNodePortAddresses = [IPAddress.Loopback],
            },
            new Dictionary<IpFamily, INftables> { [IpFamily.IPv4] = _nft },
            _conntrack);
        _run = _proxy.RunAsync(_stop.Token);
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(Wait);
        await _proxy.DisposeAsync();
        await _api.DisposeAsync();
        _http.Dispose();
        _stop.Dispose();
    }

    [Fact]
    public async Task RunAsync_ServiceAndSliceCreated_ClusterIpReachesEndpointAndHealthAndMetricsFollow()
    {
        await _proxy.FirstSyncCompleted.WaitAsync(Wait);
        Assert.True(_nft.SuccessfulRuns > 0);

        var svc = await _api.Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "web" },
            Spec = new V1ServiceSpec
            {
                Type = "LoadBalancer",
                ExternalTrafficPolicy = "Local",
                Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP", TargetPort = 8080 }],
            },
        }, _ns);
        var clusterIp = svc.Spec.ClusterIP;
        var hcPort = svc.Spec.HealthCheckNodePort ?? throw new InvalidOperationException("API server allocated no healthCheckNodePort");
        var webName = new ServiceName(_ns, "web");

        await _api.Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice("web-1", "10.244.1.5", Node), _ns);

        // The ruleset gains the Service: a Pod's packet to the ClusterIP is DNATed to the endpoint.
        await Eventually(() => Trace(clusterIp).Output == "10.244.1.5:8080", () => "trace: " + Trace(clusterIp) + "\n" + _nft.Snapshot.Dump(false));

        // healthCheckNodePort: 200 with one local endpoint.
        await Eventually(() => _proxy.ServiceHealth.Listening.ContainsKey(webName), () => "no listener for " + webName);
        var (status, body, response) = await GetAsync($"http://127.0.0.1:{hcPort}/");
        Assert.Equal(HttpStatusCode.OK, status);
        using (var doc = JsonDocument.Parse(body))
        {
            Assert.Equal(_ns, doc.RootElement.GetProperty("service").GetProperty("namespace").GetString());
            Assert.Equal("web", doc.RootElement.GetProperty("service").GetProperty("name").GetString());
            Assert.Equal(1, doc.RootElement.GetProperty("localEndpoints").GetInt32());
            Assert.True(doc.RootElement.GetProperty("serviceProxyHealthy").GetBoolean());
        }

        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("1", Assert.Single(response.Headers.GetValues("X-Load-Balancing-Endpoint-Weight")));

        // The endpoint moves to another node: 503 with 0 local endpoints.
        var slice = await _api.Client.DiscoveryV1.ReadNamespacedEndpointSliceAsync("web-1", _ns);
        slice.Endpoints = [Endpoint("10.244.2.7", "node-b")];
        await _api.Client.DiscoveryV1.ReplaceNamespacedEndpointSliceAsync(slice, "web-1", _ns);
        await Eventually(async () => (await GetAsync($"http://127.0.0.1:{hcPort}/")).Status == HttpStatusCode.ServiceUnavailable, () => "still 200");
        (status, body, _) = await GetAsync($"http://127.0.0.1:{hcPort}/");
        Assert.Contains("\"localEndpoints\": 0", body, StringComparison.Ordinal);
        Assert.Equal("10.244.2.7:8080", Trace(clusterIp).Output);

        // And back: a local endpoint again → 200 with 2.
        slice = await _api.Client.DiscoveryV1.ReadNamespacedEndpointSliceAsync("web-1", _ns);
        slice.Endpoints = [Endpoint("10.244.1.5", Node), Endpoint("10.244.1.6", Node), Endpoint("10.244.2.7", "node-b")];
        await _api.Client.DiscoveryV1.ReplaceNamespacedEndpointSliceAsync(slice, "web-1", _ns);
        await Eventually(async () => (await GetAsync($"http://127.0.0.1:{hcPort}/")).Body.Contains("\"localEndpoints\": 2", StringComparison.Ordinal), () => "not 2 local endpoints");
        Assert.Equal(HttpStatusCode.OK, (await GetAsync($"http://127.0.0.1:{hcPort}/")).Status);

        // The Service goes away: its listener closes and the ClusterIP no longer matches.
        await _api.Client.CoreV1.DeleteNamespacedServiceAsync("web", _ns);
        await Eventually(() => !_proxy.ServiceHealth.Listening.ContainsKey(webName), () => "listener still open");
        await Assert.ThrowsAsync<HttpRequestException>(() => _http.GetAsync(new Uri($"http://127.0.0.1:{hcPort}/")));

        // /healthz: 200 with kube-proxy's body.
        var healthz = _proxy.HealthzEndPoint!;
        (status, body, response) = await GetAsync($"http://{healthz}/healthz");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using (var doc = JsonDocument.Parse(body))
        {
            Assert.True(doc.RootElement.GetProperty("healthy").GetBoolean());
            Assert.True(doc.RootElement.GetProperty("nodeEligible").GetBoolean());
            Assert.True(doc.RootElement.GetProperty("status").GetProperty("IPv4").GetProperty("healthy").GetBoolean());
        }

        // Metrics: syncs counted, durations observed, the slice's trigger time became a programming latency.
        var (mStatus, metrics, _) = await GetAsync($"http://{_proxy.MetricsEndPoint}/metrics");
        Assert.Equal(HttpStatusCode.OK, mStatus);
        Assert.True(Sample(metrics, "kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"}") >= 4, metrics);
        Assert.True(Sample(metrics, "kubeproxy_sync_full_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"}") >= 1, metrics);
        Assert.True(Sample(metrics, "kubeproxy_sync_partial_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"}") >= 3, metrics);
        Assert.True(Sample(metrics, "kubeproxy_sync_proxy_rules_duration_seconds_sum{ip_family=\"IPv4\"}") > 0, metrics);
        Assert.True(Sample(metrics, "kubeproxy_network_programming_duration_seconds_count{ip_family=\"IPv4\"}") >= 1, metrics);
        Assert.True(Sample(metrics, "kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family=\"IPv4\"}") > 1.7e9, metrics);
        Assert.True(Sample(metrics, "kubeproxy_sync_proxy_rules_service_changes_total") >= 2, metrics);
        Assert.True(Sample(metrics, "kubeproxy_sync_proxy_rules_endpoint_changes_total") >= 3, metrics);
        Assert.Equal(0, Sample(metrics, "kubeproxy_sync_proxy_rules_nftables_sync_failures_total{ip_family=\"IPv4\"}"));
        Assert.Equal(1, Sample(metrics, "kubeproxy_proxy_healthz_total{code=\"200\"}"));
    }

    [Fact]
    public async Task RunAsync_UdpEndpointReplaced_StaleConntrackEntryDeleted()
    {
        await _proxy.FirstSyncCompleted.WaitAsync(Wait);
        var svc = await _api.Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "dns" },
            Spec = new V1ServiceSpec { Ports = [new V1ServicePort { Name = "dns", Port = 53, Protocol = "UDP", TargetPort = 5353 }] },
        }, _ns);
        var clusterIp = IPAddress.Parse(svc.Spec.ClusterIP);
        var slice = Slice("dns-1", "10.244.1.5", Node, port: 5353, protocol: "UDP", service: "dns");
        await _api.Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(slice, _ns);
        await Eventually(() => Trace(clusterIp.ToString(), 53, "udp").Output == "10.244.1.5:5353", () => Trace(clusterIp.ToString(), 53, "udp").ToString());

        // A client with a fixed source port talked to the old endpoint; its entry must go once the endpoint is replaced.
        _conntrack.Add(Flow(clusterIp, "10.244.1.5"));
        var current = await _api.Client.DiscoveryV1.ReadNamespacedEndpointSliceAsync("dns-1", _ns);
        current.Endpoints = [Endpoint("10.244.1.9", Node)];
        await _api.Client.DiscoveryV1.ReplaceNamespacedEndpointSliceAsync(current, "dns-1", _ns);
        await Eventually(() => _conntrack.Flows.IsEmpty, () => "entries left: " + string.Join("; ", _conntrack.Flows));
        var delete = Assert.Single(_conntrack.Deletes);
        Assert.Equal(clusterIp, delete.OrigDst);
        Assert.Equal(53, delete.OrigDstPort);
        Assert.Equal(IPAddress.Parse("10.244.1.5"), delete.ReplySrc);

        // An entry to the serving endpoint stays through later syncs (another Service forces one: a label change
        // alone changes nothing the proxy programs, so it syncs nothing).
        _conntrack.Add(Flow(clusterIp, "10.244.1.9"));
        var syncs = _nft.SuccessfulRuns;
        var other = await CreateServiceAsync("other");
        await Eventually(() => _nft.SuccessfulRuns > syncs && Trace(other, 80).Output == "REJECT", () => "no sync after another Service was created");
        Assert.Single(_conntrack.Flows);
    }

    [Fact]
    public async Task RunAsync_OwnNodeChanges_ZoneLabelForcesFullSyncAndAutoscalerTaintFailsHealthz()
    {
        await _proxy.FirstSyncCompleted.WaitAsync(Wait);
        var metrics = _proxy.Metrics.For(IpFamily.IPv4);

        // Once a Service created after the Node was seen is programmed, the full sync for the Node's labels is done.
        await Eventually(() => _proxy.NodeInformerSynced, () => "node informer not synced");
        var a = await CreateServiceAsync("a");
        await Eventually(() => Trace(a, 80).Output == "REJECT", () => "service a not programmed: " + Trace(a, 80));
        var full = metrics.FullSyncDuration.Count;
        var partial = metrics.PartialSyncDuration.Count;

        // Another node's labels change nothing.
        await _api.Client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = "node-b" } });
        await _api.Client.CoreV1.PatchNodeAsync(new V1Patch("{\"metadata\":{\"labels\":{\"topology.kubernetes.io/zone\":\"z\"}}}", V1Patch.PatchType.MergePatch), "node-b");

        // A Service change is a partial sync; our zone label changing forces a full one.
        var b = await CreateServiceAsync("b");
        await Eventually(() => Trace(b, 80).Output == "REJECT", () => "service b not programmed: " + Trace(b, 80));
        Assert.True(metrics.PartialSyncDuration.Count > partial);
        Assert.Equal(full, metrics.FullSyncDuration.Count);
        await _api.Client.CoreV1.PatchNodeAsync(new V1Patch("{\"metadata\":{\"labels\":{\"topology.kubernetes.io/zone\":\"b\"}}}", V1Patch.PatchType.MergePatch), Node);
        await Eventually(() => metrics.FullSyncDuration.Count > full, () => "no full sync after the zone label changed");

        // Cluster autoscaler marks the node for deletion: /healthz 503 (nodeEligible false), /livez still 200.
        var healthz = _proxy.HealthzEndPoint!;
        Assert.Equal(HttpStatusCode.OK, (await GetAsync($"http://{healthz}/healthz")).Status);
        await _api.Client.CoreV1.PatchNodeAsync(new V1Patch("{\"spec\":{\"taints\":[{\"key\":\"ToBeDeletedByClusterAutoscaler\",\"effect\":\"NoSchedule\"}]}}", V1Patch.PatchType.MergePatch), Node);
        await Eventually(async () => (await GetAsync($"http://{healthz}/healthz")).Status == HttpStatusCode.ServiceUnavailable, () => "healthz still 200");
        var (_, body, _) = await GetAsync($"http://{healthz}/healthz");
        Assert.Contains("\"nodeEligible\":false", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync($"http://{healthz}/livez")).Status);
    }

    [Fact]
    public async Task RunAsync_TransactionFails_CountedThenRetriedAsFullSync()
    {
        await _proxy.FirstSyncCompleted.WaitAsync(Wait);
        var metrics = _proxy.Metrics.For(IpFamily.IPv4);
        var full = metrics.FullSyncDuration.Count;
        _nft.FailNextRun(new NftablesException(NftErrorKind.Other, "injected"));
        var ip = await CreateServiceAsync("flaky");
        await Eventually(() => metrics.SyncFailures.Value == 1, () => "failure not counted");
        await Eventually(() => Trace(ip, 80).Output == "REJECT", () => "not programmed after the retry: " + Trace(ip, 80));
        Assert.True(metrics.FullSyncDuration.Count > full, "the retry is a full sync");
        var (_, text, _) = await GetAsync($"http://{_proxy.MetricsEndPoint}/metrics");
        Assert.Equal(1, Sample(text, "kubeproxy_sync_proxy_rules_nftables_sync_failures_total{ip_family=\"IPv4\"}"));
    }

    [Fact]
    public async Task RunAsync_TwoFamilies_FirstSyncWaitsForBothAndMetricsPerFamily()
    {
        var v6 = new FakeNftables();
        var v4 = new FakeNftables();
        using var stop = new CancellationTokenSource();
        var proxy = new ProxyServer(
            _api.Client,
            new ProxyServerOptions
            {
                NodeName = Node,
                NodeIps = [IPAddress.Parse("10.0.0.2"), IPAddress.Parse("fd00::2")],
                MinSyncPeriod = TimeSpan.FromMilliseconds(50),
                HealthzBindAddress = null,
                MetricsBindAddress = null,
            },
            new Dictionary<IpFamily, INftables> { [IpFamily.IPv6] = v6, [IpFamily.IPv4] = v4 },
            new FakeConntrack());
        var run = proxy.RunAsync(stop.Token);
        try
        {
            await proxy.FirstSyncCompleted.WaitAsync(Wait);
            Assert.True(v4.SuccessfulRuns > 0 && v6.SuccessfulRuns > 0);
            Assert.Contains(v4.Snapshot.Tables.Keys, t => t.Family == NftFamily.Ip);
            Assert.Contains(v6.Snapshot.Tables.Keys, t => t.Family == NftFamily.Ip6);
            // (A second full sync may follow when the own Node's labels arrive after the first.)
            Assert.True(proxy.Metrics.For(IpFamily.IPv4).SuccessfulSyncs >= 1);
            Assert.True(proxy.Metrics.For(IpFamily.IPv6).SuccessfulSyncs >= 1);
            var text = proxy.Metrics.Render();
            Assert.True(Sample(text, "kubeproxy_sync_full_proxy_rules_duration_seconds_count{ip_family=\"IPv6\"}") >= 1, text);
            Assert.True(proxy.Health.Health().Status.ContainsKey(IpFamily.IPv6));
        }
        finally
        {
            await stop.CancelAsync();
            await run.WaitAsync(Wait);
            await proxy.DisposeAsync();
        }
    }

    [Fact]
    public async Task RunAsync_StoppedBeforeFirstSync_FirstSyncCompletedCancelled()
    {
        await using var api = await TestApiServer.StartAsync();
        using var stop = new CancellationTokenSource();
        var proxy = new ProxyServer(
            api.Client,
            new ProxyServerOptions { NodeName = Node, HealthzBindAddress = null, MetricsBindAddress = null },
            new Dictionary<IpFamily, INftables> { [IpFamily.IPv4] = new FakeNftables() },
            new FakeConntrack());
        await stop.CancelAsync();
        await proxy.RunAsync(stop.Token).WaitAsync(Wait);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => proxy.FirstSyncCompleted);
        await proxy.DisposeAsync();
    }

    private async Task<string> CreateServiceAsync(string name)
    {
        var svc = await _api.Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1ServiceSpec { Ports = [new V1ServicePort { Port = 80, Protocol = "TCP" }] },
        }, _ns);
        return svc.Spec.ClusterIP;
    }

    private static ConntrackFlow Flow(IPAddress serviceIp, string endpoint) => new()
    {
        Protocol = "udp",
        OrigSrc = IPAddress.Parse("10.244.1.20"),
        OrigSrcPort = 40000,
        OrigDst = serviceIp,
        OrigDstPort = 53,
        ReplySrc = IPAddress.Parse(endpoint),
        ReplySrcPort = 5353,
        ReplyDst = IPAddress.Parse("10.244.1.20"),
        ReplyDstPort = 40000,
    };

    private TraceResult Trace(string clusterIp, int port = 80, string protocol = "tcp") =>
        new PacketTracer(_nft.Snapshot, ["10.0.0.2"]).Trace(new TracePacket("10.244.0.9", protocol, clusterIp, port, PacketOrigin.LocalPod));

    private static V1EndpointSlice Slice(string name, string ip, string node, int port = 8080, string protocol = "TCP", string service = "web") => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = service },
            Annotations = new Dictionary<string, string>
            {
                // RFC 3339 with nanoseconds, as the EndpointSlice controller writes it.
                ["endpoints.kubernetes.io/last-change-trigger-time"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
            },
        },
        AddressType = "IPv4",
        Ports = [new Discoveryv1EndpointPort { Name = service == "web" ? "http" : "dns", Port = port, Protocol = protocol }],
        Endpoints = [Endpoint(ip, node)],
    };

    private static V1Endpoint Endpoint(string ip, string node) => new()
    {
        Addresses = [ip],
        NodeName = node,
        Conditions = new V1EndpointConditions { Ready = true },
    };

    private async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> GetAsync(string url)
    {
        var response = await _http.GetAsync(new Uri(url));
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    private static double Sample(string exposition, string series)
    {
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        throw new Xunit.Sdk.XunitException($"series {series} not found in:\n{exposition}");
    }

    private static Task Eventually(Func<bool> condition, Func<string> describe) => Eventually(() => Task.FromResult(condition()), describe);

    private static async Task Eventually(Func<Task<bool>> condition, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException("timed out waiting: " + describe());
            }

            await Task.Delay(50);
        }
    }
}
