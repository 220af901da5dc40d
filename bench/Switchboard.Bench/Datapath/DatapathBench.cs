using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.ApiServer;
using Switchboard.ApiServer.Hosting;
using Switchboard.Proxy.Userspace;

namespace Switchboard.Bench.Datapath;

/// <summary>
/// Issue 6's data-path targets, side by side in one run (root; iperf3 and haproxy from Debian):
/// 1. ClusterIP throughput vs direct Pod-to-Pod (client Pod on node 1, server Pod on node 2, the real proxy
///    ruleset in both nodes), iperf3 -t 5 -O 1, direct and via the ClusterIP alternating, every pair printed.
/// 2. The host publisher (the real <see cref="HostPublisher"/> with an in-process API server, dialing the LB IP from
///    the underlay namespace) vs HAProxy 2.6 (`server … namespace &lt;underlay&gt;`) on the same path: iperf3
///    throughput and short connections per second, alternating.
/// Child modes: `serve PORT NAME` (answers NAME and closes; run inside the server Pod) and
/// `connect IP:PORT SECONDS CONCURRENCY NAME` (counts short connections answered by NAME).
/// </summary>
internal static class DatapathBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length > 0 && args[0] == "serve")
        {
            return await ServeAsync(int.Parse(args[1], CultureInfo.InvariantCulture), args[2]);
        }
        if (args.Length > 0 && args[0] == "connect")
        {
            return await ConnectAsync(IPEndPoint.Parse(args[1]), double.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture), args[4]);
        }
        var pairs = Option(args, "--pairs", 7);
        var seconds = Option(args, "--seconds", 5);
        var connSeconds = Option(args, "--conn-seconds", 3);
        var concurrency = Option(args, "--concurrency", 8);
        var chunk = Option(args, "--chunk", new TcpRelayOptions().SpliceChunkSize);
        var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
        var relayOptions = new TcpRelayOptions { SpliceChunkSize = chunk, UseSplice = !args.Contains("--no-splice") };
        var haproxySplice = !args.Contains("--haproxy-nosplice");

        foreach (var tool in new[] { "iperf3", "haproxy", "nft", "ip" })
        {
            if (!File.Exists("/usr/bin/" + tool) && !File.Exists("/usr/sbin/" + tool))
            {
                Console.Error.WriteLine($"bench: {tool} is missing; install it with: apt-get install -y iperf3 haproxy nftables iproute2");
                return 2;
            }
        }
        Console.WriteLine($"# datapath bench {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss}Z, {Environment.ProcessorCount} cores, kernel {(await Testbed.ShAsync("uname", "-r")).Trim()}, {(await Testbed.ShAsync("haproxy", "-v")).Split('\n')[0]}, {(await Testbed.ShAsync("iperf3", "--version")).Split('\n')[0]}");
        Console.WriteLine($"# pairs {pairs}, iperf3 -t {seconds} -O 1, relay {relayOptions}, haproxy option splice-auto: {haproxySplice}");
        Console.WriteLine($"# load at start: {LoadAverage()}");

        await using var bed = await Testbed.CreateAsync();
        Console.WriteLine($"# testbed {bed.Prefix}: client Pod {Testbed.ClientPodIp} (node n1), server Pod {Testbed.ServerPodIp} (node n2), ClusterIP {Testbed.ClusterIp}, LB IP {Testbed.LbIp}");
        // Tens of thousands of short connections from one underlay address to one LB IP:port cycle through the
        // ephemeral ports within a minute; a SYN that meets its port's previous conntrack entry still closing (FIN_WAIT
        // 120 s, LAST_ACK 30 s by default) is dropped and retried 1 s later, which cut both proxies' rates tenfold
        // after ~15k connections. Short closing timeouts in the bench's own node namespaces (per-namespace sysctls)
        // keep the measurement about the proxies.
        foreach (var n in new[] { "-n1", "-n2" })
        {
            foreach (var (state, value) in new[] { ("time_wait", 1), ("close", 1), ("fin_wait", 2), ("last_ack", 2), ("close_wait", 2) })
            {
                await bed.InAsync(bed.Prefix + n, "sysctl", "-qw", $"net.netfilter.nf_conntrack_tcp_timeout_{state}={value}");
            }
        }
        bed.Start("ip", "netns", "exec", bed.ServerPod, "iperf3", "-s", "-p", Testbed.IperfPodPort.ToString(CultureInfo.InvariantCulture));
        bed.Start("ip", ["netns", "exec", bed.ServerPod, .. Self(), "datapath", "serve", Testbed.ConnPodPort.ToString(CultureInfo.InvariantCulture), bed.ServerPod]);
        await Task.Delay(1500);
        // Who answers the ClusterIP: the server Pod, by name.
        var sanity = await ConnectChildAsync(bed.ClientPod, $"{Testbed.ClusterIp}:{bed.ConnServicePort}", 1, 1, bed.ServerPod);
        Console.WriteLine($"# sanity: client Pod → ClusterIP → answered by {bed.ServerPod}: {sanity} connections");
        if (sanity.Connections == 0 || sanity.Errors > 0)
        {
            Console.Error.WriteLine("bench: the ClusterIP does not reach the server Pod");
            return 1;
        }

        if (only == "conncheck")
        {
            // Diagnostic: short connections straight from the client Pod to the server Pod, no proxy at all.
            for (var i = 0; i < 4; i++)
            {
                var r = await ConnectChildAsync(bed.ClientPod, $"{Testbed.ServerPodIp}:{Testbed.ConnPodPort}", connSeconds, concurrency, bed.ServerPod);
                Console.WriteLine($"direct run {i + 1}: {r.PerSecond:F0}/s ({r}), load {LoadAverage()}");
                Console.WriteLine("# " + (await bed.InAsync(bed.ServerPod, "ss", "-s")).Split('\n').FirstOrDefault(l => l.StartsWith("TCP:", StringComparison.Ordinal)));
            }
        }
        if (only is null or "clusterip")
        {
            await ClusterIpAsync(bed, pairs, seconds);
        }
        if (only is null or "publisher")
        {
            await PublisherAsync(bed, pairs, seconds, connSeconds, concurrency, relayOptions, haproxySplice);
        }
        Console.WriteLine($"# load at end: {LoadAverage()}");
        return 0;
    }

    private static async Task ClusterIpAsync(Testbed bed, int pairs, int seconds)
    {
        Console.WriteLine();
        Console.WriteLine("## ClusterIP vs direct Pod-to-Pod (iperf3 in the client Pod; ratio = service / direct)");
        var ratios = new List<double>();
        var direct = new List<double>();
        var service = new List<double>();
        for (var i = 0; i < pairs; i++)
        {
            // Alternate which goes first so a drifting machine load does not favour one side.
            double d = 0, s = 0;
            foreach (var which in i % 2 == 0 ? new[] { "direct", "service" } : ["service", "direct"])
            {
                var target = which == "direct" ? (Testbed.ServerPodIp, Testbed.IperfPodPort) : (Testbed.ClusterIp, bed.IperfServicePort);
                var gbps = await IperfAsync(["ip", "netns", "exec", bed.ClientPod], target.Item1, target.Item2, seconds);
                if (which == "direct")
                {
                    d = gbps;
                }
                else
                {
                    s = gbps;
                }
            }
            direct.Add(d);
            service.Add(s);
            ratios.Add(s / d);
            Console.WriteLine($"pair {i + 1}: direct {d:F2} Gbit/s, clusterip {s:F2} Gbit/s, ratio {s / d:P1}, load {LoadAverage()}");
        }
        Console.WriteLine($"median: direct {Median(direct):F2} Gbit/s, clusterip {Median(service):F2} Gbit/s, median ratio {Median(ratios):P1} (target ≥ 97%)");
    }

    private static async Task PublisherAsync(Testbed bed, int pairs, int seconds, int connSeconds, int concurrency, TcpRelayOptions relayOptions, bool haproxySplice)
    {
        Console.WriteLine();
        var dataDir = Path.Combine(Path.GetTempPath(), "sb-bench-dp-" + Guid.NewGuid().ToString("N")[..8]);
        await using var host = await ApiServerHost.StartAsync(new ApiServerOptions { DataDir = dataDir, Port = 0, InMemoryStore = true }, NullLoggerFactory.Instance, TimeProvider.System, CancellationToken.None);
        using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(host.KubeconfigPath));
        var svc = bed.Service();
        svc.Metadata.CreationTimestamp = null;
        var status = svc.Status;
        svc.Status = null;
        var created = await client.CoreV1.CreateNamespacedServiceAsync(svc, "default");
        created.Status = status;
        await client.CoreV1.ReplaceNamespacedServiceStatusAsync(created, "bench", "default");

        using var dialer = new UnderlayDialer(bed.Underlay);
        await using var publisher = new HostPublisher(client, dialer, IPAddress.Loopback, IPAddress.IPv6Loopback, NullLoggerFactory.Instance, TimeProvider.System, relayOptions);
        using var stop = new CancellationTokenSource();
        var run = publisher.RunAsync(stop.Token);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (publisher.Snapshot().Count < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Console.WriteLine($"## host publisher vs HAProxy on the same path (127.0.0.1 → LB IP {Testbed.LbIp} dialled in {bed.Underlay} → node nftables → server Pod)");
        Console.WriteLine($"# publisher: {string.Join(", ", publisher.Snapshot().Select(p => p.Key + " → " + p.Value))}, splice {publisher.UsesSplice}");

        var (hpIperf, hpConn) = (FreePort(), FreePort());
        var config = Path.Combine(dataDir, "haproxy.cfg");
        await File.WriteAllTextAsync(config, $"""
            global
                maxconn 4000
            defaults
                mode tcp
                timeout connect 5s
                timeout client 60s
                timeout server 60s
                {(haproxySplice ? "option splice-auto" : "")}
            listen iperf
                bind 127.0.0.1:{hpIperf}
                server s1 {Testbed.LbIp}:{bed.IperfServicePort} namespace {bed.Underlay}
            listen conn
                bind 127.0.0.1:{hpConn}
                server s1 {Testbed.LbIp}:{bed.ConnServicePort} namespace {bed.Underlay}

            """);
        var haproxy = bed.Start("haproxy", "-db", "-f", config);
        await Task.Delay(1000);
        if (haproxy.HasExited)
        {
            Console.Error.WriteLine("bench: haproxy failed: " + await haproxy.StandardError.ReadToEndAsync());
            return;
        }
        Console.WriteLine($"# haproxy (pid {haproxy.Id}): 127.0.0.1:{hpIperf} and 127.0.0.1:{hpConn}, default threads");

        Console.WriteLine("### iperf3 throughput (client on the host; ratio = publisher / haproxy)");
        Console.WriteLine("# cpu = CPU time of the proxy process per GiB moved (ours: the whole bench process, API server included)");
        var ratios = new List<double>();
        var ours = new List<double>();
        var theirs = new List<double>();
        var ourCpu = new List<double>();
        var theirCpu = new List<double>();
        for (var i = 0; i < pairs; i++)
        {
            double p = 0, h = 0, pc = 0, hc = 0;
            foreach (var which in i % 2 == 0 ? new[] { "publisher", "haproxy" } : ["haproxy", "publisher"])
            {
                var pid = which == "publisher" ? Environment.ProcessId : haproxy.Id;
                var cpu = CpuSeconds(pid);
                var (gbps, bytes) = await IperfBytesAsync([], "127.0.0.1", which == "publisher" ? bed.IperfServicePort : hpIperf, seconds);
                var perGiB = (CpuSeconds(pid) - cpu) / (bytes / (1 << 30));
                (p, h, pc, hc) = which == "publisher" ? (gbps, h, perGiB, hc) : (p, gbps, pc, perGiB);
            }
            ours.Add(p);
            theirs.Add(h);
            ourCpu.Add(pc);
            theirCpu.Add(hc);
            ratios.Add(p / h);
            Console.WriteLine($"pair {i + 1}: publisher {p:F2} Gbit/s (cpu {pc * 1000:F0} ms/GiB), haproxy {h:F2} Gbit/s (cpu {hc * 1000:F0} ms/GiB), ratio {p / h:P1}, load {LoadAverage()}");
        }
        Console.WriteLine($"median: publisher {Median(ours):F2} Gbit/s, haproxy {Median(theirs):F2} Gbit/s, median ratio {Median(ratios):P1} (target ≥ 100%); cpu publisher {Median(ourCpu) * 1000:F0} ms/GiB, haproxy {Median(theirCpu) * 1000:F0} ms/GiB");

        Console.WriteLine($"### short connections/s ({concurrency} concurrent clients for {connSeconds} s, each connection reads the server Pod's name, then closes with RST)");
        var connRatios = new List<double>();
        var ourRate = new List<double>();
        var theirRate = new List<double>();
        var ourConnCpu = new List<double>();
        var theirConnCpu = new List<double>();
        for (var i = 0; i < pairs; i++)
        {
            double p = 0, h = 0, pc = 0, hc = 0;
            foreach (var which in i % 2 == 0 ? new[] { "publisher", "haproxy" } : ["haproxy", "publisher"])
            {
                var pid = which == "publisher" ? Environment.ProcessId : haproxy.Id;
                var cpu = CpuSeconds(pid);
                var r = await ConnectChildAsync(null, $"127.0.0.1:{(which == "publisher" ? bed.ConnServicePort : hpConn)}", connSeconds, concurrency, bed.ServerPod);
                var perConn = (CpuSeconds(pid) - cpu) / Math.Max(1, r.Connections);
                if (r.Errors > 0)
                {
                    Console.WriteLine($"# {which}: {r.Errors} failed connections");
                }
                (p, h, pc, hc) = which == "publisher" ? (r.PerSecond, h, perConn, hc) : (p, r.PerSecond, pc, perConn);
            }
            ourRate.Add(p);
            theirRate.Add(h);
            ourConnCpu.Add(pc);
            theirConnCpu.Add(hc);
            connRatios.Add(p / h);
            Console.WriteLine($"pair {i + 1}: publisher {p:F0}/s (cpu {pc * 1e6:F0} µs/conn), haproxy {h:F0}/s (cpu {hc * 1e6:F0} µs/conn), ratio {p / h:P1}, load {LoadAverage()}");
        }
        Console.WriteLine($"median: publisher {Median(ourRate):F0}/s, haproxy {Median(theirRate):F0}/s, median ratio {Median(connRatios):P1}; cpu publisher {Median(ourConnCpu) * 1e6:F0} µs/conn, haproxy {Median(theirConnCpu) * 1e6:F0} µs/conn");

        await stop.CancelAsync();
        await run;
        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>iperf3 for <paramref name="seconds"/> after a 1 s omit; the receiver's rate in Gbit/s.</summary>
    private static async Task<double> IperfAsync(string[] prefix, string host, int port, int seconds) => (await IperfBytesAsync(prefix, host, port, seconds)).Gbps;

    private static async Task<(double Gbps, double Bytes)> IperfBytesAsync(string[] prefix, string host, int port, int seconds)
    {
        for (var attempt = 1; ; attempt++)
        {
            string json;
            try
            {
                json = await Testbed.ShAsync([.. prefix, "iperf3", "-c", host, "-p", port.ToString(CultureInfo.InvariantCulture), "-t", seconds.ToString(CultureInfo.InvariantCulture), "-O", "1", "-J"]);
            }
            catch (InvalidOperationException e)
            {
                json = "{\"error\": " + JsonSerializer.Serialize(e.Message) + "}";
            }
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.TryGetProperty("end", out var end) && end.TryGetProperty("sum_received", out var received))
            {
                // Bytes over the whole run (the omitted second included), to put the proxy's CPU time against.
                var sent = end.TryGetProperty("sum_sent", out var ss) ? ss.GetProperty("bytes").GetDouble() : 0;
                return (received.GetProperty("bits_per_second").GetDouble() / 1e9, sent);
            }
            // A run that failed (e.g. the iperf3 server still busy) is repeated, and says so.
            var error = doc.RootElement.TryGetProperty("error", out var e2) ? e2.ToString() : "no result";
            Console.WriteLine($"# iperf3 to {host}:{port} failed (attempt {attempt}): {error}");
            if (attempt == 3)
            {
                throw new InvalidOperationException("iperf3 failed 3 times: " + error);
            }
            await Task.Delay(2000);
        }
    }

    private sealed record ConnResult(long Connections, long Errors, double Seconds)
    {
        public double PerSecond => Connections / Seconds;

        public override string ToString() => $"{Connections} ok, {Errors} failed in {Seconds:F1} s";
    }

    /// <summary>Runs the `connect` child (in <paramref name="netns"/>, or the host) and parses its one line.</summary>
    private static async Task<ConnResult> ConnectChildAsync(string? netns, string endpoint, double seconds, int concurrency, string name)
    {
        string[] prefix = netns is null ? [] : ["ip", "netns", "exec", netns];
        var line = await Testbed.ShAsync([.. prefix, .. Self(), "datapath", "connect", endpoint, seconds.ToString(CultureInfo.InvariantCulture), concurrency.ToString(CultureInfo.InvariantCulture), name]);
        var parts = line.Trim().Split(' ');
        return new ConnResult(long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture), double.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    private static async Task<int> ServeAsync(int port, string name)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(IPAddress.Any, port));
        listener.Listen(4096);
        var reply = Encoding.ASCII.GetBytes(name + "\n");
        while (true)
        {
            var s = await listener.AcceptAsync();
            _ = Task.Run(async () =>
            {
                using (s)
                {
                    try
                    {
                        await s.SendAsync(reply);
                        // The client ends the connection (with RST), so no side is left in TIME_WAIT.
                        await s.ReceiveAsync(new byte[16]);
                    }
                    catch (SocketException)
                    {
                    }
                }
            });
        }
    }

    private static async Task<int> ConnectAsync(IPEndPoint endpoint, double seconds, int concurrency, string name)
    {
        var expected = Encoding.ASCII.GetBytes(name + "\n");
        long ok = 0, failed = 0;
        var sw = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            var buffer = new byte[256];
            while (sw.Elapsed < until)
            {
                try
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await s.ConnectAsync(endpoint, cts.Token);
                    var total = 0;
                    int n;
                    while (total < expected.Length && (n = await s.ReceiveAsync(buffer.AsMemory(total), cts.Token)) > 0)
                    {
                        total += n;
                    }
                    // Close with RST once the reply is in: a graceful close leaves TIME_WAIT sockets, and SYNs meeting
                    // them on reused ports were retried after 1 s, cutting every proxy's rate tenfold after ~15k
                    // connections in earlier runs.
                    s.LingerState = new LingerOption(true, 0);
                    if (buffer.AsSpan(0, total).SequenceEqual(expected))
                    {
                        Interlocked.Increment(ref ok);
                    }
                    else
                    {
                        Interlocked.Increment(ref failed);
                    }
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        })));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{ok} {failed} {sw.Elapsed.TotalSeconds:F3}"));
        return 0;
    }

    private static string[] Self()
    {
        var path = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(path) == "dotnet" ? [path, typeof(DatapathBench).Assembly.Location] : [path];
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15, 100 ticks/s).</summary>
    private static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
}
