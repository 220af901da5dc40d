using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Controllers.Nodes;
using Switchboard.Controllers.Tests.Support;

namespace Switchboard.Controllers.Tests.Nodes;

/// <summary>Functional: the real in-process API server, the controller's clock faked, one monitor pass at a time.</summary>
public sealed class NodeLifecycleControllerTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    [Fact]
    public async Task A_node_whose_lease_lapses_for_40s_becomes_Unknown_and_a_renewing_one_stays_Ready()
    {
        var client = fixture.Server.Client;
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var controller = new NodeLifecycleController(client, NullLoggerFactory.Instance, time);
        foreach (var name in new[] { "lc-lapsed", "lc-alive" })
        {
            var node = await client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = name } });
            node.Status = new V1NodeStatus { Conditions = [new V1NodeCondition { Type = "Ready", Status = "True", Reason = "KubeletReady", LastHeartbeatTime = DateTime.UtcNow, LastTransitionTime = DateTime.UtcNow }] };
            await client.CoreV1.ReplaceNodeStatusAsync(node, name);
            await client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease { Metadata = new V1ObjectMeta { Name = name }, Spec = new V1LeaseSpec { HolderIdentity = name, LeaseDurationSeconds = 40, RenewTime = DateTime.UtcNow } }, "kube-node-lease");
        }

        await controller.MonitorAsync(CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(30));
        await Renew("lc-alive");
        await controller.MonitorAsync(CancellationToken.None);
        Assert.Equal("True", await ReadyStatus("lc-lapsed"));

        time.Advance(TimeSpan.FromSeconds(15));
        await Renew("lc-alive");
        await controller.MonitorAsync(CancellationToken.None);
        Assert.Equal("Unknown", await ReadyStatus("lc-lapsed"));
        Assert.Equal("True", await ReadyStatus("lc-alive"));
        var lapsed = await client.CoreV1.ReadNodeAsync("lc-lapsed");
        Assert.Equal("NodeStatusUnknown", lapsed.Status.Conditions.Single().Reason);

        async Task Renew(string name)
        {
            var lease = await client.CoordinationV1.ReadNamespacedLeaseAsync(name, "kube-node-lease");
            lease.Spec.RenewTime = lease.Spec.RenewTime!.Value.AddSeconds(1);
            await client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, name, "kube-node-lease");
        }

        async Task<string> ReadyStatus(string name) =>
            (await client.CoreV1.ReadNodeAsync(name)).Status.Conditions.Single(c => c.Type == "Ready").Status;
    }
}
