using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Switchboard.Bench.Api;
using Switchboard.Dns;
using Switchboard.Dns.Server;
using Switchboard.Dns.Wire;

namespace Switchboard.Bench.Dns;

/// <summary>
/// The cluster DNS issue's benchmark, side by side with Knot DNS on 127.0.0.1: a real `switchboard server` and a
/// real `switchboard dns` process fed by it, and knotd (2 UDP workers) serving the same 1,000 Service A records
/// from a static zone (the same 5,000 records: memory growth is measured first, with 4,000 more Services and
/// their EndpointSlices); dnsperf asks for the 1,000 names. Interleaved dnsperf runs (-c 4 -l 8) give the QPS ratio
/// (median); a run at half our peak gives latency percentiles; then programming latency (Service created → answered).
/// `dotnet run -c Release --project bench/Switchboard.Bench -- dns [switchboard.dll] [pairs] [seconds]`
/// </summary>
internal static class DnsLoad
{
    private const int Services = 1000;
    private const int GrowthServices = 4000;
    private const int ProgrammingSamples = 200;

    public static async Task<int> RunAsync(string[] args)
    {
        var dll = args.Length > 0 ? args[0] : Path.GetFullPath("src/Switchboard.Cli/bin/Release/net10.0/switchboard.dll");
        var pairs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var seconds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 8;
        var rssOnly = args.Contains("--rss-only");
        if (!await EnsureToolsAsync())
        {
            return 1;
        }
        if (!File.Exists(dll))
        {
            Console.Error.WriteLine($"bench: {dll} is missing; building it");
            await RunAsync("dotnet", ["build", "-c", "Release", "src/Switchboard.Cli", "--nologo", "-v", "q"], TimeSpan.FromMinutes(10));
        }

        Console.Error.WriteLine($"bench: starting the API server ({dll})");
        await using var api = await ServerUnderTest.StartAsync(dll);
        using var http = api.Client(64);
        var dnsPort = FreePort();
        var metricsPort = FreePort();
        await using var dns = await DnsProcess.StartAsync(dll, api.Kubeconfig, dnsPort, metricsPort);
        using var scrape = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}") };
        // Memory is read once the zone has been quiet long enough for the server to give back what a burst left
        // (its memory trimmer runs 2 s after the last change, at most every 10 s).
        var settle = TimeSpan.FromSeconds(15);
        await Task.Delay(settle);
        var idleRss = dns.RssBytes();
        var idleHeap = await HeapAsync(scrape);

        Console.Error.WriteLine($"bench: creating {Services} Services");
        await CreateServicesAsync(http, 0, Services, slices: false);
        await WaitResolvableAsync(dnsPort, $"svc{Services - 1}.default.svc.cluster.local");
        await Task.Delay(settle);
        var rss1000 = dns.RssBytes();
        var heap1000 = await HeapAsync(scrape);

        // Growth per object is measured before any load, so it is the zone's cost and not warm-up of the query path.
        Console.Error.WriteLine($"bench: RSS growth, {GrowthServices} more Services each with a 2-endpoint EndpointSlice");
        await CreateServicesAsync(http, Services, Services + GrowthServices, slices: true);
        await WaitResolvableAsync(dnsPort, $"ep0.svc{Services + GrowthServices - 1}.default.svc.cluster.local");
        await Task.Delay(settle);
        var rssGrown = dns.RssBytes();
        var heapGrown = await HeapAsync(scrape);
        if (rssOnly)
        {
            Console.WriteLine($"rss MiB idle {idleRss / 1048576.0:F1} 1k {rss1000 / 1048576.0:F1} grown {rssGrown / 1048576.0:F1}; heap MiB idle {idleHeap / 1048576.0:F1} 1k {heap1000 / 1048576.0:F1} grown {heapGrown / 1048576.0:F1}");
            return 0;
        }

        var records = await ListClusterIpsAsync(http);
        var dir = Directory.CreateTempSubdirectory("sb-knot-").FullName;
        var knotPort = FreePort();
        await using var knot = await KnotProcess.StartAsync(dir, knotPort, records);
        await WaitResolvableAsync(knotPort, "svc0.default.svc.cluster.local");
        var queries = Path.Combine(dir, "queries.txt");
        await File.WriteAllLinesAsync(queries, Enumerable.Range(0, Services).OrderBy(_ => Random.Shared.Next()).Select(i => $"svc{i}.default.svc.cluster.local A"));

        // Warm both (JIT, caches) before measuring.
        await DnsperfAsync(dnsPort, queries, 2, null, verbose: false);
        await DnsperfAsync(knotPort, queries, 2, null, verbose: false);
        var ours = new List<double>();
        var theirs = new List<double>();
        for (var i = 0; i < pairs; i++)
        {
            var k = await DnsperfAsync(knotPort, queries, seconds, null, verbose: false);
            var o = await DnsperfAsync(dnsPort, queries, seconds, null, verbose: false);
            Console.Error.WriteLine($"bench: pair {i + 1}: knot {k.Qps:F0} QPS ({k.NoErrorPercent:F2}% NOERROR), switchboard {o.Qps:F0} QPS ({o.NoErrorPercent:F2}% NOERROR)");
            Check(k);
            Check(o);
            theirs.Add(k.Qps);
            ours.Add(o.Qps);
        }
        var ourPeak = Median(ours);
        var knotPeak = Median(theirs);
        var rate = (int)(ourPeak / 2);
        var ourLatency = await DnsperfAsync(dnsPort, queries, seconds, rate, verbose: true);
        var knotLatency = await DnsperfAsync(knotPort, queries, seconds, rate, verbose: true);

        Console.Error.WriteLine($"bench: programming latency, {ProgrammingSamples} Services one after another");
        var programming = await ProgrammingLatencyAsync(http, dnsPort);

        var mib = 1024.0 * 1024.0;
        Console.WriteLine($"dns qps: switchboard {ourPeak:F0}, knot {knotPeak:F0}, ratio {ourPeak / knotPeak:F2} (median of {pairs} interleaved pairs, dnsperf -c 4 -l {seconds}, {Services} Service names asked of a zone of {records.Count} Services, 100% NOERROR)");
        Console.WriteLine($"dns latency at {rate} QPS (50% of our peak): switchboard p50 {ourLatency.P50 * 1e3:F3} ms p99 {ourLatency.P99 * 1e3:F3} ms; knot p50 {knotLatency.P50 * 1e3:F3} ms p99 {knotLatency.P99 * 1e3:F3} ms");
        Console.WriteLine($"dns programming latency (Service POST → answered): p50 {Percentile(programming, 0.50):F1} ms, p99 {Percentile(programming, 0.99):F1} ms, max {programming.Max():F1} ms over {programming.Count}");
        Console.WriteLine($"dns managed heap: idle {idleHeap / mib:F1} MiB, {Services} Services {heap1000 / mib:F1} MiB, grown {heapGrown / mib:F1} MiB ({(heapGrown - heap1000) / mib / (GrowthServices * 3 / 1000.0):F2} MiB per 1,000 Services + Pods)");
        Console.WriteLine($"dns rss: idle {idleRss / mib:F1} MiB; with {Services} Services {rss1000 / mib:F1} MiB ({(rss1000 - idleRss) / mib:F2} MiB per 1,000 Services); +{GrowthServices} Services and {GrowthServices * 2} endpoints {rssGrown / mib:F1} MiB ({(rssGrown - rss1000) / mib / (GrowthServices * 3 / 1000.0):F2} MiB per 1,000 Services + Pods)");
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        return 0;
    }

    /// <summary>The dns process's managed heap after its last collection, from its /metrics.</summary>
    private static async Task<long> HeapAsync(HttpClient scrape)
    {
        var text = await scrape.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        return (long)Field(text, "\ndotnet_gc_heap_size_bytes ");
    }

    private static void Check(DnsperfResult r)
    {
        if (r.NoErrorPercent < 100.0 || r.Lost > 0)
        {
            Console.Error.WriteLine($"bench: WARNING: not every query answered NOERROR ({r.NoErrorPercent:F2}%, {r.Lost} lost)");
        }
    }

    private static async Task<bool> EnsureToolsAsync()
    {
        var missing = new List<string>();
        if (!OnPath("knotd"))
        {
            missing.Add("knot");
        }
        if (!OnPath("dnsperf"))
        {
            missing.Add("dnsperf");
        }
        if (!OnPath("dig"))
        {
            missing.Add("dnsutils");
        }
        if (missing.Count == 0)
        {
            return true;
        }
        if (Environment.UserName != "root")
        {
            Console.Error.WriteLine($"bench: missing {string.Join(" ", missing)}; install them with: sudo apt-get install -y {string.Join(" ", missing)}");
            return false;
        }
        Console.Error.WriteLine($"bench: installing {string.Join(" ", missing)}");
        await RunAsync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", .. missing], TimeSpan.FromMinutes(10));
        return missing.All(m => OnPath(m switch { "knot" => "knotd", "dnsutils" => "dig", _ => m }));
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':').Append("/usr/sbin").Any(d => File.Exists(Path.Combine(d, tool)));

    private static async Task CreateServicesAsync(HttpClient http, int from, int to, bool slices)
    {
        var failures = 0;
        await Parallel.ForAsync(from, to, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var svc = $$$"""{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc{{{i}}}"},"spec":{"ports":[{"name":"http","port":80,"protocol":"TCP"}]}}""";
            if (!await PostAsync(http, "/api/v1/namespaces/default/services", svc))
            {
                Interlocked.Increment(ref failures);
            }
            if (slices)
            {
                var a = $"10.{100 + (i / 32000)}.{i / 125 % 256}.{(i % 125 * 2) + 1}";
                var b = $"10.{100 + (i / 32000)}.{i / 125 % 256}.{(i % 125 * 2) + 2}";
                var slice = $$$"""{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"svc{{{i}}}-1","labels":{"kubernetes.io/service-name":"svc{{{i}}}","endpointslice.kubernetes.io/managed-by":"bench"}},"addressType":"IPv4","endpoints":[{"addresses":["{{{a}}}"],"hostname":"ep0","conditions":{"ready":true}},{"addresses":["{{{b}}}"],"hostname":"ep1","conditions":{"ready":true}}],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}""";
                if (!await PostAsync(http, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", slice))
                {
                    Interlocked.Increment(ref failures);
                }
            }
        });
        if (failures > 0)
        {
            Console.Error.WriteLine($"bench: WARNING: {failures} creates failed");
        }
    }

    private static async Task<bool> PostAsync(HttpClient http, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri(path, UriKind.Relative), content);
        return response.IsSuccessStatusCode;
    }

    private static async Task<List<(string Name, string Ip)>> ListClusterIpsAsync(HttpClient http)
    {
        using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/namespaces/default/services", UriKind.Relative)));
        return [.. doc.RootElement.GetProperty("items").EnumerateArray()
            .Select(s => (s.GetProperty("metadata").GetProperty("name").GetString()!, s.GetProperty("spec").GetProperty("clusterIP").GetString()!))
            .Where(s => s.Item1.StartsWith("svc", StringComparison.Ordinal))];
    }

    private static async Task<List<double>> ProgrammingLatencyAsync(HttpClient http, int port)
    {
        var result = new List<double>(ProgrammingSamples);
        using var client = new DnsClient(port);
        for (var i = 0; i < ProgrammingSamples; i++)
        {
            var name = $"prog{i}";
            var started = Stopwatch.GetTimestamp();
            if (!await PostAsync(http, "/api/v1/namespaces/default/services", $$$"""{"apiVersion":"v1","kind":"Service","metadata":{"name":"{{{name}}}"},"spec":{"ports":[{"name":"http","port":80}]}}"""))
            {
                throw new InvalidOperationException("create failed");
            }
            while (client.Query($"{name}.default.svc.cluster.local") != DnsRcode.NoError)
            {
                if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(30))
                {
                    throw new TimeoutException($"{name} never resolved");
                }
            }
            result.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        return result;
    }

    private static async Task WaitResolvableAsync(int port, string name)
    {
        using var client = new DnsClient(port);
        var deadline = Stopwatch.GetTimestamp();
        while (client.Query(name) != DnsRcode.NoError)
        {
            if (Stopwatch.GetElapsedTime(deadline) > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException($"{name} not resolvable on port {port}");
            }
            await Task.Delay(50);
        }
    }

    private static async Task<DnsperfResult> DnsperfAsync(int port, string queries, int seconds, int? qps, bool verbose)
    {
        List<string> args = ["-s", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-d", queries, "-c", "4", "-l", seconds.ToString(CultureInfo.InvariantCulture)];
        if (qps is { } q)
        {
            args.AddRange(["-Q", q.ToString(CultureInfo.InvariantCulture)]);
        }
        if (verbose)
        {
            args.Add("-v");
        }
        var psi = new ProcessStartInfo("dnsperf") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        args.ForEach(psi.ArgumentList.Add);
        using var p = Process.Start(psi)!;
        var latencies = new List<double>();
        var summary = new StringBuilder();
        var stderr = p.StandardError.ReadToEndAsync();
        while (await p.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("> ", StringComparison.Ordinal))
            {
                var last = line.LastIndexOf(' ');
                if (double.TryParse(line.AsSpan(last + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var l))
                {
                    latencies.Add(l);
                }
            }
            else
            {
                summary.AppendLine(line);
            }
        }
        await p.WaitForExitAsync();
        await stderr;
        var text = summary.ToString();
        latencies.Sort();
        return new DnsperfResult(
            Field(text, "Queries per second:"),
            text.Contains("NOERROR", StringComparison.Ordinal) ? Percent(text, "NOERROR") : 0,
            (long)Field(text, "Queries lost:"),
            latencies.Count > 0 ? latencies[(int)(latencies.Count * 0.50)] : 0,
            latencies.Count > 0 ? latencies[Math.Min(latencies.Count - 1, (int)(latencies.Count * 0.99))] : 0);
    }

    private static double Field(string text, string key)
    {
        var at = text.IndexOf(key, StringComparison.Ordinal);
        if (at < 0)
        {
            return 0;
        }
        var value = text[(at + key.Length)..].TrimStart().Split((char[])[' ', '\n'], 2)[0];
        return double.Parse(value, CultureInfo.InvariantCulture);
    }

    private static double Percent(string text, string code)
    {
        var at = text.IndexOf(code + " ", StringComparison.Ordinal);
        var open = text.IndexOf('(', at);
        var close = text.IndexOf('%', open);
        return double.Parse(text[(open + 1)..close], CultureInfo.InvariantCulture);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }

    /// <summary>A port free for both UDP and TCP on 127.0.0.1 (bound together, then released).</summary>
    private static int FreePort()
    {
        var (udp, tcp) = DnsServer.Bind(ListenAddress.Parse("127.0.0.1:0"));
        var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
        udp.Dispose();
        tcp.Dispose();
        return port;
    }

    internal static async Task RunAsync(string file, string[] args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        using var cts = new CancellationTokenSource(timeout);
        await p.WaitForExitAsync(cts.Token);
    }

    private sealed record DnsperfResult(double Qps, double NoErrorPercent, long Lost, double P50, double P99);

    /// <summary>A blocking UDP stub resolver for polling: one query, a 20 ms wait, the rcode (or -1).</summary>
    private sealed class DnsClient : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly byte[] _buffer = new byte[4096];
        private ushort _id;

        public DnsClient(int port)
        {
            _socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
            _socket.ReceiveTimeout = 20;
        }

        public int Query(string name)
        {
            var query = new byte[512];
            var w = new DnsMessageWriter(query, query.Length);
            w.TryWriteQuestion(DnsName.Encode(name), DnsType.A, DnsClass.IN);
            var id = ++_id;
            _socket.Send(query.AsSpan(0, w.Finish(id, DnsFlags.RD, 0)));
            try
            {
                while (true)
                {
                    var n = _socket.Receive(_buffer);
                    if (n >= 12 && DnsName.U16(_buffer, 0) == id)
                    {
                        return _buffer[3] & 0x0F;
                    }
                }
            }
            catch (SocketException)
            {
                return -1;
            }
        }

        public void Dispose() => _socket.Dispose();
    }

    /// <summary>`switchboard dns` as its own process, fed by the benchmark's API server.</summary>
    private sealed class DnsProcess : IAsyncDisposable
    {
        private readonly Process _process;

        private DnsProcess(Process process) => _process = process;

        public static async Task<DnsProcess> StartAsync(string dll, string kubeconfig, int port, int metricsPort)
        {
            var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in (string[])[dll, "dns", "--kubeconfig", kubeconfig, "--listen", $"127.0.0.1:{port}", "--upstream", "none",
                "--metrics-bind-address", $"127.0.0.1:{metricsPort}", "--health-bind-address", "127.0.0.1:0", "--ready-bind-address", "127.0.0.1:0"])
            {
                psi.ArgumentList.Add(a);
            }
            // SB_DNS_ENV="K=V;K=V": runtime settings for the dns process only (GC knobs under study).
            foreach (var kv in (Environment.GetEnvironmentVariable("SB_DNS_ENV") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = kv.IndexOf('=', StringComparison.Ordinal);
                psi.Environment[kv[..eq]] = kv[(eq + 1)..];
            }
            var p = Process.Start(psi)!;
            p.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { Length: > 0 } line)
                {
                    Console.Error.WriteLine("dns: " + line);
                }
            };
            p.BeginErrorReadLine();
            while (await p.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("ready: dns ", StringComparison.Ordinal))
                {
                    _ = p.StandardOutput.ReadToEndAsync();
                    return new DnsProcess(p);
                }
            }
            throw new InvalidOperationException("switchboard dns exited before it was ready");
        }

        public long RssBytes() => Rss(_process.Id);

        public async ValueTask DisposeAsync()
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }

    /// <summary>knotd with a static cluster.local zone holding the same A records, on its own port.</summary>
    private sealed class KnotProcess : IAsyncDisposable
    {
        private readonly Process _process;

        private KnotProcess(Process process) => _process = process;

        public static Task<KnotProcess> StartAsync(string dir, int port, List<(string Name, string Ip)> records)
        {
            var zone = new StringBuilder();
            zone.AppendLine("$ORIGIN cluster.local.").AppendLine("$TTL 5");
            zone.AppendLine("@ SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5");
            zone.AppendLine("@ NS ns.dns.cluster.local.").AppendLine("ns.dns A 127.0.0.1");
            foreach (var (name, ip) in records)
            {
                zone.AppendLine(CultureInfo.InvariantCulture, $"{name}.default.svc A {ip}");
            }
            File.WriteAllText(Path.Combine(dir, "cluster.local.zone"), zone.ToString());
            File.WriteAllText(Path.Combine(dir, "knot.conf"), $"""
                server:
                    rundir: "{dir}"
                    listen: 127.0.0.1@{port}
                    udp-workers: 2
                    tcp-workers: 1
                    background-workers: 1
                control:
                    listen: "{dir}/knot.sock"
                database:
                    storage: "{dir}/db"
                log:
                  - target: stderr
                    any: error
                zone:
                  - domain: cluster.local
                    file: "{dir}/cluster.local.zone"
                    storage: "{dir}"
                    journal-content: none
                    zonefile-sync: -1
                """);
            var psi = new ProcessStartInfo("knotd") { UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(Path.Combine(dir, "knot.conf"));
            return Task.FromResult(new KnotProcess(Process.Start(psi)!));
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }

    internal static long Rss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }
        return -1;
    }
}
