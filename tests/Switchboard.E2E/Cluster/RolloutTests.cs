using System.Globalization;
using System.Text.Json;
using Switchboard.E2E.Infrastructure;

namespace Switchboard.E2E.Cluster;

/// <summary>
/// Workload behaviour on a real 3-node `up` cluster: a rolling update watched event by event keeps the Ready
/// Pods within maxUnavailable and the ReplicaSets within maxSurge (upstream's e2e check in
/// waitForDeploymentCompleteMaybeCheckRolling), ends with every Pod on the new pod-template-hash, and
/// `kubectl rollout undo` brings the old template back; deleting a Pod with preStop hooks (exec and httpGet)
/// keeps it Terminating — a terminating endpoint — while the hooks run, SIGTERMs the containers only after them,
/// and completes the delete after that.
/// </summary>
[Collection(UpClusterCollection.Name)]
public sealed class RolloutTests(UpClusterFixture cluster)
{
    private const int Replicas = 4;
    private const int MaxSurge = 1;
    private const int MaxUnavailable = 1;

    private Kubectl K => cluster.Kubectl;

    private sealed record PodState(string Hash, bool Terminating, bool Ready);

    [Fact]
    public async Task RollingUpdate_WatchedEventByEvent_StaysWithinMaxUnavailableAndMaxSurge_ThenUndoRestoresTheOldTemplate()
    {
        var ns = await cluster.NamespaceAsync("rollout");
        try
        {
            await K.ApplyAsync(ns, Deployment("1"));
            (await K.RunAsync(["rollout", "status", "deployment/roll", "-n", ns, "--timeout=120s"], stdin: null, timeout: TimeSpan.FromSeconds(150))).ShouldSucceed();
            var oldHash = await NewestHashAsync(ns);
            await UntilPodsAsync(ns, oldHash);

            // Every Pod and ReplicaSet change, in the API's order, from before the template change to the end.
            await using var pods = K.Start(["get", "pods", "-n", ns, "-l", "app=roll", "-w", "-o",
                """jsonpath={.metadata.name}{"|"}{.metadata.labels.pod-template-hash}{"|"}{.metadata.deletionTimestamp}{"|"}{.status.conditions[?(@.type=="Ready")].status}{"\n"}"""]);
            await using var sets = K.Start(["get", "replicasets", "-n", ns, "-l", "app=roll", "-w", "-o",
                """jsonpath={.metadata.name}{"|"}{.spec.replicas}{"\n"}"""]);
            await pods.WaitForLineAsync(l => l.EndsWith("|True", StringComparison.Ordinal), "the watch's initial list");
            await sets.WaitForLineAsync(l => l.Contains('|'), "the ReplicaSet watch's initial list");

            (await K.RunAsync("set", "env", "deployment/roll", "-n", ns, "VERSION=2")).ShouldSucceed();
            (await K.RunAsync(["rollout", "status", "deployment/roll", "-n", ns, "--timeout=180s"], stdin: null, timeout: TimeSpan.FromSeconds(200))).ShouldSucceed();
            var newHash = await NewestHashAsync(ns);
            Assert.NotEqual(oldHash, newHash);
            var final = await UntilPodsAsync(ns, newHash);
            await Task.Delay(500); // the watches' last lines are in flight
            var podLines = (await pods.StopAsync()).Lines;
            var setLines = (await sets.StopAsync()).Lines;

            // Replay the Pod watch: after the initial list, non-terminating Ready Pods ≥ replicas - maxUnavailable.
            var state = new Dictionary<string, PodState>();
            var minReady = int.MaxValue;
            var maxPods = 0;
            var trace = new List<string>();
            var listed = false;
            foreach (var line in podLines)
            {
                var f = line.Split('|');
                Assert.True(f.Length == 4, $"unexpected watch line '{line}'");
                state[f[0]] = new PodState(f[1], f[2].Length > 0, f[3] == "True");
                var active = state.Values.Where(p => !p.Terminating).ToList();
                var ready = active.Count(p => p.Ready);
                listed |= state.Count >= Replicas && ready >= Replicas;
                trace.Add($"{line}  => active {active.Count}, ready {ready}");
                if (listed)
                {
                    minReady = Math.Min(minReady, ready);
                    maxPods = Math.Max(maxPods, active.Count);
                }
            }
            var history = string.Join('\n', trace);
            Assert.True(listed, "the watch never showed the initial Ready Pods:\n" + history);
            Assert.True(minReady >= Replicas - MaxUnavailable, $"Ready Pods dropped to {minReady}:\n{history}");
            Assert.True(maxPods <= Replicas + MaxSurge, $"{maxPods} Pods at once:\n{history}");
            Assert.Contains(state, kv => kv.Value.Hash == newHash);

            // Replay the ReplicaSet watch: the sum of their replicas never exceeds replicas + maxSurge.
            var sizes = new Dictionary<string, int>();
            var maxTotal = 0;
            foreach (var line in setLines)
            {
                var f = line.Split('|');
                sizes[f[0]] = int.Parse(f[1], CultureInfo.InvariantCulture);
                maxTotal = Math.Max(maxTotal, sizes.Values.Sum());
            }
            Assert.True(maxTotal <= Replicas + MaxSurge, $"ReplicaSets summed to {maxTotal}:\n{string.Join('\n', setLines)}");
            Assert.Equal(2, sizes.Count);

            // The new Pods run the new template: ask one of them.
            Assert.Equal("2", (await K.RunAsync("exec", "-n", ns, final[0], "--", "printenv", "VERSION")).ShouldSucceed().Out);
            Assert.Equal("2", (await K.RunAsync("get", "deployment", "roll", "-n", ns, "-o", "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}")).ShouldSucceed().Out);

            (await K.RunAsync("rollout", "undo", "deployment/roll", "-n", ns)).ShouldSucceed();
            (await K.RunAsync(["rollout", "status", "deployment/roll", "-n", ns, "--timeout=180s"], stdin: null, timeout: TimeSpan.FromSeconds(200))).ShouldSucceed();
            Assert.Equal(oldHash, await NewestHashAsync(ns));
            var undone = await UntilPodsAsync(ns, oldHash);
            Assert.Equal("1", (await K.RunAsync("exec", "-n", ns, undone[0], "--", "printenv", "VERSION")).ShouldSucceed().Out);
            Assert.Equal("3", (await K.RunAsync("get", "deployment", "roll", "-n", ns, "-o", "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}")).ShouldSucceed().Out);
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    [Fact]
    public async Task ScaleAndRolloutRestart_ScaleChangesOnlyTheCount_RestartRollsEveryPodToANewHash()
    {
        var ns = await cluster.NamespaceAsync("restart");
        try
        {
            await K.ApplyAsync(ns, Deployment("1"));
            (await K.RunAsync(["rollout", "status", "deployment/roll", "-n", ns, "--timeout=120s"], stdin: null, timeout: TimeSpan.FromSeconds(150))).ShouldSucceed();
            var hash = await NewestHashAsync(ns);
            var before = await UntilPodsAsync(ns, hash);

            // Scaling keeps the template (same hash, no new ReplicaSet) and keeps the Pods that stay.
            (await K.RunAsync("scale", "deployment/roll", "-n", ns, "--replicas=2")).ShouldSucceed();
            var scaled = await UntilPodsAsync(ns, hash, 2);
            Assert.All(scaled, p => Assert.Contains(p, before));
            (await K.RunAsync("scale", "deployment/roll", "-n", ns, "--replicas=" + Replicas)).ShouldSucceed();
            await UntilPodsAsync(ns, hash);
            Assert.Single((await K.JsonAsync("get", "replicasets", "-n", ns, "-l", "app=roll")).Items("items"));

            // rollout restart stamps the template: a new ReplicaSet whose Pods replace every old one.
            (await K.RunAsync("rollout", "restart", "deployment/roll", "-n", ns)).ShouldSucceed();
            (await K.RunAsync(["rollout", "status", "deployment/roll", "-n", ns, "--timeout=180s"], stdin: null, timeout: TimeSpan.FromSeconds(200))).ShouldSucceed();
            var restarted = await NewestHashAsync(ns);
            Assert.NotEqual(hash, restarted);
            var after = await UntilPodsAsync(ns, restarted);
            Assert.DoesNotContain(after, p => before.Contains(p));
            var template = await K.JsonAsync("get", "deployment", "roll", "-n", ns);
            Assert.NotEqual("", template.Str("spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt"));
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    [Fact]
    public async Task DeletePodWithPreStopHooks_StaysTerminatingWhileTheyRun_SigtermFollowsThem_DeleteCompletesAfter()
    {
        var ns = await cluster.NamespaceAsync("prestop");
        using var dir = new HostDir();
        var log = dir.File("events");
        try
        {
            // "sh" records its SIGTERM; its exec hook brackets an 8 s sleep. "web" (netexec) has an httpGet hook whose
            // /shell command writes a line: it can only answer before netexec's own SIGTERM (it exits at once).
            var httpHook = "/shell?cmd=" + Uri.EscapeDataString($"echo \"http-hook $(date +%s%N)\" >> {log}");
            await K.ApplyAsync(ns, $$"""
                apiVersion: v1
                kind: Pod
                metadata: { name: stopper, labels: { app: stopper } }
                spec:
                  terminationGracePeriodSeconds: 30
                  containers:
                  - name: sh
                    image: {{ClusterSteps.Agnhost}}
                    command:
                    - sh
                    - -c
                    - |
                      echo "$$$$" > {{dir.File("pid")}}
                      trap 'echo "term $(date +%s%N)" >> {{log}}; exit 0' TERM
                      while :; do sleep 0.1; done
                    lifecycle:
                      preStop:
                        exec: { command: ["sh", "-c", "echo \"hook-start $(date +%s%N)\" >> {{log}}; sleep 8; echo \"hook-end $(date +%s%N)\" >> {{log}}"] }
                  - name: web
                    image: {{ClusterSteps.Agnhost}}
                    args: ["netexec", "--http-port=8080"]
                    readinessProbe: { httpGet: { path: /readyz, port: 8080 }, periodSeconds: 1 }
                    lifecycle:
                      preStop:
                        httpGet: { path: "{{httpHook}}", port: 8080 }
                  - name: nap
                    image: {{ClusterSteps.Agnhost}}
                    command:
                    - sh
                    - -c
                    - |
                      trap 'echo "term-nap $(date +%s%N)" >> {{log}}; exit 0' TERM
                      while :; do sleep 0.1; done
                    lifecycle:
                      preStop:
                        sleep: { seconds: 3 }
                ---
                apiVersion: v1
                kind: Service
                metadata: { name: stopper }
                spec:
                  selector: { app: stopper }
                  ports: [{ port: 80, targetPort: 8080 }]
                """);
            await K.WaitReadyAsync(ns, "stopper");
            await ClusterSteps.UntilAsync(async () =>
            {
                var eps = await K.EndpointsAsync(ns, "stopper");
                return (eps.Any(e => e.Pod == "stopper" && e.Ready) ? "ok" : null, string.Join(", ", eps));
            }, "pod/stopper as a ready endpoint");
            var pid = (await File.ReadAllTextAsync(dir.File("pid"))).Trim();
            Assert.True(Directory.Exists("/proc/" + pid), $"container sh (pid {pid}) is not running");

            await File.AppendAllTextAsync(log, $"delete {NowNanos()}\n");
            await using var delete = K.Start(["delete", "pod", "stopper", "-n", ns, "--timeout=60s"]);

            // While the exec hook sleeps: Terminating, the container process alive, a terminating endpoint.
            await ClusterSteps.UntilAsync(async () =>
            {
                var text = await File.ReadAllTextAsync(log);
                return (text.Contains("hook-start", StringComparison.Ordinal) ? text : null, text);
            }, "the exec preStop hook starting", TimeSpan.FromSeconds(30));
            var pod = await K.PodAsync(ns, "stopper");
            Assert.NotEqual("", pod.Str("metadata", "deletionTimestamp"));
            Assert.True(Directory.Exists("/proc/" + pid), "container sh was stopped while its preStop hook ran");

            // web's own hook was quick: as kubelet's per-container killContainer, it got its SIGTERM right after it
            // (netexec exits at once) while sh still runs its hook. So the Pod is not Ready any more and its
            // endpoint is terminating and not serving, all before sh's SIGTERM.
            var stopped = (JsonElement)await ClusterSteps.UntilAsync(async () =>
            {
                var p = await K.PodAsync(ns, "stopper");
                return (p.ContainerStatus("web").At("state", "terminated").ValueKind == JsonValueKind.Object && p.Condition("Ready") == "False" ? (object)p : null,
                    p.At("status").GetRawText());
            }, "container web stopped after its own hook", TimeSpan.FromSeconds(30));
            Assert.Equal(JsonValueKind.Object, stopped.ContainerStatus("sh").At("state", "running").ValueKind);
            await ClusterSteps.UntilAsync(async () =>
            {
                var eps = await K.EndpointsAsync(ns, "stopper");
                return (eps.Any(e => e.Pod == "stopper" && e.Terminating && !e.Serving && !e.Ready) ? "ok" : null, string.Join(", ", eps));
            }, "pod/stopper as a terminating, not serving endpoint", TimeSpan.FromSeconds(30));
            var during = await File.ReadAllLinesAsync(log);
            Assert.DoesNotContain(during, l => l.StartsWith("term ", StringComparison.Ordinal));
            Assert.True(Directory.Exists("/proc/" + pid), "container sh ended before its hook did: " + string.Join(", ", during));

            var deleted = await delete.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(0, deleted.ExitCode);
            Assert.Contains("\"stopper\" deleted", deleted.Stdout);
            var gone = await K.RunAsync("get", "pod", "stopper", "-n", ns);
            Assert.Contains("NotFound", gone.Stderr);
            Assert.False(Directory.Exists("/proc/" + pid), $"container sh (pid {pid}) outlived its Pod");

            // The order of what happened, from the lines the test, the hooks and the trap appended.
            var lines = (await File.ReadAllLinesAsync(log)).Select(l => l.Split(' ')).ToDictionary(f => f[0], f => long.Parse(f[1], CultureInfo.InvariantCulture));
            var all = string.Join(", ", lines.Select(kv => $"{kv.Key}={kv.Value}"));
            Assert.True(lines.ContainsKey("http-hook"), "the httpGet preStop hook never answered (netexec was already stopped?): " + all);
            Assert.True(lines.ContainsKey("term"), "container sh never saw SIGTERM: " + all);
            Assert.True(lines["delete"] <= lines["hook-start"], all);
            Assert.True(lines["delete"] <= lines["http-hook"], all);
            Assert.True(lines["hook-start"] < lines["hook-end"], all);
            Assert.True(lines["hook-end"] <= lines["term"], "SIGTERM arrived before the preStop hook ended: " + all);
            // The sleep action has no side effect to order against: its container's SIGTERM comes no sooner than the
            // 3 s it sleeps after the delete (a lower bound from the spec, not a speed measurement).
            Assert.True(lines.ContainsKey("term-nap"), "container nap never saw SIGTERM: " + all);
            Assert.True(lines["term-nap"] - lines["delete"] >= 3_000_000_000L, "container nap got SIGTERM before its 3 s sleep hook ended: " + all);
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    private static long NowNanos() => (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;

    private static string Deployment(string version) => $$"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: { name: roll, labels: { app: roll } }
        spec:
          replicas: {{Replicas}}
          selector: { matchLabels: { app: roll } }
          strategy:
            type: RollingUpdate
            rollingUpdate: { maxSurge: {{MaxSurge}}, maxUnavailable: {{MaxUnavailable}} }
          template:
            metadata: { labels: { app: roll } }
            spec:
              terminationGracePeriodSeconds: 5
              containers:
              - name: netexec
                image: {{ClusterSteps.Agnhost}}
                args: ["netexec", "--http-port=8080"]
                env: [{ name: VERSION, value: "{{version}}" }]
                readinessProbe: { httpGet: { path: /readyz, port: 8080 }, periodSeconds: 1 }
        """;

    /// <summary>pod-template-hash of the Deployment's newest ReplicaSet (highest revision).</summary>
    private async Task<string> NewestHashAsync(string ns)
    {
        var sets = await K.JsonAsync("get", "replicasets", "-n", ns, "-l", "app=roll");
        return sets.Items("items")
            .OrderByDescending(s => int.Parse(s.Str("metadata", "annotations", "deployment.kubernetes.io/revision") is { Length: > 0 } r ? r : "0", CultureInfo.InvariantCulture))
            .First().Str("metadata", "labels", "pod-template-hash");
    }

    /// <summary>Waits until exactly <paramref name="count"/> Pods exist, all Ready with <paramref name="hash"/> (the old ones gone).</summary>
    private async Task<List<string>> UntilPodsAsync(string ns, string hash, int count = Replicas) =>
        await ClusterSteps.UntilAsync(async () =>
        {
            var pods = (await K.JsonAsync("get", "pods", "-n", ns, "-l", "app=roll")).Items("items").ToList();
            var done = pods.Count == count && pods.All(p => p.Str("metadata", "labels", "pod-template-hash") == hash && p.Condition("Ready") == "True");
            return (done ? pods.Select(p => p.Str("metadata", "name")).ToList() : null,
                string.Join(", ", pods.Select(p => $"{p.Str("metadata", "name")}:{p.Str("metadata", "labels", "pod-template-hash")}:{p.Condition("Ready")}:{p.Str("metadata", "deletionTimestamp")}")));
        }, $"{count} Ready Pods with pod-template-hash {hash}", TimeSpan.FromSeconds(120));
}
