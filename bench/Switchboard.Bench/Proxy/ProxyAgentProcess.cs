using System.Globalization;
using System.Net;
using System.Text;
using k8s;
using Switchboard.Netfilter;
using Switchboard.Netfilter.Conntrack;
using Switchboard.Proxy.Hosting;
using Switchboard.Proxy.Model;

namespace Switchboard.Bench.Proxy;

/// <summary>
/// The child process of <c>proxy sync</c>: the real <see cref="ProxyServer"/> (informers → trackers → generator →
/// bounded-frequency runner → <c>nft -f</c> in the bench's namespace), alone in its process so VmRSS is the proxy's.
/// Writes one <c>SYNC</c> line per successful sync (timings from the proxier, network programming latencies
/// computed like the metric) and answers <c>rss</c> / <c>gc-rss</c> on stdin.
/// Usage: <c>proxy agent KUBECONFIG NETNS TABLE MIN_SYNC_MS</c>.
/// </summary>
internal static class ProxyAgentProcess
{
    public static async Task<int> RunAsync(string[] args)
    {
        var (kubeconfig, netns, table) = (args[0], args[1], args[2]);
        var minSync = TimeSpan.FromMilliseconds(int.Parse(args[3], CultureInfo.InvariantCulture));
        using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
        var proxy = new ProxyServer(
            client,
            new ProxyServerOptions
            {
                NodeName = "bench-node",
                NodeIps = [IPAddress.Parse("10.0.0.2")],
                ClusterCidrs = [IPNetwork.Parse("10.128.0.0/9")],
                TableName = table,
                MinSyncPeriod = minSync,
                HealthzBindAddress = new IPEndPoint(IPAddress.Loopback, 0),
                MetricsBindAddress = new IPEndPoint(IPAddress.Loopback, 0),
                HealthCheckNodePortAddresses = [IPAddress.Loopback],
            },
            new Dictionary<IpFamily, INftables> { [IpFamily.IPv4] = new NftablesRunner(netns) },
            new ConntrackTool(netns));
        var stdout = Console.Out;
        var proxier = proxy.Proxiers[0];
        var inner = proxier.Synced;
        proxier.Synced = o =>
        {
            inner?.Invoke(o);
            var now = DateTimeOffset.UtcNow;
            var t = o.Timings;
            var sb = new StringBuilder(256);
            sb.Append(CultureInfo.InvariantCulture, $"SYNC full={(o.FullSync ? 1 : 0)} total_ms={t.Total.TotalMilliseconds:F2} apply_ms={t.Apply.TotalMilliseconds:F2} learn_ms={t.Learn.TotalMilliseconds:F2} stale_ms={t.StaleDelete.TotalMilliseconds:F2} build_ms={t.Build.TotalMilliseconds:F2} nft_ms={t.Nft.TotalMilliseconds:F2} ops={o.Transaction.Count} svc_changed={o.Services.UpdatedServices.Count} ep_changed={o.Endpoints.UpdatedServices.Count} lat_ms=");
            var first = true;
            foreach (var (_, times) in o.Endpoints.LastChangeTriggerTimes)
            {
                foreach (var trigger in times)
                {
                    sb.Append(first ? "" : ",").Append(((now - trigger).TotalMilliseconds).ToString("F1", CultureInfo.InvariantCulture));
                    first = false;
                }
            }
            if (o.Transaction.Count < 5000)
            {
                sb.Append(CultureInfo.InvariantCulture, $" script_bytes={NftScript.Write(o.Transaction).Length}");
            }
            lock (stdout)
            {
                stdout.WriteLine(sb.ToString());
                stdout.Flush();
            }
        };

        using var stop = new CancellationTokenSource();
        var run = proxy.RunAsync(stop.Token);
        while (proxy.MetricsEndPoint is null)
        {
            await Task.Delay(20);
        }
        Say($"READY metrics=http://{proxy.MetricsEndPoint}/metrics pid={Environment.ProcessId}");
        while (await Console.In.ReadLineAsync() is { } line)
        {
            if (line == "rss" || line == "gc-rss")
            {
                // The first full sync's SYNC line is written inside the sync; the agent gives memory back only
                // after it (ProxyServer's collection after big full syncs), and that is what "after the sync" means.
                await proxy.FirstSyncCompleted.WaitAsync(TimeSpan.FromSeconds(60));
                if (line == "gc-rss")
                {
                    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                    GC.WaitForPendingFinalizers();
                }
                var info = GC.GetGCMemoryInfo();
                Say(string.Create(CultureInfo.InvariantCulture,
                    $"RSS kind={line} vmrss_kb={Status("VmRSS")} vmhwm_kb={Status("VmHWM")} gc_heap_bytes={GC.GetTotalMemory(false)} gc_committed_bytes={info.TotalCommittedBytes} gc_heap_size_bytes={info.HeapSizeBytes}"));
            }
            else if (line == "quit")
            {
                break;
            }
        }
        await stop.CancelAsync();
        try
        {
            await run.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (OperationCanceledException)
        {
        }
        await proxy.DisposeAsync();
        return 0;

        void Say(string text)
        {
            lock (stdout)
            {
                stdout.WriteLine(text);
                stdout.Flush();
            }
        }
    }

    private static long Status(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
        return -1;
    }
}
