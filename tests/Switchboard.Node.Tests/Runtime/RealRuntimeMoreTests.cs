using k8s.Models;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.Tests.Runtime;

/// <summary>More of the runtime on the real kernel: host ports, host network, exit codes, restarts, liveness.</summary>
public sealed class RealRuntimeMoreTests
{
    private const string Server = """
import http.server, socket, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (socket.gethostname() + ' ' + self.client_address[0]).encode()
        self.send_response(int(sys.argv[1]) if len(sys.argv) > 1 else 200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(('0.0.0.0', 8080), H).serve_forever()
""";

    [Fact]
    public async Task HostPort_ReachableAtTheNodeIp_AnsweredByThePod()
    {
        await using var node = await RealNode.StartAsync();
        await RealNode.Sh($"ip -n {node.NodeNetns} addr add 172.30.0.2/32 dev lo");
        var pod = RealNode.Pod("hp-" + node.Id, new V1Container
        {
            Name = "web",
            Image = "python",
            Command = ["python3", "-c", Server],
            Ports = [new V1ContainerPort { ContainerPort = 8080, HostPort = 18080, Protocol = "TCP" }],
            ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = 8080 }, PeriodSeconds = 1 },
        });
        await node.StartRuntimeAsync(pod);
        var status = await node.WaitForStatusAsync(pod, s => s.ContainerStatuses?.FirstOrDefault()?.Ready == true, "ready");
        var answer = await node.HttpGetFromNodeAsync("172.30.0.2", 18080);
        Assert.StartsWith(pod.Metadata.Name + " ", answer, StringComparison.Ordinal);
        Assert.NotNull(status.PodIP);
    }

    [Fact]
    public async Task HostNetwork_RunsInTheNodeNamespaceWithClusterDnsWhenAsked()
    {
        await using var node = await RealNode.StartAsync();
        await RealNode.Sh($"ip -n {node.NodeNetns} addr add 172.30.0.2/32 dev lo");
        var pod = RealNode.Pod("hn-" + node.Id, new V1Container
        {
            Name = "c",
            Image = "busybox",
            Command = ["sh", "-c", "ip -o -4 addr show dev lo; cat /etc/resolv.conf; cat /var/run/secrets/kubernetes.io/serviceaccount/token; echo; echo end; exec sleep 100"],
        });
        pod.Spec.HostNetwork = true;
        pod.Spec.DnsPolicy = "ClusterFirstWithHostNet";
        await node.StartRuntimeAsync(pod);
        var status = await node.WaitForStatusAsync(pod, s => s.ContainerStatuses?.FirstOrDefault()?.State?.Running is not null, "running");
        Assert.Equal("172.30.0.2", status.PodIP);
        var podDir = PodNames.PodDir(node.Options.PodsDir, "default", pod.Metadata.Name, pod.Metadata.Uid);
        var log = await RealNode.WaitForFileAsync(Path.Combine(podDir, "c", "0.log"), "end");
        Assert.Contains("172.30.0.2/32", log, StringComparison.Ordinal);
        Assert.Contains("nameserver 10.96.0.10", log, StringComparison.Ordinal);
        Assert.Contains("token-of-" + pod.Metadata.Name, log, StringComparison.Ordinal);
        Assert.DoesNotContain(PodNames.Netns(node.Id, pod.Metadata.Uid), Directory.GetFiles("/run/netns").Select(Path.GetFileName));
    }

    [Fact]
    public async Task CrashingContainer_RealExitCodesRestartsAndOneLogPerRun()
    {
        await using var node = await RealNode.StartAsync();
        var pod = RealNode.Pod("crash-" + node.Id, new V1Container { Name = "c", Image = "busybox", Command = ["sh", "-c", "echo run; exit 3"] });
        pod.Spec.RestartPolicy = "OnFailure";
        await node.StartRuntimeAsync(pod);
        var status = await node.WaitForStatusAsync(pod, s => s.ContainerStatuses?.FirstOrDefault()?.RestartCount >= 1 && s.ContainerStatuses[0].State.Waiting?.Reason == "CrashLoopBackOff", "back-off");
        var c = status.ContainerStatuses[0];
        Assert.Equal(3, c.LastState.Terminated.ExitCode);
        Assert.Equal("Error", c.LastState.Terminated.Reason);
        var podDir = PodNames.PodDir(node.Options.PodsDir, "default", pod.Metadata.Name, pod.Metadata.Uid);
        Assert.Equal("run\n", await File.ReadAllTextAsync(Path.Combine(podDir, "c", "0.log")));
        Assert.Equal("run\n", await File.ReadAllTextAsync(Path.Combine(podDir, "c", "1.log")));
        Assert.Equal(Path.Combine(podDir, "c", "0.log"), node.Runtime.Find("default", pod.Metadata.Name, "c")!.PreviousLog);
    }

    [Fact]
    public async Task NeverRestart_SuccessfulContainer_SucceededAndNetworkReleased()
    {
        await using var node = await RealNode.StartAsync();
        var pod = RealNode.Pod("ok-" + node.Id, new V1Container { Name = "c", Image = "busybox", Command = ["sh", "-c", "hostname"] });
        pod.Spec.RestartPolicy = "Never";
        await node.StartRuntimeAsync(pod);
        var status = await node.WaitForStatusAsync(pod, s => s.Phase == "Succeeded", "succeeded");
        Assert.Equal(0, status.ContainerStatuses[0].State.Terminated.ExitCode);
        Assert.Equal("Completed", status.ContainerStatuses[0].State.Terminated.Reason);
        var netns = PodNames.Netns(node.Id, pod.Metadata.Uid);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (File.Exists("/run/netns/" + netns))
        {
            await Task.Delay(100, timeout.Token);
        }
        var podDir = PodNames.PodDir(node.Options.PodsDir, "default", pod.Metadata.Name, pod.Metadata.Uid);
        Assert.Equal(pod.Metadata.Name + "\n", await File.ReadAllTextAsync(Path.Combine(podDir, "c", "0.log")));
    }

    [Fact]
    public async Task LivenessHttpGetFailing_ContainerRestarted()
    {
        await using var node = await RealNode.StartAsync();
        var pod = RealNode.Pod("live-" + node.Id, new V1Container
        {
            Name = "web",
            Image = "python",
            Command = ["python3", "-c", Server, "500"],
            LivenessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Port = 8080, Path = "/healthz" }, PeriodSeconds = 1, FailureThreshold = 2, TerminationGracePeriodSeconds = 1 },
        });
        await node.StartRuntimeAsync(pod);
        var status = await node.WaitForStatusAsync(pod, s => s.ContainerStatuses?.FirstOrDefault()?.RestartCount >= 1, "restarted");
        Assert.Contains(node.Api.EventsSnapshot(), e => e.Reason == "Unhealthy" && e.Message.Contains("statuscode: 500", StringComparison.Ordinal));
        Assert.Contains(node.Api.EventsSnapshot(), e => e.Reason == "Killing");
        Assert.NotNull(status.ContainerStatuses[0].LastState.Terminated);
    }

    [Fact]
    public async Task AgentRestart_PodDeletedMeanwhileAndUnrecordedNamespace_CleanedUpAtStart()
    {
        await using var node = await RealNode.StartAsync();
        var pod = RealNode.Pod("orphan-" + node.Id, new V1Container { Name = "c", Image = "busybox", Command = ["sleep", "1000"] });
        await node.StartRuntimeAsync(pod);
        await node.WaitForStatusAsync(pod, s => s.ContainerStatuses?.FirstOrDefault()?.State?.Running is not null, "running");
        await node.StopAgentAsync();
        var podDir = PodNames.PodDir(node.Options.PodsDir, "default", pod.Metadata.Name, pod.Metadata.Uid);
        var pid = PodRecord.Load(podDir)!.Containers["c"].Pid!.Value;
        var netns = PodNames.Netns(node.Id, pod.Metadata.Uid);
        var stray = node.Id + "-pzzzz";
        Assert.Equal(0, (await RealNode.Sh("ip netns add " + stray)).Code);

        var restarted = node.NewRuntime();
        Assert.Equal(1, restarted.AdoptFromDisk());
        using var stop = new CancellationTokenSource();
        await restarted.StartAsync([], stop.Token);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (Directory.Exists(podDir) || File.Exists("/run/netns/" + netns))
        {
            await Task.Delay(100, timeout.Token);
        }
        Assert.False(File.Exists("/run/netns/" + stray));
        var startTime = PodRecord.Load(podDir)?.Containers["c"].PidStartTime;
        Assert.Null(startTime);
        Assert.NotEqual("sleep\01000\0", File.Exists($"/proc/{pid}/cmdline") ? File.ReadAllText($"/proc/{pid}/cmdline") : "");
        Assert.Empty(node.Api.Deleted);
        await stop.CancelAsync();
        await restarted.WhenStoppedAsync();
    }

    [Fact]
    public async Task CniAddFails_EventNoLeakAndRetriedUntilAddressesFree()
    {
        await using var node = await RealNode.StartAsync();
        // A /30 leaves host-local one address after the gateway.
        node.UseRuntime(node.NewRuntime("10.244.8.0/30"));
        var first = RealNode.Pod("a-" + node.Id, new V1Container { Name = "c", Image = "busybox", Command = ["sleep", "1000"] });
        var second = RealNode.Pod("b-" + node.Id, new V1Container { Name = "c", Image = "busybox", Command = ["sleep", "1000"] });
        await node.StartRuntimeAsync(first);
        await node.WaitForStatusAsync(first, s => s.PodIP == "10.244.8.2", "first Pod has the only address");
        node.Runtime.Upsert(second);
        await node.WaitForStatusAsync(second, s => node.Api.EventsSnapshot().Any(e => e.Pod == second.Metadata.Name && e.Reason == "FailedCreatePodSandBox"), "sandbox failure event");
        var failure = node.Api.EventsSnapshot().First(e => e.Pod == second.Metadata.Name && e.Reason == "FailedCreatePodSandBox");
        Assert.Contains("no IP addresses available", failure.Message, StringComparison.Ordinal);
        Assert.Null(node.Api.Statuses[second.Metadata.Uid].PodIP);
        // The failed ADD left no veth behind in the node namespace: only the first Pod's.
        var links = await RealNode.Sh($"ip -n {node.NodeNetns} -o link show type veth | wc -l");
        Assert.Equal("1", links.Output.Trim());

        node.Runtime.Delete(first);
        var status = await node.WaitForStatusAsync(second, s => s.PodIP == "10.244.8.2" && s.ContainerStatuses?.FirstOrDefault()?.State?.Running is not null, "second Pod gets the address after a retry");
        Assert.Equal("Running", status.Phase);
    }
}
