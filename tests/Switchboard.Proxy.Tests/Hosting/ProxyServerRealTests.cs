using Switchboard.TestKit.Netns;
using System.Net;
using k8s;
using k8s.Models;
using Switchboard.Netfilter;
using Switchboard.Netfilter.Conntrack;
using Switchboard.Proxy.Hosting;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Tests.Real;
using Switchboard.TestKit;

namespace Switchboard.Proxy.Tests.Hosting;

/// <summary>The ProxyServer against real nft in a network namespace this test makes (root, as CI).</summary>
public sealed class ProxyServerRealTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task RunAsync_RealNftablesInTestNamespace_TableAndServiceAppearAndStayAfterStop()
    {
        var prefix = TestNetns.NewPrefix();
        var table = prefix + "-proxy";
        await using var api = await TestApiServer.StartAsync();
        await using var ns = await TestNetns.CreateAsync(prefix + "-n");
        await api.Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = prefix } });

        ProxyServer NewProxy() => new(
            api.Client,
            new ProxyServerOptions
            {
                NodeName = "node-a",
                NodeIps = [IPAddress.Parse("10.0.0.2")],
                ClusterCidrs = [IPNetwork.Parse("10.244.0.0/16")],
                TableName = table,
                MinSyncPeriod = TimeSpan.FromMilliseconds(50),
                HealthzBindAddress = new IPEndPoint(IPAddress.Loopback, 0),
                MetricsBindAddress = new IPEndPoint(IPAddress.Loopback, 0),
                HealthCheckNodePortAddresses = [IPAddress.Loopback],
            },
            new Dictionary<IpFamily, INftables> { [IpFamily.IPv4] = new NftablesRunner(ns.Name) },
            new ConntrackTool(ns.Name));
        using var stop = new CancellationTokenSource();
        var proxy = NewProxy();
        var run = proxy.RunAsync(stop.Token);
        string clusterIp;
        try
        {
            await proxy.FirstSyncCompleted.WaitAsync(Wait);
            Assert.Contains($"table ip {table}", await ns.ExecAsync("nft", "list", "tables"), StringComparison.Ordinal);

            var svc = await api.Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
            {
                Metadata = new V1ObjectMeta { Name = "web" },
                Spec = new V1ServiceSpec { Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }] },
            }, prefix);
            clusterIp = svc.Spec.ClusterIP;
            await api.Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(new V1EndpointSlice
            {
                Metadata = new V1ObjectMeta { Name = "web-1", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = "web" } },
                AddressType = "IPv4",
                Ports = [new Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }],
                Endpoints = [new V1Endpoint { Addresses = ["10.244.1.5"], NodeName = "node-a", Conditions = new V1EndpointConditions { Ready = true } }],
            }, prefix);

            // The kernel's service-ips map gains the ClusterIP.
            var deadline = DateTime.UtcNow + Wait;
            string map;
            while (!(map = await ns.ExecAsync("nft", "list", "map", "ip", table, "service-ips")).Contains(svc.Spec.ClusterIP + " . tcp . 80", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, "ClusterIP never programmed:\n" + map);
                await Task.Delay(50);
            }

            Assert.Contains("10.244.1.5", await ns.ExecAsync("nft", "list", "table", "ip", table), StringComparison.Ordinal);
        }
        finally
        {
            await stop.CancelAsync();
            await run.WaitAsync(Wait);
            await proxy.DisposeAsync();
        }

        // Stopping leaves the rules (established connections survive an agent restart); the namespace takes them away.
        Assert.Contains(clusterIp + " . tcp . 80", await ns.ExecAsync("nft", "list", "map", "ip", table, "service-ips"), StringComparison.Ordinal);

        // A restarted proxy resyncs in full over what it finds and keeps the Service programmed.
        using var stop2 = new CancellationTokenSource();
        var again = NewProxy();
        var run2 = again.RunAsync(stop2.Token);
        try
        {
            await again.FirstSyncCompleted.WaitAsync(Wait);
            Assert.Equal(1, again.Metrics.For(IpFamily.IPv4).FullSyncDuration.Count);
            Assert.Contains(clusterIp + " . tcp . 80", await ns.ExecAsync("nft", "list", "map", "ip", table, "service-ips"), StringComparison.Ordinal);
        }
        finally
        {
            await stop2.CancelAsync();
            await run2.WaitAsync(Wait);
            await again.DisposeAsync();
        }
    }
}
