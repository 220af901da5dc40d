using Switchboard.TestKit.Netns;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using k8s.Models;
using Switchboard.Netfilter;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Nftables;

namespace Switchboard.Bench.Proxy;

/// <summary>
/// First-packet service lookup cost against the number of Services. A backend namespace listens on :8080; two
/// client namespaces reach it over their own veth, each programmed by the real generator + <c>nft -f</c> runner:
/// one with <c>small</c> Services, one with <c>large</c> (one endpoint each; lookup is one vmap hash, so the other
/// Services' endpoint counts do not enter). In rounds that alternate the order, each client namespace makes N fresh
/// TCP connections (explicit new source port each, closed with RST) to the same ClusterIP and times connect()
/// (SYN → SYN-ACK through nat-output's service dispatch and DNAT).
/// Usage: <c>proxy lookup [small=100] [large=30000] [--connections 2000] [--rounds 5]</c>.
/// </summary>
internal static class ProxyLookupLoad
{
    private const string ProbeIp = "10.96.0.10";

    public static async Task<int> RunAsync(string[] args)
    {
        var positional = args.TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray();
        var small = positional.Length > 0 ? positional[0] : 100;
        var large = positional.Length > 1 ? positional[1] : 30_000;
        var connections = OptInt(args, "--connections", 2000);
        var rounds = OptInt(args, "--rounds", 5);
        Console.WriteLine($"# proxy lookup: {small} vs {large} Services, {connections} connections × {rounds} rounds per size, interleaved");
        Console.WriteLine($"# {DateTime.UtcNow:O} load {File.ReadAllText("/proc/loadavg").Trim()}");

        var prefix = TestNetns.NewPrefix();
        await using var backend = await TestNetns.CreateAsync(prefix + "-b");
        await using var c1 = await TestNetns.CreateAsync(prefix + "-c1");
        await using var c2 = await TestNetns.CreateAsync(prefix + "-c2");
        var sizes = new[] { (Ns: c1, Services: small, Subnet: 1), (Ns: c2, Services: large, Subnet: 2) };
        foreach (var (ns, _, subnet) in sizes)
        {
            var (clientLink, backendLink) = ($"{prefix}-c{subnet}", $"{prefix}-b{subnet}");
            await TestNetns.ShAsync("ip", "link", "add", clientLink, "netns", ns.Name, "type", "veth", "peer", "name", backendLink, "netns", backend.Name);
            await ns.ExecAsync("ip", "addr", "add", $"10.244.{subnet}.1/24", "dev", clientLink);
            await ns.ExecAsync("ip", "link", "set", clientLink, "up");
            // The route lookup comes before nat-output's DNAT: the ClusterIP needs a route, as on any node.
            await ns.ExecAsync("ip", "route", "add", "default", "via", $"10.244.{subnet}.5", "dev", clientLink);
            await backend.ExecAsync("ip", "addr", "add", $"10.244.{subnet}.5/24", "dev", backendLink);
            await backend.ExecAsync("ip", "link", "set", backendLink, "up");
        }

        using var listener = await backend.RunInsideAsync(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Any, 8080));
            s.Listen(4096);
            return s;
        });
        using var stop = new CancellationTokenSource();
        var acceptLoop = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var c = await listener.AcceptAsync(stop.Token);
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (SocketException)
            {
            }
        });

        foreach (var (ns, services, subnet) in sizes)
        {
            var sw = Stopwatch.StartNew();
            var (gen, nft, ops) = await ProgramAsync(ns.Name, prefix, services, $"10.244.{subnet}.5");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"programmed {services,6} Services in {ns.Name}: full sync {sw.Elapsed.TotalMilliseconds:F0} ms (generation {gen:F0} ms, nft -f {nft:F0} ms, {ops} operations)"));
        }

        var results = sizes.ToDictionary(s => s.Services, _ => new List<double[]>());
        var portBase = 20_000;
        for (var round = 0; round < rounds; round++)
        {
            var order = round % 2 == 0 ? sizes : [sizes[1], sizes[0]];
            foreach (var (ns, services, _) in order)
            {
                var firstPort = portBase + (round * connections);
                var samples = await ns.RunInsideAsync(() => Connect(connections, firstPort));
                Array.Sort(samples);
                results[services].Add(samples);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round} services {services,6}: connect µs p01 {P(samples, 0.01):F1} p50 {P(samples, 0.5):F1} p90 {P(samples, 0.9):F1} p99 {P(samples, 0.99):F1} (n={samples.Length}, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})"));
            }
        }

        foreach (var q in new[] { 0.5, 0.99 })
        {
            var a = ProxySyncLoad.Median([.. results[small].Select(s => P(s, q))]);
            var b = ProxySyncLoad.Median([.. results[large].Select(s => P(s, q))]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"SUMMARY connect_p{q * 100:F0}_us median of rounds: {small} Services {a:F1}, {large} Services {b:F1}, ratio large/small {b / a:F3}, difference {b - a:F1} µs"));
        }
        var pooledSmall = results[small].SelectMany(s => s).Order().ToArray();
        var pooledLarge = results[large].SelectMany(s => s).Order().ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"SUMMARY pooled p50/p99 µs: {small}: {P(pooledSmall, 0.5):F1}/{P(pooledSmall, 0.99):F1}, {large}: {P(pooledLarge, 0.5):F1}/{P(pooledLarge, 0.99):F1}"));
        Console.WriteLine($"# end load {File.ReadAllText("/proc/loadavg").Trim()}");
        await stop.CancelAsync();
        listener.Close();
        await acceptLoop;
        return 0;
    }

    /// <summary>Blocking connects from the current thread (already inside the client namespace).</summary>
    private static double[] Connect(int count, int firstPort)
    {
        var samples = new double[count];
        var target = new IPEndPoint(IPAddress.Parse(ProbeIp), 80);
        for (var i = 0; i < count; i++)
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.LingerState = new LingerOption(true, 0);
            s.Bind(new IPEndPoint(IPAddress.Any, firstPort + i));
            var t0 = Stopwatch.GetTimestamp();
            s.Connect(target);
            samples[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
        return samples;
    }

    /// <summary>Programs <paramref name="services"/> ClusterIP Services (the probe one among them) with the real proxier.</summary>
    private static async Task<(double GenerationMs, double NftMs, int Ops)> ProgramAsync(string netns, string table, int services, string backendIp)
    {
        var proxier = new NftablesProxier(
            new NftablesProxierOptions
            {
                Family = IpFamily.IPv4,
                NodeName = "bench-node",
                TableName = table,
                ClusterCidrs = [IPNetwork.Parse("10.244.0.0/16")],
                NodePortAddresses = [],
            },
            new NftablesRunner(netns),
            TimeProvider.System);
        var probeAt = services / 2;
        for (var i = 0; i < services; i++)
        {
            var ip = i == probeAt ? ProbeIp : ServiceIp(i);
            proxier.OnServiceAdd(new V1Service
            {
                Metadata = new V1ObjectMeta { Name = $"s{i}", NamespaceProperty = "bench" },
                Spec = new V1ServiceSpec { Type = "ClusterIP", ClusterIP = ip, ClusterIPs = [ip], Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }] },
            });
            proxier.OnEndpointSliceAdd(new V1EndpointSlice
            {
                Metadata = new V1ObjectMeta { Name = $"s{i}-1", NamespaceProperty = "bench", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = $"s{i}" } },
                AddressType = "IPv4",
                Ports = [new Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }],
                Endpoints = [new V1Endpoint { Addresses = [backendIp], NodeName = "other", Conditions = new V1EndpointConditions { Ready = true } }],
            });
        }
        proxier.OnServicesSynced();
        proxier.OnEndpointSlicesSynced();
        SyncOutcome? outcome = null;
        proxier.Synced = o => outcome = o;
        await proxier.SyncAsync(CancellationToken.None);
        var t = outcome?.Timings ?? throw new InvalidOperationException($"the sync of {services} Services failed (see the log)");
        return ((t.Total - t.Nft).TotalMilliseconds, t.Nft.TotalMilliseconds, outcome.Transaction.Count);
    }

    private static string ServiceIp(int i)
    {
        // 10.96.0.0/12 minus the probe's address.
        var v = 0x0A600000u + 100 + (uint)i;
        return $"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}";
    }

    private static double P(double[] sorted, double q) => ProxySyncLoad.Pct(sorted, q);

    private static int OptInt(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
