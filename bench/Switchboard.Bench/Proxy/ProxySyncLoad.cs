using Switchboard.TestKit.Netns;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.ApiServer;
using Switchboard.ApiServer.Hosting;

namespace Switchboard.Bench.Proxy;

/// <summary>
/// The proxy issue's control-plane targets, against real nftables in a namespace made for each round:
/// an API server in this process holds 10,000 Services × 10 endpoints (one EndpointSlice each); a child process
/// (<see cref="ProxyAgentProcess"/>) runs the real <c>ProxyServer</c> against it and reports each sync.
/// Per round: the first (full) sync, VmRSS, K "add one Service" partial syncs, churn (EndpointSlice changes at a
/// steady rate, each stamped with <c>endpoints.kubernetes.io/last-change-trigger-time</c>) with the network
/// programming latency the child measures and the histogram its /metrics serves.
/// Usage: <c>proxy sync [services=10000] [endpoints=10] [--rounds 2] [--adds 10] [--churn-seconds 30] [--rate 20]
/// [--min-sync-ms 1000[,100]]</c>.
/// </summary>
internal static class ProxySyncLoad
{
    private const int Namespaces = 100;
    private const string TriggerAnnotation = "endpoints.kubernetes.io/last-change-trigger-time";

    public static async Task<int> RunAsync(string[] args)
    {
        var positional = args.TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray();
        var services = positional.Length > 0 ? positional[0] : 10_000;
        var perService = positional.Length > 1 ? positional[1] : 10;
        var rounds = Opt(args, "--rounds", 2);
        var adds = Opt(args, "--adds", 10);
        var churnSeconds = Opt(args, "--churn-seconds", 30);
        var rate = Opt(args, "--rate", 20);
        var minSyncs = (OptText(args, "--min-sync-ms") ?? "1000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();

        Console.WriteLine($"# proxy sync: {services} Services × {perService} endpoints, rounds {rounds}, adds {adds}, churn {churnSeconds}s at {rate}/s, minSyncPeriod {string.Join(",", minSyncs)} ms");
        Console.WriteLine($"# {DateTime.UtcNow:O} load {File.ReadAllText("/proc/loadavg").Trim()} nft {(await TestNetns.ShAsync("nft", "--version")).Trim()} kernel {Environment.OSVersion.Version}");

        var dataDir = Path.Combine(Path.GetTempPath(), "sb-bench-proxy-" + Guid.NewGuid().ToString("N")[..8]);
        await using var host = await ApiServerHost.StartAsync(new ApiServerOptions { DataDir = dataDir, Port = 0, InMemoryStore = true }, NullLoggerFactory.Instance, TimeProvider.System, CancellationToken.None);
        try
        {
            using var http = Client(host);
            var sw = Stopwatch.StartNew();
            await LoadAsync(http, services, perService);
            Console.WriteLine($"# loaded {services} Services and EndpointSlices in {sw.Elapsed.TotalSeconds:F1} s");

            var summary = new Dictionary<string, List<double>>();
            for (var round = 0; round < rounds; round++)
            {
                foreach (var minSync in minSyncs)
                {
                    await RoundAsync(http, host.KubeconfigPath, round, minSync, services, perService, adds, churnSeconds, rate, summary);
                }
            }

            Console.WriteLine("# summary (median of rounds; every value above)");
            foreach (var (name, values) in summary)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"SUMMARY {name,-44} median {Median(values),10:F2}   all [{string.Join(", ", values.Select(v => v.ToString("F2", CultureInfo.InvariantCulture)))}]"));
            }
        }
        finally
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        return 0;
    }

    private static async Task RoundAsync(HttpClient http, string kubeconfig, int round, int minSync, int services, int perService, int adds, int churnSeconds, int rate,
        Dictionary<string, List<double>> summary)
    {
        void Record(string name, double value)
        {
            if (!summary.TryGetValue(name, out var list))
            {
                summary[name] = list = [];
            }
            list.Add(value);
        }

        var prefix = TestNetns.NewPrefix();
        Console.WriteLine($"# round {round} minSyncPeriod {minSync} ms, netns {prefix}-n, load {File.ReadAllText("/proc/loadavg").Trim()}");
        await using var ns = await TestNetns.CreateAsync(prefix + "-n");
        await using var agent = AgentChild.Start(kubeconfig, ns.Name, prefix, minSync);
        var started = Stopwatch.StartNew();
        var first = await agent.NextSyncAsync(TimeSpan.FromMinutes(10));
        Console.WriteLine($"round {round} full_sync  {first.Line}  (process start → first sync done {started.Elapsed.TotalSeconds:F1} s)");
        Record($"full_sync_total_ms(min{minSync})", first.Get("total_ms"));
        Record($"full_sync_generation_ms(min{minSync})", first.Get("total_ms") - first.Get("nft_ms"));
        Record($"full_sync_nft_ms(min{minSync})", first.Get("nft_ms"));

        await Task.Delay(2000);
        var rss = await agent.AskAsync("rss");
        Console.WriteLine($"round {round} after_full {rss}");
        Record($"rss_after_full_sync_MiB(min{minSync})", Field(rss, "vmrss_kb") / 1024);

        // Add one Service with `services` present: its slice first (a sync that only records endpoints), then the
        // Service itself (the sync that programs it) — kube-proxy's "+1 service" case.
        for (var k = 0; k < adds; k++)
        {
            var name = $"add-{round}-{minSync}-{k}";
            agent.Drain();
            await BenchHttp.PostAsync(http, "/apis/discovery.k8s.io/v1/namespaces/bench-0/endpointslices", SliceJson(name, name + "-1", Enumerable.Range(0, perService).Select(j => Ip(5_000_000 + (k * 100) + j)), null));
            var sliceSync = await agent.NextSyncAsync(TimeSpan.FromSeconds(180), s => s.Get("ep_changed") >= 1);
            await Task.Delay(minSync + 50);
            agent.Drain();
            await BenchHttp.PostAsync(http, "/api/v1/namespaces/bench-0/services", ServiceJson(name));
            var svcSync = await agent.NextSyncAsync(TimeSpan.FromSeconds(180), s => s.Get("svc_changed") >= 1);
            Console.WriteLine($"round {round} add_slice  {sliceSync.Line}");
            Console.WriteLine($"round {round} add_svc    {svcSync.Line}");
            Record($"add_one_service_sync_ms(min{minSync})", svcSync.Get("total_ms"));
            Record($"add_one_service_slice_sync_ms(min{minSync})", sliceSync.Get("total_ms"));
            await Task.Delay(minSync + 50);
        }

        if (churnSeconds > 0)
        {
            var (lats, syncs) = await ChurnAsync(http, agent, services, perService, churnSeconds, rate, round);
            var sorted = lats.Order().ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round} churn samples {sorted.Length} syncs {syncs.Count} latency_ms p50 {Pct(sorted, 0.5):F1} p90 {Pct(sorted, 0.9):F1} p99 {Pct(sorted, 0.99):F1} max {sorted.LastOrDefault():F1}; sync total_ms median {Median(syncs.Select(s => s.Get("total_ms")).ToList()):F1} max {syncs.Select(s => s.Get("total_ms")).DefaultIfEmpty().Max():F1}"));
            Record($"churn_npl_p50_ms(min{minSync})", Pct(sorted, 0.5));
            Record($"churn_npl_p99_ms(min{minSync})", Pct(sorted, 0.99));
            Record($"churn_sync_total_ms_median(min{minSync})", Median(syncs.Select(s => s.Get("total_ms")).ToList()));

            // The same quantity as the agent's own metric (histogram_quantile over its buckets).
            var metrics = await agent.ScrapeAsync();
            var (count, p99) = HistogramQuantile(metrics, "kubeproxy_network_programming_duration_seconds", 0.99);
            var (_, p50) = HistogramQuantile(metrics, "kubeproxy_network_programming_duration_seconds", 0.5);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round} metric kubeproxy_network_programming_duration_seconds count {count} histogram_quantile p50 {p50 * 1000:F0} ms p99 {p99 * 1000:F0} ms"));
            Record($"churn_npl_metric_p99_ms(min{minSync})", p99 * 1000);
        }

        rss = await agent.AskAsync("rss");
        Console.WriteLine($"round {round} end        {rss}");
        Record($"rss_end_MiB(min{minSync})", Field(rss, "vmrss_kb") / 1024);
        Record($"rss_peak_MiB(min{minSync})", Field(rss, "vmhwm_kb") / 1024);
        rss = await agent.AskAsync("gc-rss");
        Console.WriteLine($"round {round} after_gc   {rss}");
        Record($"rss_after_gc_MiB(min{minSync})", Field(rss, "vmrss_kb") / 1024);
        Record($"gc_heap_after_gc_MiB(min{minSync})", Field(rss, "gc_heap_bytes") / (1024 * 1024));

        for (var k = 0; k < adds; k++)
        {
            var name = $"add-{round}-{minSync}-{k}";
            await DeleteAsync(http, $"/api/v1/namespaces/bench-0/services/{name}");
            await DeleteAsync(http, $"/apis/discovery.k8s.io/v1/namespaces/bench-0/endpointslices/{name}-1");
        }
    }

    private static async Task<(List<double> Latencies, List<SyncLine> Syncs)> ChurnAsync(HttpClient http, AgentChild agent, int services, int perService, int seconds, int rate, int round)
    {
        var total = rate * seconds;
        var random = new Random(round + 7);
        var picks = Enumerable.Range(0, services).OrderBy(_ => random.Next()).Take(total).ToArray();
        var failures = 0;
        agent.Drain();
        var tasks = new List<Task>(total);
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < total; i++)
        {
            var due = start + (long)(i * (double)Stopwatch.Frequency / rate);
            var wait = due - Stopwatch.GetTimestamp();
            if (wait > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(wait / (double)Stopwatch.Frequency));
            }
            var svc = picks[i];
            var change = i;
            tasks.Add(Task.Run(async () =>
            {
                // One endpoint of the Service moves to a fresh IP; the trigger time is when the bench decided it.
                var ips = Enumerable.Range(0, perService).Select(j => j == change % perService ? Ip(8_000_000 + change) : Ip((svc * perService) + j));
                var trigger = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
                if (!await PutSliceAsync(http, Ns(svc), $"s{svc}", ips, trigger))
                {
                    Interlocked.Increment(ref failures);
                }
            }));
        }
        await Task.WhenAll(tasks);
        var changesDone = Stopwatch.GetElapsedTime(start).TotalSeconds;

        // Collect every sync until all changes were programmed (or 180 s passed).
        var latencies = new List<double>();
        var syncs = new List<SyncLine>();
        var deadline = Stopwatch.StartNew();
        while (latencies.Count < total - failures && deadline.Elapsed < TimeSpan.FromSeconds(180))
        {
            SyncLine s;
            try
            {
                s = await agent.NextSyncAsync(TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException)
            {
                break;
            }
            syncs.Add(s);
            latencies.AddRange(s.Latencies);
        }
        Console.WriteLine($"# churn: {total} changes sent in {changesDone:F1} s, {failures} failed, {latencies.Count} trigger times observed in {syncs.Count} syncs");
        return (latencies, syncs);
    }

    private static async Task LoadAsync(HttpClient http, int services, int perService)
    {
        for (var n = 0; n < Namespaces; n++)
        {
            await BenchHttp.PostAsync(http, "/api/v1/namespaces", $$$"""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench-{{{n}}}"}}""");
        }
        await BenchHttp.ParallelAsync(services, 16, i => BenchHttp.PostAsync(http, $"/api/v1/namespaces/{Ns(i)}/services", ServiceJson($"s{i}")));
        await BenchHttp.ParallelAsync(services, 16, i => BenchHttp.PostAsync(http, $"/apis/discovery.k8s.io/v1/namespaces/{Ns(i)}/endpointslices",
            SliceJson($"s{i}", $"s{i}", Enumerable.Range(0, perService).Select(j => Ip((i * perService) + j)), null)));
    }

    private static string Ns(int i) => $"bench-{i % Namespaces}";

    /// <summary>Pod IPs from 10.128.0.0/9 (the agent's cluster CIDR), unique per index.</summary>
    private static string Ip(int index)
    {
        var v = 0x0A800000u + (uint)index + 1;
        return $"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}";
    }

    private static string ServiceJson(string name) =>
        $$$"""{"apiVersion":"v1","kind":"Service","metadata":{"name":"{{{name}}}"},"spec":{"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080}]}}""";

    private static string SliceJson(string service, string name, IEnumerable<string> ips, string? trigger)
    {
        var sb = new StringBuilder();
        sb.Append($$"""{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"{{name}}","labels":{"kubernetes.io/service-name":"{{service}}"}""");
        if (trigger is not null)
        {
            sb.Append($$""","annotations":{"{{TriggerAnnotation}}":"{{trigger}}"}""");
        }
        sb.Append("""},"addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[""");
        var i = 0;
        foreach (var ip in ips)
        {
            sb.Append(i == 0 ? "" : ",").Append($$$"""{"addresses":["{{{ip}}}"],"conditions":{"ready":true},"nodeName":"node-{{{i % 30}}}","zone":"zone-{{{"abc"[i % 3]}}}"}""");
            i++;
        }
        return sb.Append("]}").ToString();
    }

    private static async Task<bool> PutSliceAsync(HttpClient http, string ns, string name, IEnumerable<string> ips, string trigger)
    {
        // A merge patch replaces the endpoints list and stamps the trigger time, as the EndpointSlice controller does.
        var body = SliceJson(name, name, ips, trigger);
        using var req = new HttpRequestMessage(HttpMethod.Patch, $"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/{name}")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/merge-patch+json"),
        };
        using var resp = await http.SendAsync(req);
        if (!resp.IsSuccessStatusCode)
        {
            Console.Error.WriteLine($"bench: PATCH slice {ns}/{name}: {(int)resp.StatusCode} {await resp.Content.ReadAsStringAsync()}");
        }
        return resp.IsSuccessStatusCode;
    }

    private static async Task DeleteAsync(HttpClient http, string path)
    {
        using var resp = await http.DeleteAsync(path);
    }

    private static HttpClient Client(ApiServerHost host)
    {
        var ca = X509Certificate2.CreateFromPem(host.CaPem);
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 64,
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, cert, _, _) =>
                {
                    if (cert is null)
                    {
                        return false;
                    }
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(new X509Certificate2(cert));
                },
            },
        };
        var client = new HttpClient(handler) { BaseAddress = host.Url, Timeout = TimeSpan.FromMinutes(2) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.AdminToken);
        return client;
    }

    /// <summary>Prometheus histogram_quantile over the cumulative buckets of one series (linear inside a bucket).</summary>
    internal static (long Count, double Value) HistogramQuantile(string text, string name, double q)
    {
        var buckets = new List<(double Le, long Count)>();
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(name + "_bucket{", StringComparison.Ordinal))
            {
                continue;
            }
            var le = line[(line.IndexOf("le=\"", StringComparison.Ordinal) + 4)..];
            le = le[..le.IndexOf('"', StringComparison.Ordinal)];
            var count = long.Parse(line[(line.LastIndexOf(' ') + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
            buckets.Add((le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture), count));
        }
        if (buckets.Count == 0 || buckets[^1].Count == 0)
        {
            return (0, double.NaN);
        }
        var total = buckets[^1].Count;
        var rank = q * total;
        var prevLe = 0.0;
        var prevCount = 0L;
        foreach (var (le, count) in buckets)
        {
            if (count >= rank)
            {
                if (double.IsPositiveInfinity(le))
                {
                    return (total, prevLe);
                }
                return (total, prevLe + ((le - prevLe) * (rank - prevCount) / Math.Max(1, count - prevCount)));
            }
            prevLe = le;
            prevCount = count;
        }
        return (total, prevLe);
    }

    private static int Opt(string[] args, string name, int fallback)
    {
        var text = OptText(args, name);
        return text is null ? fallback : int.Parse(text, CultureInfo.InvariantCulture);
    }

    private static string? OptText(string[] args, string name)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }

    private static double Field(string line, string key)
    {
        foreach (var part in line.Split(' '))
        {
            if (part.StartsWith(key + "=", StringComparison.Ordinal))
            {
                return double.Parse(part[(key.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }
        return double.NaN;
    }

    internal static double Pct(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, Math.Max(0, (int)Math.Ceiling(p * sorted.Length) - 1))];

    internal static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }
        var s = values.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>One SYNC line of the child.</summary>
    internal sealed record SyncLine(string Line)
    {
        public double Get(string key) => Field(Line, key);

        public IEnumerable<double> Latencies
        {
            get
            {
                var part = Line.Split(' ').FirstOrDefault(p => p.StartsWith("lat_ms=", StringComparison.Ordinal));
                return part is null || part.Length == 7 ? [] : part[7..].Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture));
            }
        }
    }

    /// <summary>The agent child process and its line protocol.</summary>
    private sealed class AgentChild : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly Channel<SyncLine> _syncs = Channel.CreateUnbounded<SyncLine>();
        private readonly Channel<string> _answers = Channel.CreateUnbounded<string>();
        private readonly TaskCompletionSource<string> _metricsUrl = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private AgentChild(Process process)
        {
            _process = process;
            _ = Task.Run(async () =>
            {
                while (await process.StandardOutput.ReadLineAsync() is { } line)
                {
                    if (line.StartsWith("SYNC ", StringComparison.Ordinal))
                    {
                        _syncs.Writer.TryWrite(new SyncLine(line));
                    }
                    else if (line.StartsWith("READY ", StringComparison.Ordinal))
                    {
                        _metricsUrl.TrySetResult(Field(line, "metrics"));
                    }
                    else if (line.StartsWith("RSS ", StringComparison.Ordinal))
                    {
                        _answers.Writer.TryWrite(line);
                    }
                }
                _syncs.Writer.TryComplete();
            });
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    Console.Error.WriteLine("agent: " + e.Data);
                }
            };
            process.BeginErrorReadLine();

            static string Field(string line, string key) =>
                line.Split(' ').First(p => p.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];
        }

        public static AgentChild Start(string kubeconfig, string netns, string table, int minSyncMs)
        {
            var self = Environment.ProcessPath!;
            var psi = new ProcessStartInfo(self) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            {
                psi.ArgumentList.Add(typeof(AgentChild).Assembly.Location);
            }
            foreach (var a in new[] { "proxy", "agent", kubeconfig, netns, table, minSyncMs.ToString(CultureInfo.InvariantCulture) })
            {
                psi.ArgumentList.Add(a);
            }
            return new AgentChild(Process.Start(psi)!);
        }

        public void Drain()
        {
            while (_syncs.Reader.TryRead(out _))
            {
            }
        }

        public async Task<SyncLine> NextSyncAsync(TimeSpan timeout, Func<SyncLine, bool>? match = null)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                while (true)
                {
                    var s = await _syncs.Reader.ReadAsync(cts.Token);
                    if (match is null || match(s))
                    {
                        return s;
                    }
                    Console.WriteLine($"#   (other sync: {s.Line})");
                }
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no sync within {timeout}");
            }
        }

        public async Task<string> AskAsync(string command)
        {
            await _process.StandardInput.WriteLineAsync(command);
            await _process.StandardInput.FlushAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            return await _answers.Reader.ReadAsync(cts.Token);
        }

        public async Task<string> ScrapeAsync()
        {
            var url = await _metricsUrl.Task.WaitAsync(TimeSpan.FromSeconds(30));
            using var http = new HttpClient();
            return await http.GetStringAsync(new Uri(url));
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await _process.StandardInput.WriteLineAsync("quit");
                await _process.StandardInput.FlushAsync();
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception)
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
            _process.Dispose();
        }
    }
}
