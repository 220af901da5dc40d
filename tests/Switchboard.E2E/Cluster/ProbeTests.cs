using System.Text.Json;
using Switchboard.E2E.Infrastructure;

namespace Switchboard.E2E.Cluster;

/// <summary>
/// Readiness, liveness and startup probes run by the real agents of a 3-node `up` cluster (upstream's
/// test/e2e/common/node/container_probe.go scenarios): a Pod failing its httpGet readiness stays not Ready and
/// out of its Service's ready endpoints while its passing sibling serves; a failing exec liveness probe restarts
/// the container (a new process, the old one in lastState); an exec readiness probe follows a file that
/// `kubectl exec` creates and removes; a startup probe holds an always-failing liveness probe off until it
/// passes. Probe files live in a host directory of the test's own (Pods are host processes without filesystem
/// isolation).
/// </summary>
[Collection(UpClusterCollection.Name)]
public sealed class ProbeTests(UpClusterFixture cluster)
{
    private Kubectl K => cluster.Kubectl;

    [Fact]
    public async Task ReadinessHttpGet_FailingPod_StaysNotReadyAndIsNotAReadyEndpoint_WhileThePassingSiblingServes()
    {
        var ns = await cluster.NamespaceAsync("probe-ready");
        try
        {
            await K.ApplyAsync(ns, Netexec("good", "/echo?msg=ok&code=200") + "\n---\n" + Netexec("bad", "/echo?msg=no&code=500") + "\n---\n" + """
                apiVersion: v1
                kind: Service
                metadata: { name: web }
                spec:
                  selector: { app: web }
                  ports: [{ port: 80, targetPort: 8080 }]
                """);
            await K.WaitReadyAsync(ns, "good");
            // Ready False alone is also the state before the first probe: wait until the failure threshold (1) was
            // reached, i.e. kubelet reported the failure.
            await ClusterSteps.UntilAsync(async () =>
            {
                var n = await K.EventCountAsync(ns, "bad", "Unhealthy", "Readiness probe failed");
                return (n >= 2 ? "ok" : null, $"{n} readiness failure events");
            }, "two readiness failures of pod/bad");

            var bad = await K.PodAsync(ns, "bad");
            Assert.Equal("Running", bad.Str("status", "phase"));
            Assert.Equal("False", bad.Condition("Ready"));
            Assert.Equal("False", bad.Condition("ContainersReady"));
            var status = bad.ContainerStatus("netexec");
            Assert.Equal("false", status.Str("ready"));
            Assert.Equal("true", status.Str("started"));
            Assert.NotEqual("", status.Str("state", "running", "startedAt"));
            Assert.Equal("0", status.Str("restartCount"));
            Assert.Equal("True", (await K.PodAsync(ns, "good")).Condition("Ready"));

            // The EndpointSlice lists the good Pod as ready and the bad one (if at all) as not ready.
            var endpoints = await ClusterSteps.UntilAsync(async () =>
            {
                var eps = await K.EndpointsAsync(ns, "web");
                return (eps.Any(e => e.Pod == "good" && e.Ready) ? eps : null, string.Join(", ", eps));
            }, "pod/good as a ready endpoint of svc/web");
            Assert.DoesNotContain(endpoints, e => e.Pod == "bad" && (e.Ready || e.Serving));

            // Traffic to the Service (from the unready Pod itself) is answered by the ready Pod only.
            var ip = (await K.RunAsync("get", "service", "web", "-n", ns, "-o", "jsonpath={.spec.clusterIP}")).ShouldSucceed().Out;
            var answers = await ClusterSteps.UntilAsync(async () =>
            {
                var r = await K.RunAsync("exec", "-n", ns, "bad", "--", "sh", "-c", $"for i in 1 2 3 4 5 6 7 8 9 10; do curl -s --max-time 2 http://{ip}/hostname; echo; done");
                return (r.ExitCode == 0 && r.Lines.Count == 10 && r.Lines.All(l => l == "good") ? r.Lines : null, r.Stdout);
            }, "10 answers from pod/good through svc/web");
            Assert.All(answers, a => Assert.Equal("good", a));
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    [Fact]
    public async Task LivenessExec_Failing_RestartsTheContainerAsANewProcess_WithTheOldOneInLastState()
    {
        var ns = await cluster.NamespaceAsync("probe-live");
        using var dir = new HostDir();
        try
        {
            // As upstream's "cat /tmp/health" liveness test: the container makes the file, the test removes it.
            await K.ApplyAsync(ns, $$"""
                apiVersion: v1
                kind: Pod
                metadata: { name: live }
                spec:
                  containers:
                  - name: c
                    image: {{ClusterSteps.Agnhost}}
                    command: ["sh", "-c", "echo \"boot $$$$\"; echo ok > {{dir.File("health")}}; exec sleep 600"]
                    livenessProbe:
                      exec: { command: ["cat", "{{dir.File("health")}}"] }
                      # Time for a restarted container to write the file again before its first probe.
                      initialDelaySeconds: 2
                      periodSeconds: 1
                      failureThreshold: 1
                """);
            await K.WaitReadyAsync(ns, "live");
            var before = await K.PodAsync(ns, "live");
            var firstId = before.ContainerStatus("c").Str("containerID");
            var firstPid = await BootPidAsync(ns, "live", previous: false);
            Assert.True(Directory.Exists("/proc/" + firstPid), $"the container's process {firstPid} is not running on the host");

            (await K.RunAsync("exec", "-n", ns, "live", "--", "rm", dir.File("health"))).ShouldSucceed();

            var after = await ClusterSteps.UntilAsync(async () =>
            {
                var p = await K.PodAsync(ns, "live");
                var s = p.ContainerStatus("c");
                return (s.Str("restartCount") is not ("0" or "") && s.At("state", "running").ValueKind == JsonValueKind.Object ? (object)p : null, s.GetRawText());
            }, "a restarted, running container");
            var status = ((JsonElement)after).ContainerStatus("c");
            Assert.Equal("1", status.Str("restartCount"));
            var last = status.At("lastState", "terminated");
            Assert.Equal(JsonValueKind.Object, last.ValueKind);
            // sleep dies of the SIGTERM: 128 + 15.
            Assert.Equal("143", last.Str("exitCode"));
            Assert.Equal("Error", last.Str("reason"));
            Assert.Equal(firstId, last.Str("containerID"));
            Assert.NotEqual(firstId, status.Str("containerID"));

            var secondPid = await BootPidAsync(ns, "live", previous: false);
            Assert.NotEqual(firstPid, secondPid);
            Assert.False(Directory.Exists("/proc/" + firstPid) && File.ReadAllText($"/proc/{firstPid}/cmdline").Contains("sleep", StringComparison.Ordinal),
                $"the first container process {firstPid} still runs");
            Assert.Equal(firstPid, await BootPidAsync(ns, "live", previous: true));
            Assert.True(await K.EventCountAsync(ns, "live", "Killing", "Container c failed liveness probe") >= 1);
            Assert.True(await K.EventCountAsync(ns, "live", "Unhealthy", "Liveness probe failed") >= 1);
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    [Fact]
    public async Task ReadinessExec_FollowsAFileThatKubectlExecCreatesAndRemoves_InThePodsView()
    {
        var ns = await cluster.NamespaceAsync("probe-exec");
        using var dir = new HostDir();
        try
        {
            // The probe also checks that it runs in the Pod's UTS namespace (the hostname is the Pod's name).
            await K.ApplyAsync(ns, $$"""
                apiVersion: v1
                kind: Pod
                metadata: { name: flip }
                spec:
                  containers:
                  - name: netexec
                    image: {{ClusterSteps.Agnhost}}
                    args: ["netexec", "--http-port=8080"]
                    readinessProbe:
                      exec: { command: ["sh", "-c", "test \"$(hostname)\" = flip && cat {{dir.File("ready")}}"] }
                      periodSeconds: 1
                      failureThreshold: 1
                """);
            await UntilReadyAsync(ns, "flip", "False", "the Pod running but not Ready (no file yet)", requireRunning: true);
            Assert.True(await K.EventCountAsync(ns, "flip", "Unhealthy", "Readiness probe failed") >= 1);

            (await K.RunAsync("exec", "-n", ns, "flip", "--", "sh", "-c", $"echo yes > {dir.File("ready")}")).ShouldSucceed();
            await UntilReadyAsync(ns, "flip", "True", "Ready after the file appeared");

            (await K.RunAsync("exec", "-n", ns, "flip", "--", "rm", dir.File("ready"))).ShouldSucceed();
            var pod = await UntilReadyAsync(ns, "flip", "False", "not Ready again after the file went");
            Assert.Equal("false", pod.ContainerStatus("netexec").Str("ready"));
            Assert.Equal("0", pod.ContainerStatus("netexec").Str("restartCount"));
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    [Fact]
    public async Task StartupProbe_UntilItPasses_HoldsAFailingLivenessProbeOff_ThenLivenessRestarts()
    {
        var ns = await cluster.NamespaceAsync("probe-start");
        using var dir = new HostDir();
        try
        {
            await K.ApplyAsync(ns, $$"""
                apiVersion: v1
                kind: Pod
                metadata: { name: slow }
                spec:
                  containers:
                  - name: c
                    image: {{ClusterSteps.Agnhost}}
                    command: ["sleep", "600"]
                    startupProbe:
                      exec: { command: ["cat", "{{dir.File("started")}}"] }
                      periodSeconds: 1
                      failureThreshold: 600
                    livenessProbe:
                      exec: { command: ["false"] }
                      periodSeconds: 1
                      failureThreshold: 1
                """);
            // Three startup failures a second apart: an unguarded liveness probe (threshold 1) would have killed it.
            await ClusterSteps.UntilAsync(async () =>
            {
                var n = await K.EventCountAsync(ns, "slow", "Unhealthy", "Startup probe failed");
                return (n >= 3 ? "ok" : null, $"{n} startup failure events");
            }, "three startup probe failures");
            var held = await K.PodAsync(ns, "slow");
            var status = held.ContainerStatus("c");
            Assert.Equal("0", status.Str("restartCount"));
            Assert.Equal("false", status.Str("started"));
            Assert.Equal("false", status.Str("ready"));
            Assert.Equal(JsonValueKind.Object, status.At("state", "running").ValueKind);
            Assert.Equal(0, await K.EventCountAsync(ns, "slow", "Unhealthy", "Liveness probe failed"));

            await File.WriteAllTextAsync(dir.File("started"), "yes");
            var restarted = await ClusterSteps.UntilAsync(async () =>
            {
                var p = await K.PodAsync(ns, "slow");
                var s = p.ContainerStatus("c");
                return (s.Str("restartCount") is not ("0" or "") ? (object)p : null, s.GetRawText());
            }, "the liveness probe restarting the container once startup passed");
            Assert.True(await K.EventCountAsync(ns, "slow", "Unhealthy", "Liveness probe failed") >= 1);
            Assert.Equal("143", ((JsonElement)restarted).ContainerStatus("c").Str("lastState", "terminated", "exitCode"));
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    [Fact]
    public async Task Terminating_ReadinessKeepsRunningAndTurnsTheEndpointNotServing_LivenessIsOff()
    {
        // Upstream's "should mark readiness on pods to false while pod is in progress of terminating": netexec
        // answers /readyz 503 from its SIGTERM on and keeps serving for --delay-shutdown; a liveness probe on the
        // same path would restart it if it still ran.
        var ns = await cluster.NamespaceAsync("probe-term");
        try
        {
            await K.ApplyAsync(ns, $$"""
                apiVersion: v1
                kind: Pod
                metadata: { name: drain, labels: { app: drain } }
                spec:
                  terminationGracePeriodSeconds: 30
                  containers:
                  - name: netexec
                    image: {{ClusterSteps.Agnhost}}
                    args: ["netexec", "--http-port=8080", "--delay-shutdown=8"]
                    readinessProbe: { httpGet: { path: /readyz, port: 8080 }, periodSeconds: 1, failureThreshold: 1 }
                    # The delay lets netexec start listening; after SIGTERM two failures (2 s of the 8) would restart it.
                    livenessProbe: { httpGet: { path: /readyz, port: 8080 }, initialDelaySeconds: 3, periodSeconds: 1, failureThreshold: 2 }
                ---
                apiVersion: v1
                kind: Service
                metadata: { name: drain }
                spec:
                  selector: { app: drain }
                  ports: [{ port: 80, targetPort: 8080 }]
                """);
            await K.WaitReadyAsync(ns, "drain");
            await ClusterSteps.UntilAsync(async () =>
            {
                var eps = await K.EndpointsAsync(ns, "drain");
                return (eps.Any(e => e.Pod == "drain" && e.Ready && e.Serving) ? "ok" : null, string.Join(", ", eps));
            }, "pod/drain as a ready endpoint");

            (await K.RunAsync("delete", "pod", "drain", "-n", ns, "--wait=false")).ShouldSucceed();
            var pod = (JsonElement)await ClusterSteps.UntilAsync(async () =>
            {
                var p = await K.PodAsync(ns, "drain");
                return (p.Condition("Ready") == "False" ? (object)p : null, p.At("status").GetRawText());
            }, "the terminating Pod turning not Ready", TimeSpan.FromSeconds(30));
            Assert.NotEqual("", pod.Str("metadata", "deletionTimestamp"));
            Assert.Equal(JsonValueKind.Object, pod.ContainerStatus("netexec").At("state", "running").ValueKind);
            await ClusterSteps.UntilAsync(async () =>
            {
                var eps = await K.EndpointsAsync(ns, "drain");
                return (eps.Any(e => e.Pod == "drain" && e.Terminating && !e.Serving && !e.Ready) ? "ok" : null, string.Join(", ", eps));
            }, "pod/drain as a terminating, not serving endpoint", TimeSpan.FromSeconds(30));

            // The Pod goes once netexec exits after its delay; liveness never fired during the shutdown.
            (await K.RunAsync(["wait", "-n", ns, "pod/drain", "--for=delete", "--timeout=60s"], stdin: null, timeout: TimeSpan.FromSeconds(90))).ShouldSucceed();
            Assert.Equal(0, await K.EventCountAsync(ns, "drain", "Unhealthy", "Liveness probe failed"));
            Assert.Equal(0, await K.EventCountAsync(ns, "drain", "Killing", "Container netexec failed liveness probe"));
            Assert.True(await K.EventCountAsync(ns, "drain", "Unhealthy", "Readiness probe failed") >= 1);
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    private static string Netexec(string name, string readinessPath) => $$"""
        apiVersion: v1
        kind: Pod
        metadata: { name: {{name}}, labels: { app: web } }
        spec:
          containers:
          - name: netexec
            image: {{ClusterSteps.Agnhost}}
            args: ["netexec", "--http-port=8080"]
            readinessProbe:
              httpGet: { path: "{{readinessPath}}", port: 8080 }
              periodSeconds: 1
              failureThreshold: 1
        """;

    private async Task<JsonElement> UntilReadyAsync(string ns, string pod, string ready, string what, bool requireRunning = false)
    {
        var found = await ClusterSteps.UntilAsync(async () =>
        {
            var p = await K.PodAsync(ns, pod);
            var running = p.Items("status", "containerStatuses").Any(s => s.At("state", "running").ValueKind == JsonValueKind.Object);
            return (p.Condition("Ready") == ready && (!requireRunning || running) ? (object)p : null, p.At("status").GetRawText());
        }, what);
        return (JsonElement)found;
    }

    /// <summary>The pid the container printed as "boot &lt;pid&gt;" in its current or previous log.</summary>
    private async Task<string> BootPidAsync(string ns, string pod, bool previous)
    {
        var line = await ClusterSteps.UntilAsync(async () =>
        {
            var r = await K.RunAsync(["logs", "-n", ns, pod, .. previous ? new[] { "--previous" } : []], stdin: null);
            return (r.ExitCode == 0 ? r.Lines.FirstOrDefault(l => l.StartsWith("boot ", StringComparison.Ordinal)) : null, r.ToString());
        }, $"the boot line in the {(previous ? "previous" : "current")} log of {pod}", TimeSpan.FromSeconds(30));
        return line["boot ".Length..];
    }
}
