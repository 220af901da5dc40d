using System.Text.Json;
using Switchboard.E2E.Infrastructure;
using Xunit.Abstractions;

namespace Switchboard.E2E.Nodes;

/// <summary>
/// `switchboard up` with real network namespaces (root): nodes register and stay Ready through their agents, get
/// pod CIDRs, reach the API on the underlay gateway; SIGTERM removes every namespace; after SIGKILL the next run
/// removes the leftovers and becomes ready again.
/// </summary>
public sealed class UpNodesTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "switchboard-e2e-up-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Up_registers_ready_nodes_and_removes_everything_on_sigterm()
    {
        Assert.True(Environment.UserName == "root", "this test needs root (network namespaces); CI runs as root");
        var dataDir = Path.Combine(_root, "data");
        await using var up = UpProcess.Start(dataDir, "--nodes", "2", "--zones", "zone-a,zone-b", "--lb-host-address", "127.31.0.1");
        var (nodes, kubeconfig) = await up.WaitReadyAsync();
        Assert.Equal(2, nodes);
        var id = up.ClusterId;
        // Node and underlay namespaces, plus one per Pod (the cluster DNS Pods of the bundled add-on).
        var namespaces = await UpProcess.NamespacesAsync(id);
        Assert.Equal(new[] { $"sb-{id}-n1", $"sb-{id}-n2", $"sb-{id}-u" }, namespaces.Where(n => !IsPodNamespace(n, id)).Order());
        Assert.Equal(2, namespaces.Count(n => IsPodNamespace(n, id)));
        var kubectl = new Kubectl(kubeconfig, Path.Combine(_root, "kubectl-cache"), output);

        // Node IPAM may lag the ready line by a moment: poll for the CIDRs, then check everything on one read.
        JsonElement items = default;
        for (var i = 0; i < 60; i++)
        {
            using var doc = JsonDocument.Parse((await kubectl.RunAsync("get", "nodes", "-o", "json")).ShouldSucceed().Stdout);
            items = doc.RootElement.GetProperty("items").Clone();
            if (items.EnumerateArray().All(n => n.GetProperty("spec").TryGetProperty("podCIDRs", out _)))
            {
                break;
            }
            await Task.Delay(500);
        }
        var byName = items.EnumerateArray().ToDictionary(n => n.GetProperty("metadata").GetProperty("name").GetString()!);
        Assert.Equal(["node1", "node2"], byName.Keys.Order());
        var cidrs = new List<string>();
        foreach (var (name, k, zone) in new[] { ("node1", 1, "zone-a"), ("node2", 2, "zone-b") })
        {
            var node = byName[name];
            var labels = node.GetProperty("metadata").GetProperty("labels");
            Assert.Equal(name, labels.GetProperty("kubernetes.io/hostname").GetString());
            Assert.Equal(zone, labels.GetProperty("topology.kubernetes.io/zone").GetString());
            var status = node.GetProperty("status");
            var ready = status.GetProperty("conditions").EnumerateArray().Single(c => c.GetProperty("type").GetString() == "Ready");
            Assert.Equal("True", ready.GetProperty("status").GetString());
            var internalIps = status.GetProperty("addresses").EnumerateArray().Where(a => a.GetProperty("type").GetString() == "InternalIP").Select(a => a.GetProperty("address").GetString()).ToList();
            Assert.Equal([$"172.18.0.{10 + k}", $"fd00:172:18::{10 + k}"], internalIps);
            Assert.Equal(10250, status.GetProperty("daemonEndpoints").GetProperty("kubeletEndpoint").GetProperty("Port").GetInt32());
            Assert.Equal("110", status.GetProperty("allocatable").GetProperty("pods").GetString());
            var podCidrs = node.GetProperty("spec").GetProperty("podCIDRs").EnumerateArray().Select(c => c.GetString()!).ToList();
            Assert.Equal(2, podCidrs.Count);
            Assert.Matches(@"^10\.244\.\d+\.0/24$", podCidrs[0]);
            Assert.Matches(@"^fd00:10:244:(:|[0-9a-f]+::)/64$", podCidrs[1]);
            cidrs.AddRange(podCidrs);
        }
        Assert.Equal(cidrs.Count, cidrs.Distinct().Count());

        // The API answers inside the cluster network on the underlay gateway, both families, from a node's namespace.
        foreach (var url in new[] { "https://172.18.0.1:6443/version", "https://[fd00:172:18::1]:6443/version" })
        {
            var version = await UpProcess.RunAsync("ip", "netns", "exec", $"sb-{id}-n1", "curl", "-sS", "--max-time", "10", "--cacert", Path.Combine(dataDir, "pki", "ca.crt"), url);
            Assert.Contains("switchboard", version);
        }

        // Leases are renewed every 10 s.
        // The agent writes its Lease right after the Node's status, so it may trail the ready line.
        var first = "";
        for (var i = 0; i < 60 && first.Length == 0; i++)
        {
            var lease = await kubectl.RunAsync("get", "lease", "-n", "kube-node-lease", "node1", "-o", "jsonpath={.spec.renewTime}");
            first = lease.ExitCode == 0 ? lease.Out : "";
            if (first.Length == 0)
            {
                await Task.Delay(500);
            }
        }
        Assert.NotEmpty(first);
        var renewed = first;
        for (var i = 0; i < 60 && renewed == first; i++)
        {
            await Task.Delay(1000);
            renewed = (await kubectl.RunAsync("get", "lease", "-n", "kube-node-lease", "node1", "-o", "jsonpath={.spec.renewTime}")).ShouldSucceed().Out;
        }
        Assert.NotEqual(first, renewed);
        Assert.Equal("node1", (await kubectl.RunAsync("get", "lease", "-n", "kube-node-lease", "node1", "-o", "jsonpath={.spec.holderIdentity}")).ShouldSucceed().Out);

        var agents = up.RecordedPids();
        Assert.Equal(2, agents.Count);
        var exit = await up.TerminateAsync();
        Assert.True(exit == 0, $"`up` exited with {exit} on SIGTERM:\n{up.Output}");
        Assert.Empty(await UpProcess.NamespacesAsync(id));
        Assert.All(agents, pid => Assert.False(UpProcess.IsAlive(pid), $"agent {pid} still runs"));
        // Nor /etc/netns directories, Pod processes (the cluster DNS Pods ran) or mounts under the data dir.
        Assert.Empty(Directory.Exists("/etc/netns") ? Directory.EnumerateDirectories("/etc/netns", $"sb-{id}-*") : []);
        Assert.DoesNotContain(File.ReadLines("/proc/self/mounts"), l => l.Contains(dataDir, StringComparison.Ordinal));
        Assert.DoesNotContain(Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "cmdline")).Where(File.Exists).Select(f => { try { return File.ReadAllText(f); } catch (IOException) { return ""; } }),
            c => c.Contains(dataDir, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_run_after_sigkill_removes_the_leftovers_and_becomes_ready()
    {
        Assert.True(Environment.UserName == "root", "this test needs root (network namespaces); CI runs as root");
        var dataDir = Path.Combine(_root, "data");
        IReadOnlyList<int> crashedAgents;
        string id;
        await using (var crashed = UpProcess.Start(dataDir, "--nodes", "2", "--lb-host-address", "127.32.0.1"))
        {
            await crashed.WaitReadyAsync();
            id = crashed.ClusterId;
            crashedAgents = crashed.RecordedPids();
            Assert.Equal(2, crashedAgents.Count);
            await crashed.KillHardAsync();
            Assert.Equal(3, (await UpProcess.NamespacesAsync(id)).Count(n => !IsPodNamespace(n, id)));
            Assert.All(crashedAgents, pid => Assert.True(UpProcess.IsAlive(pid)));

            // A second `up` on the same data dir while the first one's lock is free again resumes it.
            await using var again = UpProcess.Start(dataDir, "--nodes", "2", "--lb-host-address", "127.32.0.1");
            var (nodes, kubeconfig) = await again.WaitReadyAsync();
            Assert.Equal(2, nodes);
            Assert.Equal(id, again.ClusterId);
            Assert.All(crashedAgents, pid => Assert.False(UpProcess.IsAlive(pid), $"leftover agent {pid} still runs"));
            Assert.Equal(3, (await UpProcess.NamespacesAsync(id)).Count(n => !IsPodNamespace(n, id)));
            var kubectl = new Kubectl(kubeconfig, Path.Combine(_root, "kubectl-cache"), output);
            var ready = (await kubectl.RunAsync("get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}")).ShouldSucceed().Out;
            Assert.Equal("True True", ready);

            // While it runs, a third `up` on the same data dir is refused.
            await using (var third = UpProcess.Start(dataDir, "--nodes", "2"))
            {
                var refused = await third.WaitExitAsync();
                Assert.Equal(1, refused);
                Assert.Contains($"already running (pid {again.Pid})", third.Output);
            }

            var exit = await again.TerminateAsync();
            Assert.True(exit == 0, $"`up` exited with {exit} on SIGTERM:\n{again.Output}");
        }
        Assert.Empty(await UpProcess.NamespacesAsync(id));
    }

    [Fact]
    public async Task Up_WithoutTheHostPrograms_SaysWhatToInstall_AndCreatesNothing()
    {
        Assert.True(Environment.UserName == "root", "this test needs root (the root check comes first); CI runs as root");
        var dataDir = Path.Combine(_root, "data-noprereq");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "/usr/bin/dotnet";
        var psi = new System.Diagnostics.ProcessStartInfo(dotnet)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "switchboard.dll"), "up", "--data-dir", dataDir, "--api-port", "0" })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["PATH"] = Path.Combine(_root, "empty-path");
        using var process = System.Diagnostics.Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(1, process.ExitCode);
        Assert.Equal(
            "switchboard up: missing ip, nsenter, nft, conntrack; install them with: apt-get install -y iproute2 util-linux nftables conntrack",
            (await stderr).Trim());
        Assert.DoesNotContain("ready:", await stdout);
        Assert.False(File.Exists(Path.Combine(dataDir, "cluster-id")), "a refused `up` must not start a cluster");
    }

    private static bool IsPodNamespace(string name, string id) => name.StartsWith($"sb-{id}-p", StringComparison.Ordinal);
}
