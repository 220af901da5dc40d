using System.Net;
using System.Text.Json;
using Switchboard.E2E.Infrastructure;

namespace Switchboard.E2E.Cluster;

/// <summary>
/// The Kubernetes network model on a real 3-node `up` cluster: an IP per Pod in both families from its node's
/// CIDRs, Pod-to-Pod across nodes without NAT (the answer names the expected Pod and sees the caller's own IP),
/// containers of a Pod sharing localhost, the Pod's hostname, host ports, kubectl exec and logs.
/// </summary>
[Collection(UpClusterCollection.Name)]
public sealed class PodNetworkTests(UpClusterFixture cluster)
{
    private const string Agnhost = "registry.k8s.io/e2e-test-images/agnhost:2.53";

    private Kubectl K => cluster.Kubectl;

    private sealed record PodInfo(string Name, string Node, string Ipv4, string Ipv6);

    private async Task<List<PodInfo>> PodsAsync(string ns, string selector)
    {
        using var doc = JsonDocument.Parse((await K.RunAsync("get", "pods", "-n", ns, "-l", selector, "-o", "json")).ShouldSucceed().Stdout);
        return [.. doc.RootElement.GetProperty("items").EnumerateArray().Select(p =>
        {
            var ips = p.GetProperty("status").GetProperty("podIPs").EnumerateArray().Select(i => i.GetProperty("ip").GetString()!).ToList();
            return new PodInfo(p.GetProperty("metadata").GetProperty("name").GetString()!, p.GetProperty("spec").GetProperty("nodeName").GetString()!,
                ips.Single(i => !i.Contains(':')), ips.Single(i => i.Contains(':')));
        })];
    }

    [Fact]
    public async Task Deployment_SixReplicas_SpreadOverEveryNode_EveryPodReachesEveryOtherInBothFamiliesWithoutNat()
    {
        var ns = await cluster.NamespaceAsync("net");
        var deployment = $$"""
            apiVersion: apps/v1
            kind: Deployment
            metadata: { name: web }
            spec:
              replicas: 6
              selector: { matchLabels: { app: web } }
              template:
                metadata: { labels: { app: web } }
                spec:
                  containers:
                  - name: agnhost
                    image: {{Agnhost}}
                    command: ["/agnhost", "netexec", "--http-port=8080"]
                    readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
            """;
        (await K.RunAsync(["apply", "-n", ns, "-f", "-"], stdin: deployment)).ShouldSucceed();
        (await K.RunAsync(["rollout", "status", "deployment/web", "-n", ns, "--timeout", "120s"], stdin: null, timeout: TimeSpan.FromSeconds(150))).ShouldSucceed();
        var pods = await PodsAsync(ns, "app=web");
        Assert.Equal(6, pods.Count);
        Assert.Equal(["node1", "node2", "node3"], pods.Select(p => p.Node).Distinct().Order());

        // Every Pod IP comes from its node's Pod CIDRs.
        using var nodes = JsonDocument.Parse((await K.RunAsync("get", "nodes", "-o", "json")).ShouldSucceed().Stdout);
        var cidrs = nodes.RootElement.GetProperty("items").EnumerateArray().ToDictionary(
            n => n.GetProperty("metadata").GetProperty("name").GetString()!,
            n => n.GetProperty("spec").GetProperty("podCIDRs").EnumerateArray().Select(c => IPNetwork.Parse(c.GetString()!)).ToList());
        foreach (var pod in pods)
        {
            Assert.Contains(cidrs[pod.Node], c => c.Contains(IPAddress.Parse(pod.Ipv4)));
            Assert.Contains(cidrs[pod.Node], c => c.Contains(IPAddress.Parse(pod.Ipv6)));
        }

        // From each Pod, ask every other Pod who it is and who is calling, over IPv4 and IPv6.
        foreach (var from in pods)
        {
            var targets = pods.Where(p => p != from).ToList();
            var script = string.Concat(targets.Select(t =>
                $"echo \"$(curl -s --max-time 5 http://{t.Ipv4}:8080/hostname) $(curl -s --max-time 5 http://{t.Ipv4}:8080/clientip) " +
                $"$(curl -s --max-time 5 'http://[{t.Ipv6}]:8080/hostname') $(curl -s --max-time 5 'http://[{t.Ipv6}]:8080/clientip')\";"));
            var lines = (await K.RunAsync("exec", "-n", ns, from.Name, "--", "sh", "-c", script)).ShouldSucceed().Lines;
            Assert.Equal(targets.Count, lines.Count);
            for (var i = 0; i < targets.Count; i++)
            {
                var f = lines[i].Split(' ');
                Assert.True(f.Length == 4, $"{from.Name} → {targets[i].Name}: '{lines[i]}'");
                Assert.Equal(targets[i].Name, f[0]);
                Assert.Equal(from.Ipv4, f[1][..f[1].LastIndexOf(':')]);
                Assert.Equal(targets[i].Name, f[2]);
                Assert.Equal("[" + from.Ipv6 + "]", f[3][..f[3].LastIndexOf(':')]);
            }
        }
    }

    [Fact]
    public async Task Pod_TwoContainers_ShareLocalhostAndTheHostnameIsThePodName()
    {
        var ns = await cluster.NamespaceAsync("twoc");
        var manifest = $$"""
            apiVersion: v1
            kind: Pod
            metadata: { name: pair }
            spec:
              containers:
              - name: server
                image: {{Agnhost}}
                args: ["netexec", "--http-port=8080"]
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 }
              - name: client
                image: {{Agnhost}}
                args: ["pause"]
            """;
        (await K.RunAsync(["apply", "-n", ns, "-f", "-"], stdin: manifest)).ShouldSucceed();
        (await K.RunAsync(["wait", "-n", ns, "pod/pair", "--for=condition=Ready", "--timeout=90s"], stdin: null, timeout: TimeSpan.FromSeconds(120))).ShouldSucceed();
        Assert.Equal("pair", (await K.RunAsync("exec", "-n", ns, "pair", "-c", "client", "--", "curl", "-s", "--max-time", "5", "http://localhost:8080/hostname")).ShouldSucceed().Out);
        Assert.Equal("pair", (await K.RunAsync("exec", "-n", ns, "pair", "-c", "client", "--", "hostname")).ShouldSucceed().Out);
        Assert.Equal("127.0.0.1", (await K.RunAsync("exec", "-n", ns, "pair", "-c", "client", "--", "curl", "-s", "--max-time", "5", "http://127.0.0.1:8080/clientip")).ShouldSucceed().Out.Split(':')[0]);
    }

    [Fact]
    public async Task HostPort_ReachableAtTheNodeIpFromAPodOnAnotherNode()
    {
        var ns = await cluster.NamespaceAsync("hostport");
        var manifest = $$"""
            apiVersion: v1
            kind: Pod
            metadata: { name: published }
            spec:
              nodeName: node1
              containers:
              - name: server
                image: {{Agnhost}}
                args: ["netexec", "--http-port=8080"]
                ports: [{ containerPort: 8080, hostPort: 31080 }]
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 }
            ---
            apiVersion: v1
            kind: Pod
            metadata: { name: caller }
            spec:
              nodeName: node2
              containers:
              - name: c
                image: {{Agnhost}}
                args: ["pause"]
            """;
        (await K.RunAsync(["apply", "-n", ns, "-f", "-"], stdin: manifest)).ShouldSucceed();
        (await K.RunAsync(["wait", "-n", ns, "pod/published", "pod/caller", "--for=condition=Ready", "--timeout=90s"], stdin: null, timeout: TimeSpan.FromSeconds(120))).ShouldSucceed();
        var node1 = (await K.RunAsync("get", "node", "node1", "-o", "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}")).ShouldSucceed().Out.Split(' ')[0];
        var answer = (await K.RunAsync("exec", "-n", ns, "caller", "--", "curl", "-s", "--max-time", "5", $"http://{node1}:31080/hostname")).ShouldSucceed().Out;
        Assert.Equal("published", answer);
    }

    [Fact]
    public async Task Exec_ReturnsTheCommandsExitCodeAndStreams_LogsShowTheContainerOutput()
    {
        var ns = await cluster.NamespaceAsync("exec");
        (await K.RunAsync("run", "box", "-n", ns, "--image", Agnhost, "--", "/agnhost", "netexec", "--http-port=8080")).ShouldSucceed();
        // Ready means running here (no probe); the log line follows within moments.
        (await K.RunAsync(["wait", "-n", ns, "pod/box", "--for=condition=Ready", "--timeout=90s"], stdin: null, timeout: TimeSpan.FromSeconds(120))).ShouldSucceed();
        var r = await K.RunAsync("exec", "-n", ns, "box", "--", "sh", "-c", "echo to-out; echo to-err >&2; exit 3");
        r.ShouldExit(3);
        Assert.Equal("to-out", r.Out);
        Assert.Contains("to-err", r.Stderr);
        Assert.Equal("hi", (await K.RunAsync(["exec", "-i", "-n", ns, "box", "--", "cat"], stdin: "hi")).ShouldSucceed().Out);
        for (var i = 0; !(await K.RunAsync("logs", "-n", ns, "box")).ShouldSucceed().Stdout.Contains("Started HTTP server on port 8080"); i++)
        {
            Assert.True(i < 100, "the container's log never showed netexec's start line");
            await Task.Delay(200);
        }
    }
}
