using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Dns.Kubernetes;
using Switchboard.TestKit;
using static Switchboard.Dns.Tests.Fixtures.Objects;

namespace Switchboard.Dns.Tests.Fixtures;

/// <summary>
/// The shared fixture of the dig suites: an in-process API server holding the Services, EndpointSlices and
/// Namespaces of reference/dns.md §1 (plus CoreDNS's handler_test shapes), a fake upstream, and a DNS server fed
/// by list+watch. Cluster IPs are requested explicitly so expectations are literal.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public static readonly (string, int, string)[] Http = [("http", 80, "TCP")];

    private DnsServer? _server;

    public TestApiServer Api { get; private set; } = null!;

    public FakeResolver Upstream { get; } = new();

    internal DnsServer Server => _server!;

    public int Port => _server!.EndPoints[0].Port;

    public k8s.Kubernetes Client => Api.Client;

    public async Task InitializeAsync()
    {
        Api = await TestApiServer.StartAsync();
        var c = Api.Client;
        foreach (var ns in (string[])["testns", "prod", "pods", "emptyns"])
        {
            await c.CoreV1.CreateNamespaceAsync(Namespace(ns));
        }

        // reference/dns.md §1 fixture.
        await c.CoreV1.CreateNamespacedServiceAsync(ExternalName("default", "ext", "www.example.com"), "default");
        await c.CoreV1.CreateNamespacedServiceAsync(Headless("prod", "db", false, ("pg", 5432, "TCP")), "prod");
        await c.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice("prod", "db", "db-abc", "IPv4", [("pg", 5432, "TCP")],
            Ep("10.244.1.5", "db-0"), Ep("10.244.2.7", "db-1"), Ep("10.244.3.9", "db-2", ready: false)), "prod");
        await c.CoreV1.CreateNamespacedServiceAsync(Headless("prod", "db-all", true, ("pg", 5432, "TCP")), "prod");
        await c.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice("prod", "db-all", "db-all-abc", "IPv4", [("pg", 5432, "TCP")],
            Ep("10.244.1.15", "db-0"), Ep("10.244.3.19", "db-2", ready: false)), "prod");
        await c.CoreV1.CreateNamespacedServiceAsync(Headless("prod", "down", false, ("pg", 5432, "TCP")), "prod");
        await c.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice("prod", "down", "down-abc", "IPv4", [("pg", 5432, "TCP")],
            Ep("10.244.4.1", "down-0", ready: false)), "prod");

        // CoreDNS handler_test shapes in testns.
        await c.CoreV1.CreateNamespacedServiceAsync(ClusterIp("testns", "svc1", "10.96.0.11", ("http", 80, "TCP")), "testns");
        await c.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice("testns", "svc1", "svc1-abc", "IPv4", Http, Ep("10.244.0.1")), "testns");
        await c.CoreV1.CreateNamespacedServiceAsync(ClusterIp("testns", "svctwin", "10.96.0.12", ("http", 80, "TCP")), "testns");
        await c.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice("testns", "svctwin", "svctwin-abc", "IPv4", Http, Ep("10.244.0.1")), "testns");
        await c.CoreV1.CreateNamespacedServiceAsync(ClusterIp("testns", "svcempty", "10.96.0.13", ("http", 80, "TCP")), "testns");
        await c.CoreV1.CreateNamespacedServiceAsync(ClusterIp("testns", "svc2", "10.96.0.14", ("http", 80, "TCP"), ("dns", 53, "UDP")), "testns");
        await c.CoreV1.CreateNamespacedServiceAsync(Headless("testns", "hdls1", false, ("http", 80, "TCP")), "testns");
        await c.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice("testns", "hdls1", "hdls1-v4", "IPv4", Http,
            Ep("172.0.0.2"), Ep("172.0.0.3"), Ep("172.0.0.4", "dup-name"), Ep("172.0.0.5", "dup-name")), "testns");
        await c.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice("testns", "hdls1", "hdls1-v6", "IPv6", Http,
            Ep("5678:abcd::1"), Ep("5678:abcd::2")), "testns");
        await c.CoreV1.CreateNamespacedServiceAsync(Headless("testns", "hdlsprtls", false), "testns");
        await c.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice("testns", "hdlsprtls", "hdlsprtls-abc", "IPv4", [], Ep("172.0.0.20")), "testns");
        await c.CoreV1.CreateNamespacedServiceAsync(ExternalName("testns", "external", "ext.interwebs.test"), "testns");
        await c.CoreV1.CreateNamespacedServiceAsync(ExternalName("testns", "external-to-service", "svc1.testns.svc.cluster.local"), "testns");

        // S15: a Pod with hostname foo and subdomain bar behind headless Service bar (the slice as the controller writes it).
        await c.CoreV1.CreateNamespacedServiceAsync(Headless("pods", "bar", false, ("http", 80, "TCP")), "pods");
        await c.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice("pods", "bar", "bar-abc", "IPv4", Http, Ep("10.244.9.9", "foo"), Ep("10.244.9.10")), "pods");

        Upstream.AddA("www.example.com", 28715, "192.0.2.53");
        Upstream.AddA("ext.interwebs.test", 300, "192.0.2.80");
        Upstream.AddA("example.org", 60, "192.0.2.1");
        Upstream.AddPtr("99.0.0.10.in-addr.arpa", 300, "fallthrough.example");

        _server = await StartServerAsync(PodsMode.Insecure);
    }

    /// <summary>Another DNS server on the same API (other `--pods` modes, autopath).</summary>
    internal async Task<DnsServer> StartServerAsync(PodsMode pods, bool autopath = false, string? upstream = null, int ttl = 5)
    {
        var server = DnsServer.Start(Options(pods, autopath, upstream ?? Upstream.Address, ttl), Api.Client, NullLoggerFactory.Instance, TimeProvider.System);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await server.WaitReadyAsync(cts.Token);
        return server;
    }

    internal static DnsOptions Options(PodsMode pods, bool autopath, string upstream, int ttl = 5) => new()
    {
        Listen = ["127.0.0.1:0"],
        Pods = pods,
        AutoPath = autopath,
        Upstream = [upstream],
        Ttl = ttl,
        MetricsAddress = "127.0.0.1:0",
        HealthAddress = "127.0.0.1:0",
        ReadyAddress = "127.0.0.1:0",
        UdpWorkers = 2,
    };

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        await Upstream.DisposeAsync();
        await Api.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
