using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Tests.Topology;

/// <summary>Records every command; fails the one whose text contains <see cref="FailOn"/>.</summary>
internal sealed class FakeCommandRunner : ICommandRunner
{
    public List<string> Commands { get; } = [];

    public string? FailOn { get; set; }

    public Func<string, CommandResult>? OnCommand { get; set; }

    public Task<CommandResult> RunAsync(string program, IReadOnlyList<string> args, CancellationToken ct)
    {
        var text = program + " " + string.Join(' ', args);
        Commands.Add(text);
        if (FailOn is not null && text.Contains(FailOn))
        {
            return Task.FromResult(new CommandResult(2, "RTNETLINK answers: File exists"));
        }
        return Task.FromResult(OnCommand?.Invoke(text) ?? new CommandResult(0, ""));
    }
}

public sealed class TopologyTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sb-node-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void Plan_names_and_addresses_follow_the_architecture()
    {
        var plan = new TopologyPlan("abc123", 3, ["a", "b"]);
        Assert.Equal("sb-abc123-u", plan.Underlay);
        Assert.Equal("sb-abc123-br", plan.Bridge);
        Assert.Equal(["node1", "node2", "node3"], plan.Nodes.Select(n => n.Name));
        Assert.Equal(["sb-abc123-n1", "sb-abc123-n2", "sb-abc123-n3"], plan.Nodes.Select(n => n.Namespace));
        Assert.Equal(["172.18.0.11", "172.18.0.12", "172.18.0.13"], plan.Nodes.Select(n => n.Ipv4));
        Assert.Equal(["fd00:172:18::11", "fd00:172:18::12", "fd00:172:18::13"], plan.Nodes.Select(n => n.Ipv6));
        Assert.Equal(["a", "b", "a"], plan.Nodes.Select(n => n.Zone));
        Assert.Equal("172.18.0.11,fd00:172:18::11", plan.Nodes[0].NodeIps);
        Assert.Null(new TopologyPlan("abc123", 1, []).Nodes[0].Zone);
    }

    [Fact]
    public void Every_link_and_namespace_is_prefixed_and_fits_IFNAMSIZ()
    {
        var plan = new TopologyPlan("abc123", 200, []);
        var names = plan.Nodes.SelectMany(n => new[] { n.UnderlayLink, n.NodeLink }).Append(plan.Bridge).ToList();
        Assert.All(names, n => Assert.True(n.Length <= 15, n));
        Assert.All(names.Concat(plan.Nodes.Select(n => n.Namespace)), n => Assert.StartsWith("sb-abc123-", n));
    }

    [Fact]
    public void Create_steps_never_touch_the_host_namespace()
    {
        var plan = new TopologyPlan("abc123", 2, []);
        foreach (var step in plan.CreateSteps())
        {
            // Every command is either namespace management or runs inside one of the cluster's namespaces.
            var args = step.Args;
            var scoped = (args[0] == "-n" && plan.Owns(args[1])) || (args[0] == "netns" && plan.Owns(args[2]));
            Assert.True(scoped, step.ToString());
        }
        var text = plan.CreateSteps().Select(s => s.ToString()).ToList();
        Assert.Contains("ip -n sb-abc123-u addr add 172.18.0.1/24 dev sb-abc123-br", text);
        Assert.Contains("ip -n sb-abc123-u addr add fd00:172:18::1/64 dev sb-abc123-br nodad", text);
        Assert.Contains("ip -n sb-abc123-u link add sb-abc123-v2 type veth peer name sb-abc123-e2 netns sb-abc123-n2", text);
        Assert.Contains("ip -n sb-abc123-n2 addr add 172.18.0.12/24 dev sb-abc123-e2", text);
        Assert.Contains("ip netns exec sb-abc123-n1 sysctl -q -w net.ipv6.conf.all.accept_dad=0", text);
        Assert.Contains("ip netns exec sb-abc123-u sysctl -q -w net.ipv6.conf.default.accept_dad=0", text);
        Assert.Contains("ip netns exec sb-abc123-n1 sysctl -q -w net.ipv4.ip_forward=1", text);
        Assert.Contains("ip netns exec sb-abc123-u sysctl -q -w net.ipv6.conf.all.forwarding=1", text);
        // DAD is off before the first address of a namespace is added.
        Assert.True(text.IndexOf("ip netns exec sb-abc123-n1 sysctl -q -w net.ipv6.conf.default.accept_dad=0") < text.IndexOf("ip -n sb-abc123-n1 addr add fd00:172:18::11/64 dev sb-abc123-e1 nodad"));
    }

    [Fact]
    public async Task Namespaces_are_recorded_before_they_are_created()
    {
        var plan = new TopologyPlan("abc123", 2, []);
        var owned = OwnedState.Load(_dir, plan.Id);
        var runner = new FakeCommandRunner();
        runner.OnCommand = text =>
        {
            if (text.StartsWith("ip netns add "))
            {
                var reloaded = OwnedState.Load(_dir, plan.Id);
                Assert.Contains(text["ip netns add ".Length..], reloaded.Namespaces);
            }
            return new CommandResult(0, "");
        };
        await new ClusterTopology(plan, runner, owned, NullLogger.Instance).CreateAsync(CancellationToken.None);
        Assert.Equal(plan.CreateSteps().Select(s => s.ToString()), runner.Commands);
        Assert.Equal(["sb-abc123-u", "sb-abc123-n1", "sb-abc123-n2"], OwnedState.Load(_dir, plan.Id).Namespaces);
    }

    [Fact]
    public async Task A_failed_build_removes_what_it_made_underlay_last()
    {
        var plan = new TopologyPlan("abc123", 2, []);
        var owned = OwnedState.Load(_dir, plan.Id);
        var runner = new FakeCommandRunner { FailOn = "link add sb-abc123-v2" };
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => new ClusterTopology(plan, runner, owned, NullLogger.Instance).CreateAsync(CancellationToken.None));
        Assert.Contains("File exists", error.Message);
        var deletes = runner.Commands.Where(c => c.StartsWith("ip netns delete ")).ToList();
        Assert.Equal(["ip netns delete sb-abc123-n1", "ip netns delete sb-abc123-n2", "ip netns delete sb-abc123-u"], deletes);
        Assert.Empty(OwnedState.Load(_dir, plan.Id).Namespaces);
    }

    [Fact]
    public async Task Start_removes_what_a_crashed_run_recorded()
    {
        var plan = new TopologyPlan("abc123", 1, []);
        var crashed = OwnedState.Load(_dir, plan.Id);
        crashed.AddNamespace("sb-abc123-u");
        crashed.AddNamespace("sb-abc123-n7");
        var runner = new FakeCommandRunner();
        await new ClusterTopology(plan, runner, OwnedState.Load(_dir, plan.Id), NullLogger.Instance).RemoveAsync(CancellationToken.None);
        Assert.Equal(["ip netns delete sb-abc123-n7", "ip netns delete sb-abc123-u"], runner.Commands.Where(c => c.StartsWith("ip netns delete", StringComparison.Ordinal)));
        // Processes left in those namespaces (containers outlive their agents) are looked for first.
        Assert.Equal(["ip netns pids sb-abc123-n7", "ip netns pids sb-abc123-u"], runner.Commands.Where(c => c.StartsWith("ip netns pids", StringComparison.Ordinal)).Order());
    }

    [Fact]
    public async Task Remove_EtcNetnsDirectoriesOfThisClusterOnly_EvenWhenTheirNamespaceIsGone()
    {
        var plan = new TopologyPlan("abc123", 1, []);
        var etc = Path.Combine(_dir, "etc-netns");
        foreach (var name in new[] { "sb-abc123-pq1w2", "sb-abc123-n1", "sb-zzz999-p1", "other" })
        {
            Directory.CreateDirectory(Path.Combine(etc, name));
            await File.WriteAllTextAsync(Path.Combine(etc, name, "resolv.conf"), "nameserver 10.96.0.10\n");
        }
        await new ClusterTopology(plan, new FakeCommandRunner(), OwnedState.Load(_dir, plan.Id), NullLogger.Instance) { EtcNetns = etc }.RemoveAsync(CancellationToken.None);
        Assert.Equal(["other", "sb-zzz999-p1"], Directory.EnumerateDirectories(etc).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Remove_ProcessesLeftInNamespaces_TermThenKillTheSurvivors()
    {
        var plan = new TopologyPlan("abc123", 1, []);
        var owned = OwnedState.Load(_dir, plan.Id);
        owned.AddNamespace("sb-abc123-n1");
        var runner = new FakeCommandRunner { OnCommand = c => c == "ip netns pids sb-abc123-n1" ? new CommandResult(0, "", "4242\n4243\n") : new CommandResult(0, "") };
        await new ClusterTopology(plan, runner, owned, NullLogger.Instance) { StopGrace = TimeSpan.FromMilliseconds(300) }.RemoveAsync(CancellationToken.None);
        Assert.Contains("kill -TERM 4242 4243", runner.Commands);
        Assert.Contains("kill -KILL 4242 4243", runner.Commands);
        Assert.True(runner.Commands.IndexOf("kill -KILL 4242 4243") < runner.Commands.IndexOf("ip netns delete sb-abc123-n1"));
    }

    [Fact]
    public void Cluster_id_is_stable_per_data_dir()
    {
        var id = ClusterId.LoadOrCreate(_dir);
        Assert.True(ClusterId.IsValid(id));
        Assert.Equal(id, ClusterId.LoadOrCreate(_dir));
        Assert.NotEqual(id, ClusterId.LoadOrCreate(_dir + "-other"));
        Directory.Delete(_dir + "-other", recursive: true);
    }

    [Fact]
    public void Second_lock_reports_the_holder()
    {
        using var first = RunLock.TryAcquire(_dir, out var pid);
        Assert.NotNull(first);
        Assert.Equal(Environment.ProcessId, pid);
        Assert.Null(RunLock.TryAcquire(_dir, out var holder));
        Assert.Equal(Environment.ProcessId, holder);
    }
}
