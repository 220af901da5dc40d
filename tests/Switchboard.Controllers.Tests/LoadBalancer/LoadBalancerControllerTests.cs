using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Client.Informers;
using Switchboard.Controllers.LoadBalancer;
using Switchboard.Controllers.Tests.Support;
using Switchboard.TestKit;

namespace Switchboard.Controllers.Tests.LoadBalancer;

/// <summary>
/// Functional: the real in-process API server and the controller on real informers. One server per test: the
/// controller owns every LoadBalancer Service it sees, so tests must not share Services.
/// </summary>
public sealed class LoadBalancerControllerTests
{
    private static V1Service Lb(string name, string? family = null, string? requested = null, string? cls = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1ServiceSpec
        {
            Type = "LoadBalancer",
            Ports = [new V1ServicePort { Port = 80, Protocol = "TCP" }],
            IpFamilyPolicy = family is null ? "PreferDualStack" : "SingleStack",
            IpFamilies = family is null ? null : [family],
            LoadBalancerIP = requested,
            LoadBalancerClass = cls,
        },
    };

    private static async Task<(CancellationTokenSource Stop, Task Run)> StartAsync(Kubernetes client, string pool)
    {
        var informers = new SharedInformerFactory(client);
        var controller = new LoadBalancerController(informers, client, pool, NullLoggerFactory.Instance, TimeProvider.System);
        var stop = new CancellationTokenSource();
        var run = Task.WhenAll(controller.RunAsync(stop.Token), informers.RunAsync(stop.Token)).ContinueWith(_ => { controller.Dispose(); informers.Dispose(); }, TaskScheduler.Default);
        await Task.CompletedTask;
        return (stop, run);
    }

    private static async Task<V1Service> WaitIngressAsync(Kubernetes client, string ns, string name, int count)
    {
        V1Service svc = null!;
        await Poll.UntilAsync(async () =>
        {
            svc = await client.CoreV1.ReadNamespacedServiceAsync(name, ns);
            return (svc.Status?.LoadBalancer?.Ingress?.Count ?? 0) == count;
        }, $"{count} ingress IPs on {ns}/{name}");
        return svc;
    }

    [Fact]
    public async Task DualStackService_GetsOneIpPerFamilyFinalizerAndEvents_ReleasedOnTypeChange()
    {
        await using var server = await TestApiServer.StartAsync();
        var client = server.Client;
        var ns = await Objects.CreateNamespaceAsync(client, "lb");
        var (stop, run) = await StartAsync(client, "172.30.255.0/24,fd00:30:ff::/112");
        try
        {
            await client.CoreV1.CreateNamespacedServiceAsync(Lb("web"), ns);
            var svc = await WaitIngressAsync(client, ns, "web", 2);
            var ips = svc.Status.LoadBalancer.Ingress.Select(i => i.Ip).ToList();
            Assert.Equal(svc.Spec.IpFamilies.Select(f => f == "IPv4" ? "172.30.255." : "fd00:30:ff::"), ips.Select(ip => ip.Contains(':') ? "fd00:30:ff::" : "172.30.255."));
            Assert.All(svc.Status.LoadBalancer.Ingress, i => Assert.Equal("VIP", i.IpMode));
            Assert.Contains(LoadBalancerController.CleanupFinalizer, svc.Metadata.Finalizers);
            await Poll.UntilAsync(async () => (await client.CoreV1.ListNamespacedEventAsync(ns)).Items.Any(e => e.Reason == "EnsuredLoadBalancer" && e.InvolvedObject.Name == "web"), "EnsuredLoadBalancer event");

            // A second Service never gets the same addresses.
            await client.CoreV1.CreateNamespacedServiceAsync(Lb("api", "IPv4"), ns);
            var api = await WaitIngressAsync(client, ns, "api", 1);
            Assert.DoesNotContain(api.Status.LoadBalancer.Ingress[0].Ip, ips);

            // Type change to ClusterIP: status cleared, finalizer gone, IPs free again.
            var patch = """{"spec":{"type":"ClusterIP","allocateLoadBalancerNodePorts":null}}""";
            await client.CoreV1.PatchNamespacedServiceAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), "web", ns);
            await Poll.UntilAsync(async () =>
            {
                var s = await client.CoreV1.ReadNamespacedServiceAsync("web", ns);
                return s.Status?.LoadBalancer?.Ingress is not { Count: > 0 } && s.Metadata.Finalizers?.Contains(LoadBalancerController.CleanupFinalizer) != true;
            }, "cleanup after type change");
            await client.CoreV1.CreateNamespacedServiceAsync(Lb("reuse", "IPv4"), ns);
            var reuse = await WaitIngressAsync(client, ns, "reuse", 1);
            Assert.Contains(reuse.Status.LoadBalancer.Ingress[0].Ip, ips);
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
    }

    [Fact]
    public async Task Delete_WaitsForTheFinalizerAndFreesTheIp_RestartKeepsAddresses()
    {
        await using var server = await TestApiServer.StartAsync();
        var client = server.Client;
        var ns = await Objects.CreateNamespaceAsync(client, "lbdel");
        var (stop, run) = await StartAsync(client, "172.31.255.0/29");
        string first;
        try
        {
            await client.CoreV1.CreateNamespacedServiceAsync(Lb("a", "IPv4"), ns);
            first = (await WaitIngressAsync(client, ns, "a", 1)).Status.LoadBalancer.Ingress[0].Ip;
            await client.CoreV1.CreateNamespacedServiceAsync(Lb("b", "IPv4"), ns);
            await WaitIngressAsync(client, ns, "b", 1);
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }

        // A new controller (an `up` restart) keeps each Service's address and allocates around them.
        (stop, run) = await StartAsync(client, "172.31.255.0/29");
        try
        {
            await client.CoreV1.CreateNamespacedServiceAsync(Lb("c", "IPv4"), ns);
            var c = await WaitIngressAsync(client, ns, "c", 1);
            var all = new[] { first, (await client.CoreV1.ReadNamespacedServiceAsync("b", ns)).Status.LoadBalancer.Ingress[0].Ip, c.Status.LoadBalancer.Ingress[0].Ip };
            Assert.Equal(3, all.Distinct().Count());
            Assert.Equal(first, (await client.CoreV1.ReadNamespacedServiceAsync("a", ns)).Status.LoadBalancer.Ingress[0].Ip);

            await client.CoreV1.DeleteNamespacedServiceAsync("a", ns);
            await Poll.UntilAsync(async () => (await client.CoreV1.ListNamespacedServiceAsync(ns)).Items.All(s => s.Metadata.Name != "a"), "a to be gone");
            await client.CoreV1.CreateNamespacedServiceAsync(Lb("d", "IPv4", requested: first), ns);
            var d = await WaitIngressAsync(client, ns, "d", 1);
            Assert.Equal(first, d.Status.LoadBalancer.Ingress[0].Ip);
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
    }

    [Fact]
    public async Task OtherClassOrExhaustedPool_GetsNoAddress_ExhaustionIsAWarningEvent()
    {
        await using var server = await TestApiServer.StartAsync();
        var client = server.Client;
        var ns = await Objects.CreateNamespaceAsync(client, "lbcls");
        var (stop, run) = await StartAsync(client, "172.29.255.0/30");
        try
        {
            await client.CoreV1.CreateNamespacedServiceAsync(Lb("other", "IPv4", cls: "example.com/lb"), ns);
            await client.CoreV1.CreateNamespacedServiceAsync(Lb("one", "IPv4"), ns);
            await client.CoreV1.CreateNamespacedServiceAsync(Lb("two", "IPv4"), ns);
            await WaitIngressAsync(client, ns, "one", 1);
            await WaitIngressAsync(client, ns, "two", 1);
            await client.CoreV1.CreateNamespacedServiceAsync(Lb("three", "IPv4"), ns);
            await Poll.UntilAsync(async () => (await client.CoreV1.ListNamespacedEventAsync(ns)).Items.Any(e => e.Reason == "SyncLoadBalancerFailed" && e.InvolvedObject.Name == "three" && e.Message.Contains("no free IPv4 address")), "exhaustion warning");
            var other = await client.CoreV1.ReadNamespacedServiceAsync("other", ns);
            Assert.Null(other.Status?.LoadBalancer?.Ingress);
            Assert.DoesNotContain(LoadBalancerController.CleanupFinalizer, other.Metadata.Finalizers ?? []);
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
    }
}
