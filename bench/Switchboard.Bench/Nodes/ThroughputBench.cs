using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using k8s;
using k8s.Models;

namespace Switchboard.Bench.Nodes;

/// <summary>
/// Pod-to-Pod TCP throughput across nodes: iperf3 between two Pods on different nodes of an `up --nodes 2`
/// cluster (client run with `ip netns exec` in the client Pod's namespace), against the same path built by hand
/// here (Pod ns —veth— node ns —veth— bridge in an underlay ns —veth— node ns —veth— Pod ns, /32 Pod addresses
/// with ptp-style routes, host-gw routes between nodes, no nftables) and a single veth pair between two namespaces.
/// Interleaved (rotating order), `iperf3 -t 5 -O 1`, pairs reported one by one with medians. Every kernel object
/// built here is named sbt&lt;hex&gt;… and removed in finally.
/// </summary>
internal static class ThroughputBench
{
    public static async Task<int> RunAsync(string binDir, int pairs, TextWriter report)
    {
        await report.WriteLineAsync($"# iperf: {pairs} interleaved pairs, iperf3 -t 5 -O 1 ({binDir})");
        var hex = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));
        var hand = new HandPath("sbt" + hex, conntrack: false);
        // The same path with conntrack and nat hooks in both node namespaces (what any kube-proxy ruleset brings),
        // to tell the cost of connection tracking from the rest of Switchboard's rules.
        var handCt = new HandPath("sbt" + hex + "c", conntrack: true);
        var servers = new List<Process>();
        var up = UpCluster.Start(binDir, 2, 96);
        await using (up)
        {
            try
            {
                await hand.BuildAsync();
                await handCt.BuildAsync();
                servers.Add(StartServer(hand.PodB));
                servers.Add(StartServer(handCt.PodB));
                servers.Add(StartServer(hand.VethB));

                await up.WaitReadyAsync(TimeSpan.FromMinutes(2));
                using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(up.Kubeconfig));
                const string ns = "sbt-iperf";
                await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
                await WaitDefaultServiceAccountAsync(client, ns);
                await client.CoreV1.CreateNamespacedPodAsync(Pod("iperf-server", "node1", ["iperf3", "-s", "-p", "5201"]), ns);
                await client.CoreV1.CreateNamespacedPodAsync(Pod("iperf-client", "node2", ["sleep", "100000"]), ns);
                var serverIp = await WaitReadyIpAsync(client, ns, "iperf-server");
                await WaitReadyIpAsync(client, ns, "iperf-client");
                var clientNetns = FindNetns(up, "iperf-client");
                await report.WriteLineAsync($"switchboard: client netns {clientNetns} (node2) -> {serverIp}:5201 (node1); hand: {hand.PodA} -> {HandPath.PodBIp}; veth: {hand.VethA} -> {HandPath.VethBIp}");
                var tables = await UpCluster.Run("ip", "netns", "exec", "sb-" + up.ClusterId + "-n2", "nft", "list", "tables");
                var rules = (await UpCluster.Run("ip", "netns", "exec", "sb-" + up.ClusterId + "-n2", "nft", "list", "ruleset")).Split('\n').Length;
                await report.WriteLineAsync($"node2 nftables: {tables.ReplaceLineEndings(", ").TrimEnd(',', ' ')} ({rules} lines of ruleset)");
                // The server Pod's iperf3 must be listening before the first run.
                await WaitListeningAsync(clientNetns, serverIp);

                var paths = new (string Name, string Netns, string Ip)[]
                {
                    ("switchboard", clientNetns, serverIp),
                    ("hand", hand.PodA, HandPath.PodBIp),
                    ("hand+ct", handCt.PodA, HandPath.PodBIp),
                    ("veth", hand.VethA, HandPath.VethBIp),
                };
                var results = paths.ToDictionary(p => p.Name, _ => new List<double>(), StringComparer.Ordinal);
                for (var i = 0; i < pairs; i++)
                {
                    var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
                    // Rotate which path goes first, so none always gets the quieter slot.
                    var order = paths.Skip(i % paths.Length).Concat(paths.Take(i % paths.Length)).ToList();
                    var line = new List<string>();
                    foreach (var (name, netns, ip) in order)
                    {
                        var gbps = await IperfAsync(netns, ip);
                        results[name].Add(gbps);
                        line.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {gbps:F2}"));
                    }
                    await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"pair {i} (load {load}): {string.Join(", ", line)} Gbit/s; switchboard/hand {results["switchboard"][i] / results["hand"][i]:F3}, switchboard/hand+ct {results["switchboard"][i] / results["hand+ct"][i]:F3}, switchboard/veth {results["switchboard"][i] / results["veth"][i]:F3}"));
                }
                var sbHand = results["switchboard"].Zip(results["hand"], (s, h) => s / h).ToList();
                var sbVeth = results["switchboard"].Zip(results["veth"], (s, v) => s / v).ToList();
                var sbHandCt = results["switchboard"].Zip(results["hand+ct"], (s, h) => s / h).ToList();
                foreach (var (name, list) in results)
                {
                    await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{name}: median {StartupBench.Median(list):F2} Gbit/s [{string.Join(" ", list.Select(v => v.ToString("F2", CultureInfo.InvariantCulture)))}]"));
                }
                await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"switchboard/hand: median of pair ratios {StartupBench.Median(sbHand):F3}; switchboard/hand+ct: median {StartupBench.Median(sbHandCt):F3}; switchboard/veth: median {StartupBench.Median(sbVeth):F3}"));
            }
            finally
            {
                foreach (var s in servers)
                {
                    if (!s.HasExited)
                    {
                        s.Kill();
                        await s.WaitForExitAsync();
                    }
                    s.Dispose();
                }
                await hand.RemoveAsync();
                await handCt.RemoveAsync();
            }
        }
        return 0;
    }

    private static Process StartServer(string netns)
    {
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["netns", "exec", netns, "iperf3", "-s", "-p", "5201"])
        {
            psi.ArgumentList.Add(a);
        }
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static async Task<double> IperfAsync(string netns, string ip)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var json = await UpCluster.Run("ip", "netns", "exec", netns, "iperf3", "-c", ip, "-p", "5201", "-t", "5", "-O", "1", "-J");
                using var doc = JsonDocument.Parse(json);
                return doc.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble() / 1e9;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                // "server is busy" right after the previous test: iperf3 servers take a moment to reset.
                await Task.Delay(500);
            }
        }
    }

    private static async Task WaitListeningAsync(string netns, string ip)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await UpCluster.Run("ip", "netns", "exec", netns, "iperf3", "-c", ip, "-p", "5201", "-t", "1", "-J");
                return;
            }
            catch (InvalidOperationException) when (clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(300);
            }
        }
    }

    private static async Task WaitDefaultServiceAccountAsync(Kubernetes client, string ns)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            if ((await client.CoreV1.ListNamespacedServiceAccountAsync(ns)).Items.Any(s => s.Metadata.Name == "default"))
            {
                return;
            }
            await Task.Delay(100);
        }
    }

    private static async Task<string> WaitReadyIpAsync(Kubernetes client, string ns, string name)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(1))
        {
            var pod = await client.CoreV1.ReadNamespacedPodAsync(name, ns);
            if (pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true && pod.Status.PodIPs?.FirstOrDefault(p => !p.Ip.Contains(':', StringComparison.Ordinal))?.Ip is { } ip)
            {
                return ip;
            }
            await Task.Delay(200);
        }
        throw new InvalidOperationException($"pod {name} not Ready within 1 min");
    }

    private static string FindNetns(UpCluster up, string podName)
    {
        foreach (var state in Directory.EnumerateFiles(Path.Combine(up.DataDir, "nodes"), "state.json", SearchOption.AllDirectories))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(state));
            if (doc.RootElement.GetProperty("Name").GetString() == podName)
            {
                return doc.RootElement.GetProperty("Netns").GetString()!;
            }
        }
        throw new InvalidOperationException("no state.json for " + podName);
    }

    private static V1Pod Pod(string name, string node, List<string> command) => new()
    {
        ApiVersion = "v1",
        Kind = "Pod",
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1PodSpec
        {
            NodeName = node,
            TerminationGracePeriodSeconds = 1,
            Containers = [new V1Container { Name = "iperf", Image = "debian", Command = command }],
        },
    };

    /// <summary>The Switchboard datapath between two Pods on two nodes, by hand with iproute2, and one veth pair.</summary>
    private sealed class HandPath(string prefix, bool conntrack)
    {
        public const string PodAIp = "10.99.1.2";
        public const string PodBIp = "10.99.2.2";
        public const string VethAIp = "10.98.0.1";
        public const string VethBIp = "10.98.0.2";

        public string PodA => prefix + "-pa";

        public string PodB => prefix + "-pb";

        public string NodeA => prefix + "-na";

        public string NodeB => prefix + "-nb";

        public string Underlay => prefix + "-u";

        public string VethA => prefix + "-va";

        public string VethB => prefix + "-vb";

        private string[] All => [PodA, PodB, NodeA, NodeB, Underlay, VethA, VethB];

        public async Task BuildAsync()
        {
            foreach (var ns in All)
            {
                await UpCluster.Run("ip", "netns", "add", ns);
                await UpCluster.Run("ip", "-n", ns, "link", "set", "lo", "up");
            }
            foreach (var ns in (string[])[NodeA, NodeB, Underlay])
            {
                await UpCluster.Run("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
            }
            var bridge = prefix + "-br";
            await UpCluster.Run("ip", "-n", Underlay, "link", "add", bridge, "type", "bridge");
            await UpCluster.Run("ip", "-n", Underlay, "link", "set", bridge, "up");
            foreach (var (side, node, pod, nodeIp, otherNodeIp, podIp, otherPodNet, gw) in new[]
            {
                ("a", NodeA, PodA, "172.31.0.11", "172.31.0.12", PodAIp, "10.99.2.0/24", "10.99.1.1"),
                ("b", NodeB, PodB, "172.31.0.12", "172.31.0.11", PodBIp, "10.99.1.0/24", "10.99.2.1"),
            })
            {
                // Node to the bridge, as up's topology does.
                await UpCluster.Run("ip", "-n", Underlay, "link", "add", $"{prefix}-u{side}", "type", "veth", "peer", "name", $"{prefix}-n{side}", "netns", node);
                await UpCluster.Run("ip", "-n", Underlay, "link", "set", $"{prefix}-u{side}", "master", bridge, "up");
                await UpCluster.Run("ip", "-n", node, "addr", "add", nodeIp + "/24", "dev", $"{prefix}-n{side}");
                await UpCluster.Run("ip", "-n", node, "link", "set", $"{prefix}-n{side}", "up");
                await UpCluster.Run("ip", "-n", node, "route", "add", otherPodNet, "via", otherNodeIp);
                // Pod to node, as the ptp plugin does: /32-style host route on the node, gateway route in the Pod.
                await UpCluster.Run("ip", "-n", node, "link", "add", $"{prefix}-h{side}", "type", "veth", "peer", "name", $"{prefix}-p{side}", "netns", pod);
                await UpCluster.Run("ip", "-n", node, "addr", "add", gw + "/32", "dev", $"{prefix}-h{side}");
                await UpCluster.Run("ip", "-n", node, "link", "set", $"{prefix}-h{side}", "up");
                await UpCluster.Run("ip", "-n", node, "route", "add", podIp + "/32", "dev", $"{prefix}-h{side}", "src", gw);
                await UpCluster.Run("ip", "-n", pod, "addr", "add", podIp + "/24", "dev", $"{prefix}-p{side}");
                await UpCluster.Run("ip", "-n", pod, "link", "set", $"{prefix}-p{side}", "up");
                await UpCluster.Run("ip", "-n", pod, "route", "replace", podIp[..podIp.LastIndexOf('.')] + ".0/24", "via", gw, "dev", $"{prefix}-p{side}", "src", podIp, "onlink");
                await UpCluster.Run("ip", "-n", pod, "route", "add", "default", "via", gw, "dev", $"{prefix}-p{side}", "onlink");
            }
            if (conntrack)
            {
                var table = prefix.Replace("-", "", StringComparison.Ordinal);
                foreach (var node in (string[])[NodeA, NodeB])
                {
                    await UpCluster.Run("ip", "netns", "exec", node, "nft",
                        $"add table inet {table}; " +
                        $"add chain inet {table} sbtforward {{ type filter hook forward priority 0; policy accept; }}; " +
                        $"add rule inet {table} sbtforward ct state established,related accept; " +
                        $"add chain inet {table} sbtpre {{ type nat hook prerouting priority -100; policy accept; }}; " +
                        $"add chain inet {table} sbtpost {{ type nat hook postrouting priority 100; policy accept; }}");
                }
            }
            // The single veth pair.
            await UpCluster.Run("ip", "-n", VethA, "link", "add", prefix + "-xa", "type", "veth", "peer", "name", prefix + "-xb", "netns", VethB);
            await UpCluster.Run("ip", "-n", VethA, "addr", "add", VethAIp + "/24", "dev", prefix + "-xa");
            await UpCluster.Run("ip", "-n", VethB, "addr", "add", VethBIp + "/24", "dev", prefix + "-xb");
            await UpCluster.Run("ip", "-n", VethA, "link", "set", prefix + "-xa", "up");
            await UpCluster.Run("ip", "-n", VethB, "link", "set", prefix + "-xb", "up");
            // Sanity: the hand path really routes across both nodes.
            await UpCluster.Run("ip", "netns", "exec", PodA, "ping", "-c", "1", "-W", "2", PodBIp);
        }

        public async Task RemoveAsync()
        {
            foreach (var ns in All)
            {
                try
                {
                    await UpCluster.Run("ip", "netns", "delete", ns);
                }
                catch (InvalidOperationException)
                {
                }
            }
        }
    }
}
