using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using k8s;
using k8s.Models;

namespace Switchboard.Bench.Nodes;

/// <summary>
/// N bare agnhost netexec Pods created at once (N concurrent POSTs) on an `up` cluster. Per Pod: from the moment
/// its POST was sent (client clock; creationTimestamp has only 1 s resolution) to the watch event that first shows
/// it Ready. Then the runtime's CNI ADD time per Pod (from the agent log), CPU time and RSS of each agnhost
/// container (/proc/&lt;pid&gt;/stat and status) and VmRSS of each agent, before and after.
/// </summary>
internal static partial class PodsBench
{
    private const string Namespace = "sbt-pods";

    public static async Task<int> RunAsync(string binDir, int pods, int nodes, IReadOnlyList<string> environment, TextWriter report)
    {
        await report.WriteLineAsync($"# pods: {pods} agnhost netexec Pods at once on up --nodes {nodes} ({binDir}) {string.Join(' ', environment)}");
        var up = UpCluster.Start(binDir, nodes, 95, environment);
        await using (up)
        {
            await up.WaitReadyAsync(TimeSpan.FromMinutes(2));
            await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"cluster ready after {up.ReadyAfter.TotalSeconds:F2} s"));
            using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(up.Kubeconfig));
            var agents = up.AgentPids();
            // Idle figures after a short settle, so start-up garbage is not counted against the Pods.
            await Task.Delay(TimeSpan.FromSeconds(3));
            foreach (var (node, pid) in agents.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                if (UpCluster.ProcStatsDetailed(pid) is { } s)
                {
                    await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"agent {node} (pid {pid}) idle: VmRSS {s.RssKib / 1024.0:F1} MiB (anon {s.AnonKib / 1024.0:F1}, file {s.FileKib / 1024.0:F1}), VmHWM {s.HwmKib / 1024.0:F1} MiB, cpu {s.CpuSeconds:F2} s"));
                }
            }
            await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Namespace } });
            // The default ServiceAccount must exist before Pods that mount its token are admitted.
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                var sas = await client.CoreV1.ListNamespacedServiceAccountAsync(Namespace);
                if (sas.Items.Any(s => s.Metadata.Name == "default"))
                {
                    break;
                }
                await Task.Delay(100);
            }

            var clock = Stopwatch.StartNew();
            var sent = new ConcurrentDictionary<string, double>(StringComparer.Ordinal);
            var ready = new ConcurrentDictionary<string, double>(StringComparer.Ordinal);
            var allReady = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var watchStop = new CancellationTokenSource();
            var list = await client.CoreV1.ListNamespacedPodAsync(Namespace);
            var watch = Task.Run(async () =>
            {
                try
                {
                    // From the list's resourceVersion: no transition is missed even if the watch connects late.
                    await foreach (var (_, pod) in client.CoreV1.WatchListNamespacedPodAsync(Namespace, resourceVersion: list.Metadata.ResourceVersion, cancellationToken: watchStop.Token))
                    {
                        if (pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true && ready.TryAdd(pod.Metadata.Name, clock.Elapsed.TotalSeconds) && ready.Count == pods)
                        {
                            allReady.TrySetResult();
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                }
            });

            await Task.Delay(300);
            await Task.WhenAll(Enumerable.Range(0, pods).Select(async i =>
            {
                var name = $"netexec-{i:D3}";
                sent[name] = clock.Elapsed.TotalSeconds;
                await client.CoreV1.CreateNamespacedPodAsync(Pod(name), Namespace);
            }));
            var created = clock.Elapsed.TotalSeconds;
            var done = await Task.WhenAny(allReady.Task, Task.Delay(TimeSpan.FromMinutes(2)));
            var wall = clock.Elapsed.TotalSeconds;
            await watchStop.CancelAsync();
            await watch;
            if (done != allReady.Task)
            {
                await report.WriteLineAsync($"TIMEOUT: only {ready.Count} of {pods} Pods Ready after 2 min");
            }
            var latencies = ready.Select(r => r.Value - sent[r.Key]).Order().ToList();
            await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"creates sent over {sent.Values.Max() - sent.Values.Min():F3} s, all answered after {created:F2} s; last Ready at {ready.Values.DefaultIfEmpty().Max():F2} s"));
            await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Ready latency from create (s): p50 {Pct(latencies, 50):F2}, p90 {Pct(latencies, 90):F2}, p99 {Pct(latencies, 99):F2}, max {latencies.DefaultIfEmpty().Max():F2} ({latencies.Count} Pods)"));
            await report.WriteLineAsync("all latencies (s, sorted): " + string.Join(" ", latencies.Select(l => l.ToString("F2", CultureInfo.InvariantCulture))));

            // CNI ADD per Pod, as the runtime logs it.
            var cni = new List<double>();
            var sandbox = new List<double>();
            var namespaces = new List<double>();
            foreach (var log in Directory.EnumerateFiles(Path.Combine(up.DataDir, "nodes"), "agent.log", SearchOption.AllDirectories))
            {
                using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (line.Contains(Namespace + "/", StringComparison.Ordinal) && SandboxLine().Match(line) is { Success: true } m)
                    {
                        sandbox.Add(double.Parse(m.Groups["sandbox"].Value, CultureInfo.InvariantCulture));
                        cni.Add(double.Parse(m.Groups["cni"].Value, CultureInfo.InvariantCulture));
                        if (m.Groups["ns"].Success)
                        {
                            namespaces.Add(double.Parse(m.Groups["ns"].Value, CultureInfo.InvariantCulture));
                        }
                    }
                }
            }
            cni.Sort();
            sandbox.Sort();
            namespaces.Sort();
            await report.WriteLineAsync(cni.Count == 0
                ? "CNI ADD: not logged by this build"
                : string.Create(CultureInfo.InvariantCulture, $"CNI ADD (ms, {cni.Count} Pods): p50 {Pct(cni, 50):F0}, p90 {Pct(cni, 90):F0}, p99 {Pct(cni, 99):F0}, max {cni.Max():F0}; whole sandbox (namespaces + CNI + files + token) p50 {Pct(sandbox, 50):F0}, max {sandbox.Max():F0}; namespaces (netns, sysctl, UTS, mount) p50 {Pct(namespaces, 50):F0}, max {namespaces.DefaultIfEmpty().Max():F0}"));

            // agnhost containers: CPU time so far (start-up plus ~idle since) and RSS.
            var cpu = new List<double>();
            var rss = new List<double>();
            foreach (var state in Directory.EnumerateFiles(Path.Combine(up.DataDir, "nodes"), "state.json", SearchOption.AllDirectories))
            {
                using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(state));
                if (doc.RootElement.GetProperty("Namespace").GetString() != Namespace)
                {
                    continue;
                }
                foreach (var c in doc.RootElement.GetProperty("Containers").EnumerateObject())
                {
                    if (c.Value.TryGetProperty("Pid", out var p) && p.ValueKind == JsonValueKind.Number && UpCluster.ProcStats(p.GetInt32()) is { } s)
                    {
                        cpu.Add(s.CpuSeconds * 1000);
                        rss.Add(s.RssKib / 1024.0);
                    }
                }
            }
            cpu.Sort();
            rss.Sort();
            await report.WriteLineAsync(cpu.Count == 0 ? "agnhost: no container pids found" : string.Create(CultureInfo.InvariantCulture,
                $"agnhost netexec containers ({cpu.Count}): CPU time ms p50 {Pct(cpu, 50):F0}, max {cpu.Max():F0} (10 ms tick); VmRSS MiB p50 {Pct(rss, 50):F1}, max {rss.Max():F1}, sum {rss.Sum():F0}"));

            foreach (var settle in (int[])[0, 5])
            {
                await Task.Delay(TimeSpan.FromSeconds(settle));
                foreach (var (node, pid) in agents.OrderBy(a => a.Key, StringComparer.Ordinal))
                {
                    var podsOnNode = Directory.Exists(Path.Combine(up.DataDir, "nodes", node, "pods")) ? Directory.EnumerateDirectories(Path.Combine(up.DataDir, "nodes", node, "pods")).Count() : 0;
                    if (UpCluster.ProcStatsDetailed(pid) is { } s)
                    {
                        await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                            $"agent {node} with {podsOnNode} Pods, {settle} s after all Ready: VmRSS {s.RssKib / 1024.0:F1} MiB (anon {s.AnonKib / 1024.0:F1}, file {s.FileKib / 1024.0:F1}), VmHWM {s.HwmKib / 1024.0:F1} MiB, cpu {s.CpuSeconds:F2} s"));
                    }
                }
            }
            await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"wall: creates to last Ready {wall:F2} s"));
        }
        return 0;
    }

    internal static double Pct(IReadOnlyList<double> sorted, int pct)
    {
        if (sorted.Count == 0)
        {
            return double.NaN;
        }
        // Nearest rank: p99 of 100 values is the 99th.
        var rank = (int)Math.Ceiling(pct / 100.0 * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    private static V1Pod Pod(string name) => new()
    {
        ApiVersion = "v1",
        Kind = "Pod",
        Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["app"] = "netexec" } },
        Spec = new V1PodSpec
        {
            TerminationGracePeriodSeconds = 1,
            Containers =
            [
                new V1Container
                {
                    Name = "netexec",
                    Image = "registry.k8s.io/e2e-test-images/agnhost:2.53",
                    Args = ["netexec", "--http-port=8080"],
                },
            ],
        },
    };

    [GeneratedRegex(@"sandbox ready in (?<sandbox>[\d.]+) ms \((namespaces (?<ns>[\d.]+) ms, )?CNI ADD (?<cni>[\d.]+) ms\)")]
    private static partial Regex SandboxLine();
}
