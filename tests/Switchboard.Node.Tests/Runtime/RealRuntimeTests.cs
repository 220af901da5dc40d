using k8s.Models;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.Tests.Runtime;

/// <summary>The runtime against the real kernel: netns, CNI plugins, processes (root, as CI runs).</summary>
public sealed class RealRuntimeTests
{
    private const string WebServer = """
import http.server, socket
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = socket.gethostname().encode()
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(http.server.HTTPServer):
    address_family = socket.AF_INET6
print('serving', flush=True)
S(('::', 8080), H).serve_forever()
""";

    [Fact]
    public async Task Pod_TwoContainers_HostnameIpsLocalhostProbesLogsReadoptionAndGracefulStop()
    {
        await using var node = await RealNode.StartAsync();
        var pod = RealNode.Pod("web-" + node.Id,
            new V1Container
            {
                Name = "web",
                Image = "python",
                Command = ["python3", "-c", WebServer],
                ReadinessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Port = 8080, Path = "/" }, PeriodSeconds = 1 },
            },
            new V1Container
            {
                Name = "client",
                Image = "busybox",
                Command = ["sh", "-c", "hostname; cat /etc/resolv.conf; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; until curl -s http://localhost:8080/; do sleep 0.2; done; echo; echo done; trap 'echo got-term; exit 0' TERM; while true; do sleep 0.1; done"],
                Env = [new V1EnvVar { Name = "MY_IP", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.podIP" } } }],
                ReadinessProbe = new V1Probe { Exec = new V1ExecAction { Command = ["sh", "-c", "test \"$(hostname)\" = \"$HOSTNAME\""] }, PeriodSeconds = 1 },
            });
        await node.StartRuntimeAsync(pod);

        var status = await node.WaitForStatusAsync(pod, s => s.Conditions.Any(c => c.Type == "Ready" && c.Status == "True"), "Pod Ready");
        Assert.Equal("Running", status.Phase);
        Assert.Equal(2, status.PodIPs.Count);
        Assert.StartsWith("10.244.7.", status.PodIPs[0].Ip, StringComparison.Ordinal);
        Assert.StartsWith("fd00:10:244:7::", status.PodIPs[1].Ip, StringComparison.Ordinal);
        Assert.Equal(status.PodIPs[0].Ip, status.PodIP);
        Assert.Equal("172.30.0.2", status.HostIP);
        Assert.All(status.ContainerStatuses, c => Assert.StartsWith("switchboard://", c.ContainerID, StringComparison.Ordinal));

        // The client container: the Pod's hostname, resolv.conf, service-account namespace, and the web container over localhost.
        var podDir = PodNames.PodDir(node.Options.PodsDir, "default", pod.Metadata.Name, pod.Metadata.Uid);
        var log = await RealNode.WaitForFileAsync(Path.Combine(podDir, "client", "0.log"), "done");
        var lines = log.Split('\n');
        Assert.Equal(pod.Metadata.Name, lines[0]);
        Assert.Contains("nameserver 10.96.0.10", log, StringComparison.Ordinal);
        Assert.Contains("search default.svc.cluster.local svc.cluster.local cluster.local", log, StringComparison.Ordinal);
        Assert.Contains("default\n" + pod.Metadata.Name + "\ndone", log, StringComparison.Ordinal);

        // Who answers on the Pod IPs from the node namespace: the web container (it prints the Pod's hostname).
        Assert.Equal(pod.Metadata.Name, await node.HttpGetFromNodeAsync(status.PodIPs[0].Ip, 8080));
        Assert.Equal(pod.Metadata.Name, await node.HttpGetFromNodeAsync(status.PodIPs[1].Ip, 8080));

        var netns = PodNames.Netns(node.Id, pod.Metadata.Uid);
        Assert.True(netns.Length <= 15);
        var hosts = await File.ReadAllTextAsync($"/etc/netns/{netns}/hosts");
        Assert.Contains(status.PodIPs[0].Ip + "\t" + pod.Metadata.Name, hosts, StringComparison.Ordinal);
        var view = node.Runtime.Find("default", pod.Metadata.Name, "client")!;
        Assert.Equal(status.PodIPs[0].Ip, view.Environment["MY_IP"]);
        Assert.Equal(netns, view.NetworkNamespace);

        // Exec through the locator's prefix, as the kubelet API does: the Pod's hostname and its eth0 address.
        var exec = await RealRuntimeTestsHelpers.ExecAsync(view, "hostname; ip -o -4 addr show eth0");
        Assert.StartsWith(pod.Metadata.Name + "\n", exec, StringComparison.Ordinal);
        Assert.Contains(status.PodIPs[0].Ip + "/", exec, StringComparison.Ordinal);

        // An agent restart: a new runtime object re-adopts the running containers instead of restarting them.
        var pids = PodRecord.Load(podDir)!.Containers.ToDictionary(kv => kv.Key, kv => kv.Value.Pid);
        await node.StopAgentAsync();
        Assert.True(PosixSpawnLauncher.IsAlive(PodRecord.Load(podDir)!.Containers["web"].Process!.Value));
        // An agent that ran in a private mount namespace (ip netns exec) loses its namespace-file mounts when it exits.
        Assert.Equal(0, (await RealNode.Sh($"umount {podDir}/uts {podDir}/mnt")).Code);
        await using (var restarted = new RestartedAgent(node))
        {
            await restarted.Runtime.StartAsync([pod], restarted.Stop.Token);
            await Task.Delay(1500);
            var after = PodRecord.Load(podDir)!;
            Assert.Equal(pids, after.Containers.ToDictionary(kv => kv.Key, kv => kv.Value.Pid));
            Assert.All(after.Containers.Values, c => Assert.Equal(0, c.RestartCount));
            Assert.Equal(pod.Metadata.Name, await node.HttpGetFromNodeAsync(status.PodIPs[0].Ip, 8080));
            var repaired = restarted.Runtime.Find("default", pod.Metadata.Name, "web")!;
            var again = await RealRuntimeTestsHelpers.ExecAsync(repaired, "hostname; cat /var/run/secrets/kubernetes.io/serviceaccount/token");
            Assert.Equal(pod.Metadata.Name + "\ntoken-of-" + pod.Metadata.Name, again.Trim());

            // Graceful deletion: SIGTERM reaches the container (its trap logs), then everything is removed and the Pod deleted.
            var deleting = k8s.KubernetesJson.Deserialize<V1Pod>(k8s.KubernetesJson.Serialize(pod));
            deleting.Metadata.DeletionTimestamp = DateTime.UtcNow.AddSeconds(5);
            deleting.Metadata.DeletionGracePeriodSeconds = 5;
            restarted.Runtime.Upsert(deleting);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (!node.Api.Deleted.Contains(pod.Metadata.Uid))
            {
                await Task.Delay(100, timeout.Token);
            }
        }
        Assert.False(Directory.Exists(podDir));
        Assert.False(File.Exists("/run/netns/" + netns));
        Assert.False(Directory.Exists("/etc/netns/" + netns));
        Assert.All(pids.Values, pid => Assert.False(Directory.Exists("/proc/" + pid)));
        // host-local gave the addresses back.
        var ipam = Path.Combine(node.Options.CniDataDir, "switchboard");
        Assert.DoesNotContain(Directory.Exists(ipam) ? Directory.GetFiles(ipam) : [], f => Path.GetFileName(f).StartsWith("10.", StringComparison.Ordinal));
    }

    /// <summary>A second runtime object over the same node (the restarted agent).</summary>
    private sealed class RestartedAgent(RealNode node) : IAsyncDisposable
    {
        public PodRuntime Runtime { get; } = Adopt(node);

        public CancellationTokenSource Stop { get; } = new();

        private static PodRuntime Adopt(RealNode node)
        {
            var runtime = node.NewRuntime();
            Assert.Equal(1, runtime.AdoptFromDisk());
            return runtime;
        }

        public async ValueTask DisposeAsync()
        {
            await Stop.CancelAsync();
            await Runtime.WhenStoppedAsync();
            Stop.Dispose();
        }
    }
}

internal static class RealRuntimeTestsHelpers
{
    /// <summary>Runs a shell command through the container's exec prefix, as the kubelet API does.</summary>
    public static async Task<string> ExecAsync(ContainerView view, string script)
    {
        var r = await RealNode.Sh(string.Join(' ', view.ExecPrefix.Select(a => "'" + a + "'")) + " sh -c '" + script + "'");
        Assert.True(r.Code == 0, r.Output);
        return r.Output;
    }
}
