using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Node.Agent;
using Switchboard.Node.Topology;

using Switchboard.Node.Tests.Runtime;

namespace Switchboard.Node.Tests.Agent;

public sealed class NodeRoutesTests
{
    private static V1Node Node(string name, string[] cidrs, params string[] ips) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1NodeSpec { PodCIDRs = cidrs },
        Status = new V1NodeStatus { Addresses = [.. ips.Select(ip => new V1NodeAddress { Type = "InternalIP", Address = ip }), new V1NodeAddress { Type = "Hostname", Address = name }] },
    };

    [Fact]
    public void Desired_OtherNodesCidrsViaSameFamilyInternalIp()
    {
        var routes = NodeRoutes.Desired(
        [
            Node("n1", ["10.244.1.0/24", "fd00:10:244:1::/64"], "172.18.0.11", "fd00:172:18::11"),
            Node("n2", ["10.244.2.0/24", "fd00:10:244:2::/64"], "172.18.0.12", "fd00:172:18::12"),
            Node("n3", ["10.244.3.0/24", "fd00:10:244:3::/64"], "172.18.0.13"),
            Node("n4", [], "172.18.0.14"),
        ], "n1");
        Assert.Equal(new Dictionary<string, string>
        {
            ["10.244.2.0/24"] = "172.18.0.12",
            ["10.244.3.0/24"] = "172.18.0.13",
            ["fd00:10:244:2::/64"] = "fd00:172:18::12",
        }, routes);
    }

    /// <summary>Real routes in a test-made namespace with an on-link underlay (a veth pair inside it).</summary>
    [Fact]
    public async Task Sync_RealNamespace_AddsChangesAndRemovesOnlyItsRoutes()
    {
        var ns = "sbt" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3)) + "-r";
        try
        {
            var setup = await RealNode.Sh(
                $"ip netns add {ns} && ip netns exec {ns} sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 && " +
                $"ip -n {ns} link add {ns[..9]}-a type veth peer name {ns[..9]}-b && ip -n {ns} link set {ns[..9]}-a up && ip -n {ns} link set {ns[..9]}-b up && " +
                $"ip -n {ns} addr add 172.31.0.1/24 dev {ns[..9]}-a && ip -n {ns} addr add fd00:31::1/64 dev {ns[..9]}-a && " +
                $"ip -n {ns} route add 10.99.0.0/24 via 172.31.0.99");
            Assert.True(setup.Code == 0, setup.Output);
            var routes = new NodeRoutes(new ProcessCommandRunner(), "self", ns, NullLogger.Instance);
            await routes.FlushAsync(CancellationToken.None);
            await routes.SyncAsync(new Dictionary<string, string> { ["10.244.2.0/24"] = "172.31.0.12", ["fd00:10:244:2::/64"] = "fd00:31::12" }, CancellationToken.None);
            var shown = await RealNode.Sh($"ip -n {ns} -4 route show proto 150; ip -n {ns} -6 route show proto 150");
            Assert.Contains("10.244.2.0/24 via 172.31.0.12", shown.Output, StringComparison.Ordinal);
            Assert.Contains("fd00:10:244:2::/64 via fd00:31::12", shown.Output, StringComparison.Ordinal);

            await routes.SyncAsync(new Dictionary<string, string> { ["10.244.2.0/24"] = "172.31.0.13" }, CancellationToken.None);
            shown = await RealNode.Sh($"ip -n {ns} -4 route show proto 150; ip -n {ns} -6 route show proto 150");
            Assert.Contains("10.244.2.0/24 via 172.31.0.13", shown.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("fd00:10:244:2::/64", shown.Output, StringComparison.Ordinal);

            // A new agent flushes what an earlier one left, and never a route of someone else.
            await new NodeRoutes(new ProcessCommandRunner(), "self", ns, NullLogger.Instance).FlushAsync(CancellationToken.None);
            var all = await RealNode.Sh($"ip -n {ns} -4 route show");
            Assert.DoesNotContain("10.244.2.0/24", all.Output, StringComparison.Ordinal);
            Assert.Contains("10.99.0.0/24 via 172.31.0.99", all.Output, StringComparison.Ordinal);
        }
        finally
        {
            await RealNode.Sh($"ip netns del {ns}");
        }
    }
}
