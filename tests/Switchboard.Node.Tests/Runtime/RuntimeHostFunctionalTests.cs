using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Node.Runtime;
using Switchboard.TestKit;

namespace Switchboard.Node.Tests.Runtime;

/// <summary>The agent's runtime against a real in-process API server: informer, pods/status, Events, graceful delete.</summary>
public sealed class RuntimeHostFunctionalTests
{
    [Fact]
    public async Task PodBoundToNode_GetsRunningReadyStatusWithIps_AndGracefulDeleteRemovesIt()
    {
        await using var server = await TestApiServer.StartAsync();
        await using var node = await RealNode.StartAsync();
        var options = new RuntimeOptions
        {
            NodeName = node.Options.NodeName,
            DataDir = node.DataDir,
            NetnsPrefix = node.Id,
            NodeNetns = node.NodeNetns,
            NodeIps = ["172.30.0.2"],
            ClusterDns = ["10.96.0.10"],
            PodCidrOverride = ["10.244.9.0/24", "fd00:10:244:9::/64"],
        };
        using var host = new PodRuntimeHost(server.Client, options, TimeProvider.System, NullLoggerFactory.Instance);
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        try
        {
            var pod = await server.Client.CoreV1.CreateNamespacedPodAsync(new V1Pod
            {
                Metadata = new V1ObjectMeta { Name = "func-" + node.Id },
                Spec = new V1PodSpec
                {
                    NodeName = options.NodeName,
                    TerminationGracePeriodSeconds = 5,
                    Containers =
                    [
                        new V1Container
                        {
                            Name = "main",
                            Image = "registry.k8s.io/busybox",
                            Command = ["sh", "-c", "trap 'exit 0' TERM; echo started $(hostname); while true; do sleep 0.1; done"],
                            ReadinessProbe = new V1Probe { Exec = new V1ExecAction { Command = ["true"] }, PeriodSeconds = 1 },
                        },
                        new V1Container { Name = "unsupported", Image = "nginx" },
                    ],
                },
            }, "default");

            var status = await WaitAsync(server.Client, pod, p => p.Status?.ContainerStatuses?.Any(c => c.Name == "main" && c.Ready == true) == true);
            Assert.Equal("Pending", status.Status.Phase);
            Assert.Equal("10.244.9.", status.Status.PodIP[..9]);
            Assert.Equal(2, status.Status.PodIPs.Count);
            Assert.StartsWith("fd00:10:244:9::", status.Status.PodIPs[1].Ip, StringComparison.Ordinal);
            var unsupported = status.Status.ContainerStatuses.Single(c => c.Name == "unsupported");
            Assert.Equal("ImageNotSupported", unsupported.State.Waiting.Reason);
            Assert.Contains("registry.k8s.io/e2e-test-images/agnhost", unsupported.State.Waiting.Message, StringComparison.Ordinal);
            Assert.Contains(status.Status.Conditions, c => c.Type == "PodReadyToStartContainers" && c.Status == "True");
            Assert.Contains(status.Status.Conditions, c => c.Type == "Ready" && c.Status == "False" && c.Reason == "ContainersNotReady");
            var view = host.Runtime.Find("default", pod.Metadata.Name, "main")!;
            Assert.True(view.Running);
            Assert.StartsWith("started " + pod.Metadata.Name, await RealNode.WaitForFileAsync(view.CurrentLog!, "started"), StringComparison.Ordinal);

            // Graceful deletion: the Pod stays Terminating until the agent stopped it, then the agent deletes it with grace 0.
            await server.Client.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, "default");
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (true)
            {
                try
                {
                    await server.Client.CoreV1.ReadNamespacedPodAsync(pod.Metadata.Name, "default", cancellationToken: timeout.Token);
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                    break;
                }
                await Task.Delay(100, timeout.Token);
            }
            var podDir = PodNames.PodDir(options.PodsDir, "default", pod.Metadata.Name, pod.Metadata.Uid);
            Assert.False(Directory.Exists(podDir), Directory.Exists(podDir) ? "left: " + string.Join(", ", Directory.EnumerateFileSystemEntries(podDir, "*", SearchOption.AllDirectories)) : "");
            Assert.False(File.Exists("/run/netns/" + PodNames.Netns(node.Id, pod.Metadata.Uid)));
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
    }

    private static async Task<V1Pod> WaitAsync(Kubernetes client, V1Pod pod, Func<V1Pod, bool> done)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        V1Pod current = pod;
        while (!timeout.IsCancellationRequested)
        {
            current = await client.CoreV1.ReadNamespacedPodAsync(pod.Metadata.Name, pod.Metadata.NamespaceProperty ?? "default");
            if (done(current))
            {
                return current;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("pod status never matched: " + KubernetesJson.Serialize(current.Status));
    }
}

