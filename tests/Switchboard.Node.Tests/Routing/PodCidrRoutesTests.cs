using System.Diagnostics;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Node.Routing;
using Switchboard.Node.Tests.Topology;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Tests.Routing;

public sealed class PodCidrRoutesTests
{
    internal static V1Node Node(string name, string[] cidrs, params string[] ips) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1NodeSpec { PodCIDRs = cidrs, PodCIDR = cidrs.FirstOrDefault() },
        Status = new V1NodeStatus { Addresses = [.. ips.Select(ip => new V1NodeAddress { Type = "InternalIP", Address = ip }), new V1NodeAddress { Type = "Hostname", Address = name }] },
    };

    [Fact]
    public void Desired_OtherNodesBothFamilies_RoutesViaSameFamilyInternalIp()
    {
        var nodes = new[]
        {
            Node("node1", ["10.244.0.0/24", "fd00:10:244::/64"], "172.18.0.11", "fd00:172:18::11"),
            Node("node2", ["10.244.1.0/24", "fd00:10:244:1::/64"], "172.18.0.12", "fd00:172:18::12"),
            Node("node3", ["10.244.2.0/24"], "fd00:172:18::13", "172.18.0.13"),
        };
        var routes = PodCidrRoutes.Desired("node1", nodes);
        Assert.Equal(
            ["10.244.1.0/24 via 172.18.0.12", "10.244.2.0/24 via 172.18.0.13", "fd00:10:244:1::/64 via fd00:172:18::12"],
            routes.Select(r => r.Cidr + " via " + r.Via));
    }

    [Fact]
    public void Desired_NodeWithoutCidrsOrMatchingAddressOrDeleting_IsSkipped()
    {
        var deleting = Node("node4", ["10.244.4.0/24"], "172.18.0.14");
        deleting.Metadata.DeletionTimestamp = DateTime.UtcNow;
        var nodes = new[]
        {
            Node("node2", [], "172.18.0.12"),
            Node("node3", ["fd00:10:244:3::/64"], "172.18.0.13"),
            deleting,
            Node("node5", ["not-a-cidr"], "172.18.0.15"),
        };
        Assert.Empty(PodCidrRoutes.Desired("node1", nodes));
    }

    [Fact]
    public void Desired_InUnderlay_RoutesEveryNode()
    {
        var nodes = new[] { Node("node1", ["10.244.0.0/24"], "172.18.0.11"), Node("node2", ["10.244.1.0/24"], "172.18.0.12") };
        Assert.Equal(2, PodCidrRoutes.Desired(null, nodes).Count);
    }

    [Fact]
    public async Task Sync_AddChangeRemove_IssuesOnlyTheDifference()
    {
        var runner = new FakeCommandRunner();
        var syncer = new PodCidrRouteSyncer(runner, "sb-abc123-u", null, NullLogger.Instance);
        Assert.True(await syncer.SyncAsync([Node("node1", ["10.244.0.0/24"], "172.18.0.11"), Node("node2", ["10.244.1.0/24", "fd00:10:244:1::/64"], "172.18.0.12", "fd00:172:18::12")], default));
        Assert.Contains("ip -n sb-abc123-u -j route show proto 76", runner.Commands);
        Assert.Contains("ip -n sb-abc123-u -6 -j route show proto 76", runner.Commands);
        Assert.Contains("ip -n sb-abc123-u route replace 10.244.0.0/24 via 172.18.0.11 proto 76", runner.Commands);
        Assert.Contains("ip -n sb-abc123-u -6 route replace fd00:10:244:1::/64 via fd00:172:18::12 proto 76", runner.Commands);

        runner.Commands.Clear();
        Assert.True(await syncer.SyncAsync([Node("node1", ["10.244.0.0/24"], "172.18.0.11"), Node("node2", ["10.244.1.0/24", "fd00:10:244:1::/64"], "172.18.0.12", "fd00:172:18::12")], default));
        Assert.Empty(runner.Commands);

        Assert.True(await syncer.SyncAsync([Node("node1", ["10.244.0.0/24"], "172.18.0.21")], default));
        Assert.Equal(
            [
                "ip -n sb-abc123-u route del 10.244.1.0/24 proto 76",
                "ip -n sb-abc123-u -6 route del fd00:10:244:1::/64 proto 76",
                "ip -n sb-abc123-u route replace 10.244.0.0/24 via 172.18.0.21 proto 76",
            ],
            runner.Commands);
    }

    [Fact]
    public async Task Sync_FirstRun_SweepsRoutesAnEarlierRunLeft()
    {
        var runner = new FakeCommandRunner
        {
            OnCommand = c => c == "ip -j route show proto 76"
                ? new CommandResult(0, "", """[{"dst":"10.244.9.0/24","gateway":"172.18.0.19","dev":"e1","protocol":"76","flags":[]}]""")
                : new CommandResult(0, "", c.Contains("show") ? "[]" : ""),
        };
        var syncer = new PodCidrRouteSyncer(runner, null, "node1", NullLogger.Instance);
        Assert.True(await syncer.SyncAsync([], default));
        Assert.Contains("ip route del 10.244.9.0/24 proto 76", runner.Commands);
        runner.Commands.Clear();
        Assert.True(await syncer.SyncAsync([], default));
        Assert.Empty(runner.Commands);
    }

    [Fact]
    public async Task Sync_FirstRunAfterARestart_ReplacesWantedRoutesInPlace_DeletesOnlyTheRest()
    {
        var runner = new FakeCommandRunner
        {
            OnCommand = c => c == "ip -j route show proto 76"
                ? new CommandResult(0, "", """[{"dst":"10.244.1.0/24","gateway":"172.18.0.12","protocol":"76"},{"dst":"10.244.9.0/24","gateway":"172.18.0.19","protocol":"76"}]""")
                : new CommandResult(0, "", c.Contains("show") ? "[]" : ""),
        };
        var syncer = new PodCidrRouteSyncer(runner, null, "node1", NullLogger.Instance);
        Assert.True(await syncer.SyncAsync([Node("node2", ["10.244.1.0/24"], "172.18.0.12")], default));
        // The route still in use is never deleted (a restarted agent must not cut Pod traffic); the stale one goes after.
        Assert.DoesNotContain("ip route del 10.244.1.0/24 proto 76", runner.Commands);
        Assert.Equal(["ip route replace 10.244.1.0/24 via 172.18.0.12 proto 76", "ip route del 10.244.9.0/24 proto 76"],
            runner.Commands.Where(c => c.Contains(" replace ", StringComparison.Ordinal) || c.Contains(" del ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Sync_CommandFails_ReportsFalseAndRetriesNextTime()
    {
        var runner = new FakeCommandRunner { FailOn = "replace 10.244.1.0/24" };
        var syncer = new PodCidrRouteSyncer(runner, null, "node1", NullLogger.Instance);
        V1Node[] nodes = [Node("node2", ["10.244.1.0/24"], "172.18.0.12")];
        Assert.False(await syncer.SyncAsync(nodes, default));
        runner.FailOn = null;
        runner.Commands.Clear();
        Assert.True(await syncer.SyncAsync(nodes, default));
        Assert.Contains("ip route replace 10.244.1.0/24 via 172.18.0.12 proto 76", runner.Commands);
    }

    [Fact]
    public void ParseDestinations_IpJsonOutput_ReturnsDst()
    {
        Assert.Equal(["10.1.0.0/24", "fd00::/64"], PodCidrRouteSyncer.ParseDestinations("""[{"dst":"10.1.0.0/24"},{"dst":"fd00::/64"},{"type":"x"}]"""));
        Assert.Empty(PodCidrRouteSyncer.ParseDestinations(""));
    }
}

/// <summary>
/// Real kernel: two test namespaces on a veth; the syncer programs namespace A, and a ping to a "Pod" address
/// that exists only in namespace B (on its loopback) gets an answer, in both families.
/// </summary>
public sealed class PodCidrRoutesKernelTests : IAsyncLifetime
{
    private readonly string _id = "sbt" + Guid.NewGuid().ToString("N")[..6];
    private readonly ProcessCommandRunner _runner = new();

    private string A => _id + "-a";

    private string B => _id + "-b";

    public async Task InitializeAsync()
    {
        await Ip("netns", "add", A);
        await Ip("netns", "add", B);
        foreach (var ns in new[] { A, B })
        {
            await Ip("netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0");
            await Ip("netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0");
            await Ip("-n", ns, "link", "set", "lo", "up");
        }
        await Ip("-n", A, "link", "add", _id + "a", "type", "veth", "peer", "name", _id + "b", "netns", B);
        await Ip("-n", A, "addr", "add", "192.168.77.1/24", "dev", _id + "a");
        await Ip("-n", A, "addr", "add", "fd00:77::1/64", "dev", _id + "a", "nodad");
        await Ip("-n", B, "addr", "add", "192.168.77.2/24", "dev", _id + "b");
        await Ip("-n", B, "addr", "add", "fd00:77::2/64", "dev", _id + "b", "nodad");
        await Ip("-n", A, "link", "set", _id + "a", "up");
        await Ip("-n", B, "link", "set", _id + "b", "up");
        // The "Pod" addresses of node B.
        await Ip("-n", B, "addr", "add", "10.250.1.7/32", "dev", "lo");
        await Ip("-n", B, "addr", "add", "fd00:250:1::7/128", "dev", "lo");
    }

    public async Task DisposeAsync()
    {
        await _runner.RunAsync("ip", ["netns", "del", A], default);
        await _runner.RunAsync("ip", ["netns", "del", B], default);
    }

    [Fact]
    public async Task Sync_RealNamespace_PodAddressOnOtherNodeAnswersThenRouteIsRemoved()
    {
        var syncer = new PodCidrRouteSyncer(_runner, A, "a", NullLogger.Instance);
        var nodes = new[]
        {
            PodCidrRoutesTests.Node("a", ["10.250.0.0/24", "fd00:250::/64"], "192.168.77.1", "fd00:77::1"),
            PodCidrRoutesTests.Node("b", ["10.250.1.0/24", "fd00:250:1::/64"], "192.168.77.2", "fd00:77::2"),
        };
        Assert.True(await syncer.SyncAsync(nodes, default));
        Assert.Contains("10.250.1.0/24 via 192.168.77.2", await Out("ip", "-n", A, "route", "show", "proto", "76"));
        Assert.Equal(0, await Ping(A, "10.250.1.7"));
        Assert.Equal(0, await Ping(A, "fd00:250:1::7"));

        // A fresh syncer (a restarted agent) first sweeps, then reprograms; a Node going away removes its routes.
        var restarted = new PodCidrRouteSyncer(_runner, A, "a", NullLogger.Instance);
        Assert.True(await restarted.SyncAsync(nodes[..1], default));
        Assert.DoesNotContain("10.250.1.0/24", await Out("ip", "-n", A, "route", "show"));
        Assert.NotEqual(0, await Ping(A, "10.250.1.7"));
    }

    private async Task Ip(params string[] args)
    {
        var r = await _runner.RunAsync("ip", args, default);
        Assert.True(r.Ok, "ip " + string.Join(' ', args) + ": " + r.Stderr);
    }

    private async Task<string> Out(string program, params string[] args) => (await _runner.RunAsync(program, args, default)).Stdout;

    private static async Task<int> Ping(string ns, string address)
    {
        using var p = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", ns, "ping", "-c", "1", "-W", "2", address]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        await p.WaitForExitAsync();
        return p.ExitCode;
    }
}
