using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Switchboard.E2E.Infrastructure;
using Switchboard.E2E.Nodes;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Switchboard.E2E.Cluster;

/// <summary>
/// Agent crash recovery on the shared 3-node `up` cluster (issue 5: "restarting an agent leaves running containers
/// running and adopted"; issue 6: "restarting an agent keeps established connections through Services alive and
/// reconverges rules"). node2's agent is frozen, a Service is created, then the agent is SIGKILLed: `up` must
/// restart it, the restarted agent must adopt its containers (same pids and start times, same IPs, restartCount 0,
/// Ready never flapping), program the Service it never saw, serve exec and logs, and the long-lived keep-alive
/// connections through a ClusterIP — from a client on node1 and one on node2 itself — must keep being answered by
/// the same backend over the same socket. Then node1's agent gets SIGTERM, with the same checks for its client.
/// </summary>
[Collection(UpClusterCollection.Name)]
public sealed partial class AgentRestartTests(UpClusterFixture cluster, ITestOutputHelper output)
{
    private const string Agnhost = "registry.k8s.io/e2e-test-images/agnhost:2.53";

    private static readonly TimeSpan Converge = TimeSpan.FromSeconds(90);

    /// <summary>
    /// One keep-alive connection to the ClusterIP, a GET /hostname every 0.2 s, forever; each line is
    /// "&lt;time&gt; &lt;first local port&gt; &lt;current local port&gt; &lt;answer&gt;". Any error ends the container (restartPolicy Never).
    /// </summary>
    private const string ClientScript = """
        import http.client, sys, time
        c = http.client.HTTPConnection(sys.argv[1], 80, timeout=5)
        c.connect()
        port = c.sock.getsockname()[1]
        while True:
            try:
                c.request('GET', '/hostname')
                body = c.getresponse().read().decode()
                now = c.sock.getsockname()[1] if c.sock else -1
            except Exception as e:
                print('ERR', repr(e), flush=True)
                sys.exit(1)
            print('%.3f %d %d %s' % (time.time(), port, now, body), flush=True)
            time.sleep(0.2)
        """;

    private Kubectl K => cluster.Kubectl;

    private sealed record PodState(string Name, string Uid, string Node, string Ips, string Phase, int RestartCount, string ContainerId, string ReadyStatus, string ReadySince);

    [GeneratedRegex(@"node1 agent exited with code (?<code>-?\d+); restarting in 1s")]
    private static partial Regex Node1Restart();

    [Fact]
    public async Task AgentKilled_UpRestartsIt_ContainersAdopted_ConnectionsKept_RulesReconverged_ExecAndLogsServed()
    {
        var ns = await cluster.NamespaceAsync("restart");
        try
        {
            await RunAsync(ns);
        }
        finally
        {
            // The clients loop forever: do not leave their traffic to the tests that follow.
            await K.RunAsync("delete", "namespace", ns, "--wait=false");
        }
    }

    private async Task RunAsync(string ns)
    {
        await ApplyAsync(ns, $$"""
            apiVersion: apps/v1
            kind: Deployment
            metadata: { name: web }
            spec:
              replicas: 2
              selector: { matchLabels: { app: web } }
              template:
                metadata: { labels: { app: web } }
                spec:
                  nodeSelector: { kubernetes.io/hostname: node2 }
                  containers:
                  - name: netexec
                    image: {{Agnhost}}
                    args: ["netexec", "--http-port=8080", "--udp-port=-1"]
                    # Three successes for Ready: an agent that restarted probing from Failure would flap for >= 2 s.
                    readinessProbe: { httpGet: { path: /hostname, port: 8080 }, periodSeconds: 1, successThreshold: 3 }
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            ---
            apiVersion: v1
            kind: Pod
            metadata: { name: far, labels: { app: far } }
            spec:
              nodeName: node3
              containers:
              - name: netexec
                image: {{Agnhost}}
                args: ["netexec", "--http-port=8080", "--udp-port=-1"]
            """);
        (await K.RunAsync(["rollout", "status", "deployment/web", "-n", ns, "--timeout", "120s"], stdin: null, timeout: TimeSpan.FromSeconds(150))).ShouldSucceed();
        var webIp = (await K.RunAsync("get", "service", "web", "-n", ns, "-o", "jsonpath={.spec.clusterIP}")).ShouldSucceed().Out;
        await ApplyAsync(ns, ClientPod("client1", "node1", webIp) + "\n" + ClientPod("client2", "node2", webIp));
        (await K.RunAsync(["wait", "-n", ns, "pod", "--all", "--for=condition=Ready", "--timeout=120s"], stdin: null, timeout: TimeSpan.FromSeconds(150))).ShouldSucceed();

        var before = await PodStatesAsync(ns);
        var web = before.Values.Where(p => p.Name.StartsWith("web-", StringComparison.Ordinal)).Select(p => p.Name).ToList();
        Assert.Equal(2, web.Count);
        Assert.All(web, w => Assert.Equal("node2", before[w].Node));
        var pids = ContainerPids(ns, before.Values);
        Assert.Equal(4, pids.Count);
        foreach (var client in new[] { "client1", "client2" })
        {
            await UntilAsync(async () => (await ClientLinesAsync(ns, client)).Count >= 5, $"{client} answered through {webIp}");
        }
        var node2ReadySince = await NodeReadySinceAsync("node2");

        // node2's agent: frozen while a Service is created (so it never sees it), then SIGKILLed.
        var oldAgent = AgentPid("node2");
        Assert.Contains("\0--node-name\0node2\0", File.ReadAllText($"/proc/{oldAgent}/cmdline"), StringComparison.Ordinal);
        await SignalAsync("STOP", oldAgent);
        int linesAtKill;
        var clock = Stopwatch.StartNew();
        try
        {
            await ApplyAsync(ns, """
                apiVersion: v1
                kind: Service
                metadata: { name: late }
                spec:
                  selector: { app: far }
                  ports: [{ port: 80, targetPort: 8080 }]
                """);
            await UntilAsync(async () => (await K.RunAsync("get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=late", "-o", "jsonpath={.items[*].endpoints[*].addresses[0]}")).Out.Length > 0,
                "the late Service's EndpointSlice");
            linesAtKill = (await ClientLinesAsync(ns, "client1")).Count;
        }
        finally
        {
            await SignalAsync("KILL", oldAgent);
        }
        var killedAt = clock.Elapsed;

        var newAgent = await UntilAsync(() => Task.FromResult(AgentPidOrNull("node2") is { } p && p != oldAgent && UpProcess.IsAlive(p) ? p : (int?)null), "a new node2 agent in owned.json");
        var restartedAt = clock.Elapsed;
        Assert.False(UpProcess.IsAlive(oldAgent));
        Assert.Contains("node2 agent exited with code 137; restarting in 1s", cluster.Up.Output, StringComparison.Ordinal);
        Assert.Contains("\0agent\0", File.ReadAllText($"/proc/{newAgent}/cmdline"), StringComparison.Ordinal);
        Assert.Contains("\0--node-name\0node2\0", File.ReadAllText($"/proc/{newAgent}/cmdline"), StringComparison.Ordinal);

        // The Service made while the agent was down is programmed by its full resync: a node2 Pod reaches it
        // (the DNAT happens on node2), through kubectl exec, which needs node2's kubelet API back.
        var lateIp = (await K.RunAsync("get", "service", "late", "-n", ns, "-o", "jsonpath={.spec.clusterIP}")).ShouldSucceed().Out;
        await UntilAsync(async () => (await ExecAsync(ns, web[0], $"curl -sS --max-time 3 http://{lateIp}/hostname")).Out == "far", $"{web[0]} on node2 reaching the late Service {lateIp}");
        var servingAt = clock.Elapsed;
        Assert.Equal(web[1], (await ExecAsync(ns, web[1], "hostname")).ShouldSucceed().Out);
        Assert.Contains("Started HTTP server on port 8080", (await K.RunAsync("logs", "-n", ns, web[0])).ShouldSucceed().Stdout, StringComparison.Ordinal);
        Assert.Contains("far", (await ExecAsync(ns, "client2", $"curl -sS --max-time 3 http://{lateIp}/hostname")).ShouldSucceed().Out, StringComparison.Ordinal);
        output.WriteLine($"node2: SIGKILL at {killedAt.TotalSeconds:F1} s, new agent pid {newAgent} recorded after {(restartedAt - killedAt).TotalSeconds:F1} s, exec + late Service answered after {(servingAt - killedAt).TotalSeconds:F1} s");

        // Both established connections were answered throughout, by one backend, over one socket.
        await UntilAsync(async () => (await ClientLinesAsync(ns, "client1")).Count >= linesAtKill + 10, "client1 answered after the restart");
        foreach (var client in new[] { "client1", "client2" })
        {
            AssertOneConnection(client, await ClientLinesAsync(ns, client), web);
        }

        // Containers adopted, not restarted: same pids and start times, same Pods, IPs, restartCount 0, Ready never flapped.
        await AssertAdoptedAsync(ns, before, pids);
        Assert.Equal(node2ReadySince, await NodeReadySinceAsync("node2"));

        // node1's agent (client1's node): SIGTERM, a clean exit, restarted all the same.
        var node1Agent = AgentPid("node1");
        var node1Lines = (await ClientLinesAsync(ns, "client1")).Count;
        clock.Restart();
        await SignalAsync("TERM", node1Agent);
        var node1New = await UntilAsync(() => Task.FromResult(AgentPidOrNull("node1") is { } p && p != node1Agent && UpProcess.IsAlive(p) ? p : (int?)null), "a new node1 agent in owned.json");
        var node1RestartedAt = clock.Elapsed;
        Assert.Matches(Node1Restart(), cluster.Up.Output);
        await UntilAsync(async () => (await ExecAsync(ns, "client1", $"curl -sS --max-time 3 http://{lateIp}/hostname")).Out == "far", "client1 on node1 reaching the late Service after node1's restart");
        // What the agent said on its way out (its stderr goes to logs/node1.log), for the exit code above.
        foreach (var line in File.ReadLines(Path.Combine(cluster.Up.DataDir, "logs", "node1.log")).Where(l => l.Contains("xception", StringComparison.Ordinal) || l.Contains("rror", StringComparison.Ordinal)).TakeLast(10))
        {
            output.WriteLine("node1.log: " + line);
        }
        output.WriteLine($"node1: SIGTERM, new agent pid {node1New} after {node1RestartedAt.TotalSeconds:F1} s, exec answered after {clock.Elapsed.TotalSeconds:F1} s; {Node1Restart().Match(cluster.Up.Output).Value}");
        await UntilAsync(async () => (await ClientLinesAsync(ns, "client1")).Count >= node1Lines + 10, "client1 answered after node1's restart");
        AssertOneConnection("client1", await ClientLinesAsync(ns, "client1"), web);
        await AssertAdoptedAsync(ns, before, pids);
    }

    /// <summary>Every line of the client's log: no error, the first socket still in use, one backend, answers throughout.</summary>
    private void AssertOneConnection(string client, IReadOnlyList<string> lines, IReadOnlyList<string> web)
    {
        Assert.DoesNotContain(lines, l => l.StartsWith("ERR", StringComparison.Ordinal));
        var fields = lines.Select(l => l.Split(' ')).ToList();
        Assert.All(fields, f => Assert.Equal(4, f.Length));
        Assert.Single(fields.Select(f => f[1]).Distinct());
        Assert.All(fields, f => Assert.Equal(f[1], f[2]));
        var backend = Assert.Single(fields.Select(f => f[3]).Distinct());
        Assert.Contains(backend, web);
        var times = fields.Select(f => double.Parse(f[0], CultureInfo.InvariantCulture)).ToList();
        var gap = times.Zip(times.Skip(1), (a, b) => b - a).Max();
        output.WriteLine($"{client}: {lines.Count} answers from {backend} over local port {fields[0][1]}; longest gap between answers {gap:F2} s");
    }

    private async Task AssertAdoptedAsync(string ns, IReadOnlyDictionary<string, PodState> before, IReadOnlyDictionary<string, (string Node, string Dir, int Pid, long Start)> pids)
    {
        var after = await PodStatesAsync(ns);
        foreach (var (name, was) in before)
        {
            Assert.Equal(was, after[name]);
            Assert.Equal("Running", after[name].Phase);
            Assert.Equal(0, after[name].RestartCount);
            Assert.Equal("True", after[name].ReadyStatus);
        }
        foreach (var (pod, (_, dir, pid, start)) in pids)
        {
            Assert.Equal(start, ProcStartTime(pid));
            Assert.Equal((pid, start), ReadStatePid(dir));
        }
        Assert.Equal(pids, ContainerPids(ns, after.Values));
    }

    private static string ClientPod(string name, string node, string target) => JsonSerializer.Serialize(new JsonObject
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Pod",
        ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = new JsonObject { ["role"] = "client" } },
        ["spec"] = new JsonObject
        {
            ["nodeName"] = node,
            ["restartPolicy"] = "Never",
            ["containers"] = new JsonArray(new JsonObject
            {
                ["name"] = "c",
                ["image"] = "python",
                ["command"] = new JsonArray("python3", "-c", ClientScript, target),
            }),
        },
    });

    private async Task ApplyAsync(string ns, string manifest) =>
        (await K.RunAsync(["apply", "-n", ns, "-f", "-"], stdin: manifest)).ShouldSucceed();

    private Task<KubectlResult> ExecAsync(string ns, string pod, string script) =>
        K.RunAsync(["exec", "-n", ns, pod, "--", "sh", "-c", script], stdin: null, timeout: TimeSpan.FromSeconds(30));

    private async Task<List<string>> ClientLinesAsync(string ns, string pod)
    {
        // Straight from the log file: kubectl logs would need the agent that is being restarted.
        var state = await PodStatesAsync(ns);
        var dir = PodDir(ns, state[pod]);
        var log = Path.Combine(dir, "c", "0.log");
        return File.Exists(log) ? [.. (await File.ReadAllLinesAsync(log)).Where(l => l.Length > 0)] : [];
    }

    private async Task<Dictionary<string, PodState>> PodStatesAsync(string ns)
    {
        using var doc = JsonDocument.Parse((await K.RunAsync("get", "pods", "-n", ns, "-o", "json")).ShouldSucceed().Stdout);
        var result = new Dictionary<string, PodState>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.GetProperty("items").EnumerateArray())
        {
            var meta = p.GetProperty("metadata");
            var status = p.GetProperty("status");
            var ready = status.GetProperty("conditions").EnumerateArray().Single(c => c.GetProperty("type").GetString() == "Ready");
            var cs = status.GetProperty("containerStatuses")[0];
            var name = meta.GetProperty("name").GetString()!;
            result[name] = new PodState(name, meta.GetProperty("uid").GetString()!, p.GetProperty("spec").GetProperty("nodeName").GetString()!,
                string.Join(',', status.GetProperty("podIPs").EnumerateArray().Select(i => i.GetProperty("ip").GetString())),
                status.GetProperty("phase").GetString()!, cs.GetProperty("restartCount").GetInt32(), cs.GetProperty("containerID").GetString()!,
                ready.GetProperty("status").GetString()!, ready.GetProperty("lastTransitionTime").GetString()!);
        }
        return result;
    }

    /// <summary>&lt;data-dir&gt;/nodes/&lt;node&gt;/pods/&lt;ns&gt;_&lt;name&gt;_&lt;uid&gt; (ARCHITECTURE.md §4).</summary>
    private string PodDir(string ns, PodState pod) => Path.Combine(cluster.Up.DataDir, "nodes", pod.Node, "pods", $"{ns}_{pod.Name}_{pod.Uid}");

    /// <summary>Pod name → the container's pid and start time from the agent's state.json (the pid is checked alive).</summary>
    private Dictionary<string, (string Node, string Dir, int Pid, long Start)> ContainerPids(string ns, IEnumerable<PodState> pods)
    {
        var result = new Dictionary<string, (string, string, int, long)>(StringComparer.Ordinal);
        foreach (var pod in pods.Where(p => p.Name != "far"))
        {
            var dir = PodDir(ns, pod);
            var (pid, start) = ReadStatePid(dir);
            Assert.Equal(start, ProcStartTime(pid));
            result[pod.Name] = (pod.Node, dir, pid, start);
        }
        return result;
    }

    private static (int Pid, long Start) ReadStatePid(string podDir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(podDir, "state.json")));
        var c = doc.RootElement.GetProperty("Containers").EnumerateObject().Single().Value;
        return (c.GetProperty("Pid").GetInt32(), c.GetProperty("PidStartTime").GetInt64());
    }

    private static long? ProcStartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private async Task<string> NodeReadySinceAsync(string node) =>
        (await K.RunAsync("get", "node", node, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].lastTransitionTime}")).ShouldSucceed().Out;

    private int AgentPid(string node) => AgentPidOrNull(node) ?? throw new XunitException($"no agent of {node} in owned.json");

    /// <summary>The agent `up` recorded in run/owned.json for <paramref name="node"/>.</summary>
    private int? AgentPidOrNull(string node)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(cluster.Up.DataDir, "run", "owned.json")));
            return doc.RootElement.GetProperty("processes").EnumerateArray()
                .Where(p => p.GetProperty("name").GetString() == "agent " + node).Select(p => (int?)p.GetProperty("pid").GetInt32()).LastOrDefault();
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }

    private static async Task SignalAsync(string signal, int pid) => await UpProcess.RunAsync("kill", "-" + signal, pid.ToString(CultureInfo.InvariantCulture));

    private static async Task UntilAsync(Func<Task<bool>> done, string what)
    {
        await UntilAsync(async () => await done() ? true : (bool?)null, what);
    }

    private static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, string what)
        where T : struct
    {
        var deadline = DateTime.UtcNow + Converge;
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new XunitException($"never saw {what} within {Converge.TotalSeconds} s");
            }
            await Task.Delay(200);
        }
    }
}
