using System.Net;
using k8s;
using k8s.Models;
using Switchboard.Client.Informers;
using Switchboard.Netfilter.Fake;
using Switchboard.Netfilter.Tracing;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Server;
using Switchboard.TestKit;
using static Switchboard.Proxy.Tests.Builders;

namespace Switchboard.Proxy.Tests.Server;

/// <summary>The proxy against a real API server (in-process, 127.0.0.1 port 0): informers → trackers → fake nftables.</summary>
public sealed class ProxyServerTests
{
    private static async Task UntilAsync(Func<bool> condition, string what, CancellationToken ct, Func<string>? state = null)
    {
        while (!condition())
        {
            if (ct.IsCancellationRequested)
            {
                Assert.Fail("timed out waiting for " + what + "\n" + state?.Invoke());
            }

            await Task.Delay(20, CancellationToken.None);
        }
    }

    [Fact]
    public async Task ProxyServer_ServicesAndSlicesFromApi_ProgramsAndFollowsChanges()
    {
        await using var api = await TestApiServer.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ns = "proxy-" + Guid.NewGuid().ToString("N")[..6];
        await api.Client.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } }, cancellationToken: cts.Token);
        var svc = await api.Client.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = ns },
            Spec = new V1ServiceSpec { Ports = [new V1ServicePort { Name = "http", Port = 80, TargetPort = 8080 }] },
        }, ns, cancellationToken: cts.Token);
        var clusterIp = svc.Spec.ClusterIP;
        await api.Client.CreateNamespacedEndpointSliceAsync(
            Slice(ns, "web", "web-abc", "IPv4", [EpPort("http", 8080)], Ep("10.244.1.5", "node-b")), ns, cancellationToken: cts.Token);

        var fakes = new Dictionary<IpFamily, FakeNftables> { [IpFamily.IPv4] = new(), [IpFamily.IPv6] = new() };
        using var proxy = new ProxyServer(new ProxyServerOptions
        {
            NodeName = "node-a",
            NodeIps = [IPAddress.Parse("172.18.0.2"), IPAddress.Parse("fd00:172:18::2")],
            ClusterCidrs = [IPNetwork.Parse("10.244.0.0/16"), IPNetwork.Parse("fd00:10:244::/56")],
            MinSyncPeriod = TimeSpan.Zero,
            ServeHealthChecks = false, // it would listen on the node IPs, which only exist in a node namespace
        }, family => fakes[family], TimeProvider.System);
        using var factory = new SharedInformerFactory(api.Client);
        proxy.Register(factory);
        factory.Start(cts.Token);
        var run = proxy.RunAsync(cts.Token);

        await proxy.FirstSync.WaitAsync(cts.Token);
        string Trace(int port = 80) =>
            new PacketTracer(fakes[IpFamily.IPv4].Snapshot, ["172.18.0.2"]).Trace(new TracePacket("10.244.2.9", "tcp", clusterIp, port, PacketOrigin.LocalPod)).Output;
        await UntilAsync(() => Trace() == "10.244.1.5:8080", "first endpoint", cts.Token);

        // An endpoint added through the API reaches the ruleset by a partial sync.
        await api.Client.ReplaceNamespacedEndpointSliceAsync(
            Slice(ns, "web", "web-abc", "IPv4", [EpPort("http", 8080)], Ep("10.244.1.5", "node-b"), Ep("10.244.3.7", "node-c")), "web-abc", ns, cancellationToken: cts.Token);
        await UntilAsync(() => Trace() == "10.244.1.5:8080, 10.244.3.7:8080", "second endpoint", cts.Token);

        // The ServiceCIDR from the API server makes unallocated service IPs drop.
        var unallocated = IPAddress.Parse(clusterIp).GetAddressBytes();
        unallocated[3] ^= 0x55;
        await UntilAsync(() => new PacketTracer(fakes[IpFamily.IPv4].Snapshot, ["172.18.0.2"])
            .Trace(new TracePacket("10.244.2.9", "tcp", new IPAddress(unallocated).ToString(), 80)).Output == "DROP", "ServiceCIDR drop", cts.Token, () => new IPAddress(unallocated) + "\n" + fakes[IpFamily.IPv4].Dump());

        // Opting out with service-proxy-name removes the Service.
        svc = await api.Client.ReadNamespacedServiceAsync("web", ns, cancellationToken: cts.Token);
        svc.Metadata.Labels = new Dictionary<string, string> { ["service.kubernetes.io/service-proxy-name"] = "elsewhere" };
        await api.Client.ReplaceNamespacedServiceAsync(svc, "web", ns, cancellationToken: cts.Token);
        await UntilAsync(() => Trace() == "DROP", "opted out: the IP is now unallocated for this proxy", cts.Token);

        await cts.CancelAsync();
        await run;
    }
}
