using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using k8s;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.ApiServer;
using Switchboard.ApiServer.Hosting;
using Switchboard.Client.Informers;
using Switchboard.Controllers.Endpoints;
using Switchboard.Controllers.EndpointSlices;

namespace Switchboard.Bench.EndpointSlices;

/// <summary>
/// The EndpointSlice issue's targets against a real API server (in-process, SQLite store) and the real controllers
/// (in the same process, as in `switchboard server`):
/// <list type="number">
/// <item>cold start: 10,000 Services × 10 ready Pods already stored, no slices; start the controllers and time until
/// every Service has a slice with its 10 ready endpoints (target ≤ 20 s);</item>
/// <item>churn: 100 Pod readiness flips per second (open loop) for a while; latency from the pods/status write to the
/// slice change seen on a watch (target p99 ≤ 250 ms), and slice writes per Pod change (target exactly 1).</item>
/// </list>
/// Usage: <c>endpointslices [services=10000] [podsPerService=10] [churnSeconds=30] [--slices-only] [--workers N]
/// [--data-dir DIR]</c>; <c>--workers</c> sets the EndpointSlice controller's workers (the Endpoints controller keeps
/// its default), <c>--data-dir</c> keeps the loaded store so a second run skips the load.
/// </summary>
internal static class SliceLoad
{
    private const int Namespaces = 100;
    private const int Nodes = 30;

    public static async Task<int> RunAsync(string[] args)
    {
        var workersAt = Array.IndexOf(args, "--workers");
        var workers = workersAt >= 0 ? int.Parse(args[workersAt + 1], CultureInfo.InvariantCulture) : new EndpointSliceControllerOptions().Workers;
        var dataAt = Array.IndexOf(args, "--data-dir");
        var keptDir = dataAt >= 0 ? args[dataAt + 1] : null;
        var positional = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (workersAt < 0 || i != workersAt + 1) && (dataAt < 0 || i != dataAt + 1)).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray();
        var services = positional.Length > 0 ? positional[0] : 10_000;
        var perService = positional.Length > 1 ? positional[1] : 10;
        var churnSeconds = positional.Length > 2 ? positional[2] : 30;
        var slicesOnly = args.Contains("--slices-only");

        // --data-dir keeps the loaded store for the next run (which then only deletes the slices and Endpoints).
        var dataDir = keptDir ?? Path.Combine(Path.GetTempPath(), "sb-bench-es-" + Guid.NewGuid().ToString("N")[..8]);
        var marker = Path.Combine(dataDir, $"bench-loaded-{services}x{perService}");
        var reuse = keptDir is not null && File.Exists(marker);
        var options = new ApiServerOptions { DataDir = dataDir, Port = 0, InMemoryStore = false };
        await using var host = await ApiServerHost.StartAsync(options, NullLoggerFactory.Instance, TimeProvider.System, CancellationToken.None);
        try
        {
            using var http = Client(host);
            var sw = Stopwatch.StartNew();
            if (reuse)
            {
                Console.Error.WriteLine("bench: reusing the loaded store; deleting its EndpointSlices and Endpoints");
                await ResetAsync(http);
            }
            else
            {
                Console.Error.WriteLine($"bench: loading {services} Services × {perService} Pods in {Namespaces} namespaces, {Nodes} nodes in 3 zones");
                await LoadAsync(http, services, perService);
                Report("load_objects_seconds", sw.Elapsed.TotalSeconds, $"s ({services} Services, {services * perService} Pods created and made Ready; not a target)");
                if (keptDir is not null)
                {
                    await File.WriteAllTextAsync(marker, "");
                }
            }

            var startRv = ListRv(await http.GetStringAsync("/apis/discovery.k8s.io/v1/endpointslices?limit=1"));
            using var watcher = new SliceWatcher(http, startRv);
            await watcher.StartedAsync();

            using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(host.KubeconfigPath));
            using var informers = new SharedInformerFactory(client, NullLoggerFactory.Instance, TimeProvider.System);
            using var slices = new EndpointSliceController(informers, client, NullLoggerFactory.Instance, TimeProvider.System, new EndpointSliceControllerOptions { Workers = workers });
            using var endpoints = slicesOnly ? null : new EndpointsController(informers, client, NullLoggerFactory.Instance, TimeProvider.System);
            using var stop = new CancellationTokenSource();
            var started = Stopwatch.GetTimestamp();
            var running = new List<Task> { informers.RunAsync(stop.Token), slices.RunAsync(stop.Token) };
            if (endpoints is not null)
            {
                running.Add(endpoints.RunAsync(stop.Token));
            }

            await informers.WaitForCacheSyncAsync(CancellationToken.None);
            Report("cold_informers_synced", Stopwatch.GetElapsedTime(started).TotalSeconds, "s (list of Services, Pods, Nodes, EndpointSlices" + (slicesOnly ? ")" : ", Endpoints)"));
            await watcher.WaitCompleteAsync(services, perService, TimeSpan.FromMinutes(5));
            var cold = Stopwatch.GetElapsedTime(started).TotalSeconds;
            Report("cold_start_all_slices_complete", cold, $"s (target <= 20; {services} Services × {perService} ready endpoints{(slicesOnly ? ", EndpointSlice controller only" : ", with the Endpoints controller")}, {workers} slice workers)");
            Report("cold_start_slice_writes", slices.Writes, $"writes for {services} Services");

            await Task.Delay(TimeSpan.FromSeconds(3)); // let the Endpoints controller and slice re-checks settle
            await ChurnAsync(http, watcher, slices, services, perService, churnSeconds);

            Report("rss_process", Environment.WorkingSet / (1024.0 * 1024.0), "MiB (API server + controllers + bench client, one process)");
            await stop.CancelAsync();
            await Task.WhenAll(running);
        }
        finally
        {
            try
            {
                if (keptDir is null)
                {
                    Directory.Delete(dataDir, recursive: true);
                }
            }
            catch (IOException)
            {
            }
        }
        return 0;
    }

    private static async Task ChurnAsync(HttpClient http, SliceWatcher watcher, EndpointSliceController controller, int services, int perService, int seconds)
    {
        const int rate = 100;
        // Each change flips a pod not flipped before in this run, so there can be at most one per pod.
        var total = Math.Min(rate * seconds, services * perService);
        var random = new Random(42);
        var ready = new ConcurrentDictionary<int, bool>();
        var latencies = new ConcurrentBag<double>();
        var failures = 0;
        var eventsBefore = watcher.SliceEvents;
        var writesBefore = controller.Writes;
        var tasks = new List<Task>(total);
        var start = Stopwatch.GetTimestamp();
        Console.Error.WriteLine($"bench: churn: {total} pod readiness flips at {rate}/s");
        for (var i = 0; i < total; i++)
        {
            var due = start + (long)(i * (double)Stopwatch.Frequency / rate);
            while (Stopwatch.GetTimestamp() < due)
            {
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                await Task.Delay(wait > TimeSpan.FromMilliseconds(2) ? wait - TimeSpan.FromMilliseconds(1) : TimeSpan.FromMilliseconds(1));
            }
            // A pod not changed yet in this run, so each change is its own (never coalesced with an earlier one).
            int pod;
            do
            {
                pod = random.Next(services * perService);
            }
            while (!ready.TryAdd(pod, false));
            var (svc, j) = (pod / perService, pod % perService);
            var name = PodName(svc, j);
            tasks.Add(Task.Run(async () =>
            {
                var observed = watcher.Expect(name, ready: false);
                var sent = Stopwatch.GetTimestamp();
                if (!await PatchStatusAsync(http, Ns(svc), name, PodIp(pod), ready: false))
                {
                    Interlocked.Increment(ref failures);
                    return;
                }
                var seen = await observed.WaitAsync(TimeSpan.FromSeconds(30));
                latencies.Add(Stopwatch.GetElapsedTime(sent, seen).TotalMilliseconds);
            }));
        }
        try
        {
            await Task.WhenAll(tasks);
        }
        catch (TimeoutException)
        {
            Console.Error.WriteLine("bench: some pod changes never reached a slice within 30 s");
        }
        await Task.Delay(TimeSpan.FromSeconds(3)); // a second write per change would show up here
        var sorted = latencies.ToArray();
        Array.Sort(sorted);
        Report("churn_changes", total, $"pod status writes ({failures} failed, {total - sorted.Length} not observed)");
        Report("churn_latency_p50", Pct(sorted, 0.50), "ms (pods/status write → slice event on a watch)");
        Report("churn_latency_p99", Pct(sorted, 0.99), "ms (target <= 250)");
        Report("churn_latency_max", sorted.Length == 0 ? double.NaN : sorted[^1], "ms");
        Report("churn_slice_writes_per_change", (double)(controller.Writes - writesBefore) / total, "(target exactly 1; controller's writes)");
        Report("churn_slice_events_per_change", (double)(watcher.SliceEvents - eventsBefore) / total, "(slice watch events per change)");
    }

    // ---- load ----

    private static string Ns(int service) => "bench-" + (service % Namespaces).ToString(CultureInfo.InvariantCulture);

    private static string PodName(int service, int j) => string.Create(CultureInfo.InvariantCulture, $"s{service}-p{j}");

    private static string PodIp(int pod) => string.Create(CultureInfo.InvariantCulture, $"10.{64 + (pod >> 16)}.{(pod >> 8) & 255}.{pod & 255}");

    private static async Task LoadAsync(HttpClient http, int services, int perService)
    {
        for (var n = 0; n < Namespaces; n++)
        {
            await BenchHttp.PostAsync(http, "/api/v1/namespaces", $$$"""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench-{{{n}}}"}}""");
        }
        var now = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        for (var n = 0; n < Nodes; n++)
        {
            var zone = "zone-" + "abc"[n % 3];
            await BenchHttp.PostAsync(http, "/api/v1/nodes", $$$"""{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-{{{n}}}","labels":{"topology.kubernetes.io/zone":"{{{zone}}}","type":"kwok"}} }""");
            await BenchHttp.PatchAsync(http, $"/api/v1/nodes/node-{n}/status", $$$"""{"status":{"allocatable":{"cpu":"8","pods":"5000"},"capacity":{"cpu":"8","pods":"5000"},"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"{{{now}}}","lastTransitionTime":"{{{now}}}"}]}}""");
        }
        await BenchHttp.ParallelAsync(services, 32, i => BenchHttp.PostAsync(http, $"/api/v1/namespaces/{Ns(i)}/services",
            $$$"""{"apiVersion":"v1","kind":"Service","metadata":{"name":"s{{{i}}}"},"spec":{"selector":{"app":"s{{{i}}}"},"ports":[{"name":"http","port":80,"targetPort":8080}]}}"""));
        Console.Error.WriteLine($"bench: {services} Services created");
        var progress = 0;
        await BenchHttp.ParallelAsync(services * perService, 48, async pod =>
        {
            var (svc, j) = (pod / perService, pod % perService);
            var ns = Ns(svc);
            var name = PodName(svc, j);
            var ok = await BenchHttp.PostAsync(http, $"/api/v1/namespaces/{ns}/pods",
                $$$"""{"apiVersion":"v1","kind":"Pod","metadata":{"name":"{{{name}}}","labels":{"app":"s{{{svc}}}"}},"spec":{"nodeName":"node-{{{pod % Nodes}}}","containers":[{"name":"app","image":"registry.k8s.io/pause:3.10","ports":[{"containerPort":8080}]}]}}""")
                && await PatchStatusAsync(http, ns, name, PodIp(pod), ready: true);
            if (Interlocked.Increment(ref progress) % 20_000 == 0)
            {
                Console.Error.WriteLine($"bench: {progress} Pods running");
            }
            return ok;
        });
    }

    private static async Task ResetAsync(HttpClient http)
    {
        for (var n = 0; n < Namespaces; n++)
        {
            foreach (var path in new[] { $"/apis/discovery.k8s.io/v1/namespaces/bench-{n}/endpointslices", $"/api/v1/namespaces/bench-{n}/endpoints" })
            {
                using var resp = await http.DeleteAsync(path);
                resp.EnsureSuccessStatusCode();
            }
        }
        // Readiness may have been flipped by an earlier run's churn: make every pod Ready again.
        var list = JsonDocument.Parse(await http.GetStringAsync("/api/v1/pods"));
        var unready = list.RootElement.GetProperty("items").EnumerateArray()
            .Where(p => p.GetProperty("status").GetProperty("conditions").EnumerateArray().Any(c => c.GetProperty("type").GetString() == "Ready" && c.GetProperty("status").GetString() != "True"))
            .Select(p => (p.GetProperty("metadata").GetProperty("namespace").GetString()!, p.GetProperty("metadata").GetProperty("name").GetString()!, p.GetProperty("status").GetProperty("podIP").GetString()!))
            .ToList();
        await BenchHttp.ParallelAsync(unready.Count, 32, i => PatchStatusAsync(http, unready[i].Item1, unready[i].Item2, unready[i].Item3, ready: true));
    }

    private static Task<bool> PatchStatusAsync(HttpClient http, string ns, string name, string ip, bool ready)
    {
        var now = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var status = ready ? "True" : "False";
        return BenchHttp.PatchAsync(http, $"/api/v1/namespaces/{ns}/pods/{name}/status",
            $$$"""{"status":{"phase":"Running","podIP":"{{{ip}}}","podIPs":[{"ip":"{{{ip}}}"}],"conditions":[{"type":"Ready","status":"{{{status}}}","lastTransitionTime":"{{{now}}}"}]}}""");
    }

    private static HttpClient Client(ApiServerHost host)
    {
        var ca = X509Certificate2.CreateFromPem(host.CaPem);
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 128,
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
        var client = new HttpClient(handler) { BaseAddress = host.Url, Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.AdminToken);
        return client;
    }

    private static string ListRv(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("metadata").GetProperty("resourceVersion").GetString()!;
    }

    private static double Pct(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static void Report(string name, double value, string unit) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-40} {value,10:F1} {unit}"));

    /// <summary>
    /// One watch on every EndpointSlice: counts events, tracks ready endpoints per Service, and completes the
    /// expectation "pod X appears in a slice with ready = R" with the time the event arrived.
    /// </summary>
    private sealed class SliceWatcher : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ConcurrentDictionary<string, int> _readyBySlice = new();
        private readonly ConcurrentDictionary<string, (bool Ready, TaskCompletionSource<long> Seen)> _expected = new();
        private readonly Task _reader;
        private long _events;

        public SliceWatcher(HttpClient http, string resourceVersion) => _reader = Task.Run(async () =>
        {
            try
            {
                using var response = await http.GetAsync($"/apis/discovery.k8s.io/v1/endpointslices?watch=true&allowWatchBookmarks=true&timeoutSeconds=3600&resourceVersion={resourceVersion}", HttpCompletionOption.ResponseHeadersRead, _stop.Token);
                response.EnsureSuccessStatusCode();
                _started.TrySetResult();
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(_stop.Token));
                while (await reader.ReadLineAsync(_stop.Token) is { } line)
                {
                    Handle(line, Stopwatch.GetTimestamp());
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception e)
            {
                _started.TrySetException(e);
                Console.Error.WriteLine("bench: slice watch failed: " + e.Message);
            }
        });

        public long SliceEvents => Interlocked.Read(ref _events);

        public Task StartedAsync() => _started.Task.WaitAsync(TimeSpan.FromSeconds(30));

        public Task<long> Expect(string pod, bool ready)
        {
            var tcs = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            _expected[pod] = (ready, tcs);
            return tcs.Task;
        }

        public async Task WaitCompleteAsync(int services, int perService, TimeSpan timeout)
        {
            var sw = Stopwatch.StartNew();
            while (_readyBySlice.Count(kv => kv.Value == perService) < services)
            {
                if (sw.Elapsed > timeout)
                {
                    throw new TimeoutException($"only {_readyBySlice.Count(kv => kv.Value == perService)} of {services} Services complete");
                }
                await Task.Delay(20);
            }
        }

        private void Handle(string line, long at)
        {
            using var doc = JsonDocument.Parse(line);
            var type = doc.RootElement.GetProperty("type").GetString();
            if (type is "BOOKMARK" or "ERROR")
            {
                return;
            }
            Interlocked.Increment(ref _events);
            var obj = doc.RootElement.GetProperty("object");
            var meta = obj.GetProperty("metadata");
            var key = meta.GetProperty("namespace").GetString() + "/" + meta.GetProperty("name").GetString();
            var ready = 0;
            if (obj.TryGetProperty("endpoints", out var endpoints) && endpoints.ValueKind == JsonValueKind.Array)
            {
                foreach (var e in endpoints.EnumerateArray())
                {
                    var isReady = e.TryGetProperty("conditions", out var c) && c.TryGetProperty("ready", out var r) && r.ValueKind == JsonValueKind.True;
                    ready += isReady ? 1 : 0;
                    if (!_expected.IsEmpty && e.TryGetProperty("targetRef", out var target) && target.TryGetProperty("name", out var name)
                        && _expected.TryGetValue(name.GetString()!, out var want) && want.Ready == isReady && _expected.TryRemove(name.GetString()!, out _))
                    {
                        want.Seen.TrySetResult(at);
                    }
                }
            }
            if (type == "DELETED")
            {
                _readyBySlice.TryRemove(key, out _);
            }
            else
            {
                _readyBySlice[key] = ready;
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            try
            {
                _reader.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
            }
            _stop.Dispose();
        }
    }
}
