using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Controllers.Nodes;
using Switchboard.Controllers.Tests.Support;

namespace Switchboard.Controllers.Tests.Nodes;

/// <summary>Functional: the real in-process API server and the controller's own informer.</summary>
public sealed class NodeIpamControllerTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    [Fact]
    public async Task A_burst_of_nodes_each_gets_its_own_pod_cidrs_once_although_the_cache_lags_the_patches()
    {
        var client = fixture.Server.Client;
        using var controller = new NodeIpamController(client, "10.244.0.0/16,fd00:10:244::/56", NullLoggerFactory.Instance, TimeProvider.System);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var run = controller.RunAsync(cts.Token);
        var prefix = "ipam-" + Guid.NewGuid().ToString("N")[..6] + "-";

        // Created while passes run: each pass sees a snapshot that lags the patches of the previous one.
        await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
            client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = prefix + i } }, cancellationToken: cts.Token)));
        List<V1Node> nodes;
        while (true)
        {
            nodes = [.. (await client.CoreV1.ListNodeAsync(cancellationToken: cts.Token)).Items.Where(n => n.Metadata.Name.StartsWith(prefix, StringComparison.Ordinal))];
            if (nodes.All(n => n.Spec?.PodCIDRs is { Count: 2 }))
            {
                break;
            }
            await Task.Delay(50, cts.Token);
        }
        var first = nodes.ToDictionary(n => n.Metadata.Name, n => string.Join(',', n.Spec.PodCIDRs));
        // Let any pass still running on a stale snapshot finish: it must not hand out or change anything.
        await Task.Delay(1500, cts.Token);
        await cts.CancelAsync();
        await run;

        var all = (await client.CoreV1.ListNodeAsync()).Items.Where(n => n.Spec?.PodCIDRs is { Count: > 0 }).ToList();
        Assert.Equal(all.Count, all.SelectMany(n => n.Spec.PodCIDRs).Distinct().Count() / 2);
        Assert.All(nodes, n => Assert.Equal(first[n.Metadata.Name], string.Join(',', client.CoreV1.ReadNode(n.Metadata.Name).Spec.PodCIDRs)));
        Assert.All(nodes, n => Assert.Equal(n.Spec.PodCIDRs[0], n.Spec.PodCIDR));
    }
}
